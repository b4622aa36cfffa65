use sea_orm::entity::prelude::*;

use super::impersonation_review::ReviewStatus;

/// A super admin's request to unmark an account (no more four-eyes review for it), decided by
/// a second super admin. Approved, it is applied at once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_requirement_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The account to unmark.
    pub user_id: String,
    pub requester_id: String,
    pub reason: String,
    /// PENDING, APPROVED (applied), DENIED; a PENDING row past `expires_at` is EXPIRED.
    pub status: ReviewStatus,
    pub reviewer_id: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
