//! Authentication and authorization: tokens, passwords, TOTP, the per-request `AuthContext`,
//! the guards resolvers use, and the impersonation policy.
pub mod context;
pub mod guards;
pub mod password;
pub mod policy;
pub mod tokens;
pub mod totp;

pub use context::AuthContext;

use async_graphql::Enum;

/// A user's role. Stored as its SCREAMING_CASE name.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Admin,
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Admin => "ADMIN",
            Role::SuperAdmin => "SUPER_ADMIN",
        }
    }

    /// Unknown stored values degrade to the least privilege.
    pub fn parse(s: &str) -> Role {
        match s {
            "ADMIN" => Role::Admin,
            "SUPER_ADMIN" => Role::SuperAdmin,
            _ => Role::User,
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }
}
