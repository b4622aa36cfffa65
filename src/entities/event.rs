use sea_orm::entity::prelude::*;

/// Something live subscribers are told, by ids (see `crate::events`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    /// The customer whose account it is about.
    pub account_id: Option<String>,
    pub impersonation_id: Option<String>,
    pub grant_id: Option<String>,
    pub notification_id: Option<String>,
    pub created_at: DateTimeUtc,
    /// The second admin's review it is about (`REVIEW_REQUESTED`, `REVIEW_DECIDED`).
    pub review_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
