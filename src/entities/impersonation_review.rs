use sea_orm::entity::prelude::*;

use super::impersonation::Mode;

/// A second admin's review of a session into a sensitive account: asked for by one admin
/// (`requester_id`), decided by another (`reviewer_id`), used by one session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonation_reviews")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub requester_id: String,
    /// Whose account the session would enter.
    pub target_id: String,
    pub reason: String,
    pub ticket: Option<String>,
    pub mode: Mode,
    /// The session's lifetime once started.
    pub minutes: i32,
    /// As stored. A PENDING or APPROVED row past `expires_at` is EXPIRED: see
    /// `services::review::status`.
    pub status: ReviewStatus,
    pub reviewer_id: Option<String>,
    /// The reviewer's words (required on denial).
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    /// Pending: when it lapses. Approved: the last moment to start the session.
    pub expires_at: DateTimeUtc,
    /// The session it was used for.
    pub impersonation_id: Option<String>,
}

/// Where a review stands. The same enum is the GraphQL `ImpersonationReviewStatus`.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "ImpersonationReviewStatus")]
pub enum ReviewStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "DENIED")]
    Denied,
    #[sea_orm(string_value = "EXPIRED")]
    Expired,
    #[sea_orm(string_value = "USED")]
    Used,
    #[sea_orm(string_value = "WITHDRAWN")]
    Withdrawn,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "PENDING",
            ReviewStatus::Approved => "APPROVED",
            ReviewStatus::Denied => "DENIED",
            ReviewStatus::Expired => "EXPIRED",
            ReviewStatus::Used => "USED",
            ReviewStatus::Withdrawn => "WITHDRAWN",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
