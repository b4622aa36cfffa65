//! `events`: the log of what live subscribers are told (a session started, elevated or ended;
//! support access asked for or decided). Written in the transaction of the change it tells,
//! so an event exists if and only if its change committed. Every server reads it: on
//! PostgreSQL a `NOTIFY` sent in the same transaction carries each row as it commits (the
//! table fills what a listener missed while reconnecting); on SQLite, whose writers commit one
//! at a time, the rows are read in id order. Rows carry ids only; subscribers load what they
//! may see. Kept for a day.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Kind,
    AccountId,
    ImpersonationId,
    GrantId,
    NotificationId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Events as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(big_pk_auto(E::Id))
                    .col(string_len(E::Kind, 40))
                    .col(string_len_null(E::AccountId, 36))
                    .col(string_len_null(E::ImpersonationId, 36))
                    .col(string_len_null(E::GrantId, 36))
                    .col(string_len_null(E::NotificationId, 36))
                    .col(timestamp_with_time_zone(E::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_created_at")
                    .table(E::Table)
                    .col(E::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}
