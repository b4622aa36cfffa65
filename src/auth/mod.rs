//! Authentication and authorization: tokens, passwords, TOTP, the per-request `AuthContext`,
//! the guards resolvers use, and the impersonation policy.
pub mod context;
pub mod guards;
pub mod password;
pub mod policy;
pub mod tokens;
pub mod totp;

pub use context::AuthContext;

pub use crate::entities::role::Role;
