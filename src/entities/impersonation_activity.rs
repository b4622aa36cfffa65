use sea_orm::entity::prelude::*;

/// One GraphQL operation made with an impersonation token: never variable values or the
/// query text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonation_activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub impersonation_id: String,
    pub at: DateTimeUtc,
    /// query, mutation or subscription.
    pub operation_type: String,
    pub operation_name: Option<String>,
    /// The top-level fields asked for, as a JSON array of names.
    #[sea_orm(column_type = "Text")]
    pub fields: String,
    /// OK, or the first error's code.
    pub outcome: String,
    /// The record the operation was about (`lead`, `business`, `team`), by id only, from its
    /// first field's id argument: so that the customer's history can name it.
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
