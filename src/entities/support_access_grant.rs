use sea_orm::entity::prelude::*;

use super::impersonation::Mode;

/// A customer's permission for support to enter their account: asked for by an admin
/// (`requested_by_id`) and decided by the customer, or opened by the customer unasked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "support_access_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose account it opens.
    pub user_id: String,
    /// The admin who asked; none when the customer opened the window unasked (any admin).
    pub requested_by_id: Option<String>,
    pub reason: String,
    pub mode: Mode,
    pub requested_minutes: i32,
    /// As stored. A PENDING or APPROVED row past `expires_at` is EXPIRED: see
    /// `services::support_access::status`.
    pub status: Status,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    /// Pending: when the request lapses. Approved: the end of the window. Revoked: when it
    /// was revoked.
    pub expires_at: Option<DateTimeUtc>,
    /// The support ticket it was asked for, if any.
    pub ticket: Option<String>,
}

/// Where a grant stands. The same enum is the GraphQL `SupportAccessStatus`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "SupportAccessStatus")]
pub enum Status {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "DENIED")]
    Denied,
    #[sea_orm(string_value = "REVOKED")]
    Revoked,
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Denied => "DENIED",
            Status::Revoked => "REVOKED",
            Status::Expired => "EXPIRED",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
