//! Failed-attempt counters for rate limiting (failed logins per email, failed TOTP codes per
//! user), kept in the database so every server sharing it enforces the same limit.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthFailures {
    Table,
    Id,
    Scope,
    Subject,
    Failures,
    LockedUntil,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthFailures::Table)
                    .col(string_len(AuthFailures::Id, 36).primary_key())
                    .col(string_len(AuthFailures::Scope, 16))
                    .col(string_len(AuthFailures::Subject, 320))
                    .col(integer(AuthFailures::Failures).default(0))
                    .col(timestamp_with_time_zone_null(AuthFailures::LockedUntil))
                    .col(timestamp_with_time_zone(AuthFailures::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_auth_failures_scope_subject")
                    .table(AuthFailures::Table)
                    .col(AuthFailures::Scope)
                    .col(AuthFailures::Subject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthFailures::Table).to_owned())
            .await
    }
}
