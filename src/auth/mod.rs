//! Authentication and authorization: tokens, passwords, TOTP, the per-request `AuthContext`
//! and the impersonation policy. The guards resolvers use are GraphQL glue: `graphql::guards`.
pub mod context;
pub mod password;
pub mod policy;
pub mod proof;
pub mod step_up;
pub mod tokens;
pub mod totp;

pub use context::AuthContext;

pub use crate::entities::role::Role;
