use sea_orm::entity::prelude::*;

/// Settings of impersonation for everyone: one row, id `global`. In the database, not in a
/// process, so the kill switch holds on every server sharing it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonation_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub enabled: bool,
    pub updated_at: Option<DateTimeUtc>,
    pub updated_by_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
