use sea_orm::entity::prelude::*;

// The same enum is the GraphQL `Role`: one list of roles, not two to keep in step.
/// A user's role. Stored as its SCREAMING_CASE name.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    #[sea_orm(string_value = "USER")]
    User,
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "SUPER_ADMIN")]
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

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }
}
