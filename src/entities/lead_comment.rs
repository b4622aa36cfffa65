use sea_orm::entity::prelude::*;

/// While impersonating, `author_id` is the impersonator and `on_behalf_of_id` the target.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lead_id: String,
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
