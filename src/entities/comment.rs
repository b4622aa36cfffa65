use sea_orm::entity::prelude::*;

/// A comment on a business or on a lead: exactly one of `business_id` and `lead_id` is set.
/// While impersonating, `author_id` is the impersonator and `on_behalf_of_id` the target.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub business_id: Option<String>,
    pub lead_id: Option<String>,
    pub author_id: String,
    pub on_behalf_of_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub is_impersonated: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
