//! A user's teams are listed in membership order (`me.teams`): an index on
//! `team_members (user_id, id)` serves the filter and the order, so the list is never sorted
//! in full.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    UserId,
    Id,
}

const NAME: &str = "idx_team_members_user_id_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(TeamMembers::Table)
                    .col(TeamMembers::UserId)
                    .col(TeamMembers::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(TeamMembers::Table)
                    .to_owned(),
            )
            .await
    }
}
