//! Read-only sessions and the kill switch: `impersonations.mode` (every session so far was
//! READ_WRITE), and `impersonation_settings`, one row that says whether impersonation is
//! switched on for everyone (it is).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    Mode,
}

#[derive(DeriveIden)]
enum ImpersonationSettings {
    Table,
    Id,
    Enabled,
    UpdatedAt,
    UpdatedById,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .add_column(string_len(Impersonations::Mode, 16).default("READ_WRITE"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImpersonationSettings::Table)
                    .col(string_len(ImpersonationSettings::Id, 16).primary_key())
                    .col(boolean(ImpersonationSettings::Enabled))
                    .col(timestamp_with_time_zone_null(
                        ImpersonationSettings::UpdatedAt,
                    ))
                    .col(string_len_null(ImpersonationSettings::UpdatedById, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ImpersonationSettings::Table)
                    .columns([ImpersonationSettings::Id, ImpersonationSettings::Enabled])
                    .values_panic(["global".into(), true.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImpersonationSettings::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .drop_column(Impersonations::Mode)
                    .to_owned(),
            )
            .await
    }
}
