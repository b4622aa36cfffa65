//! `readiness_probes`: one row per server, rewritten by `/ready`, so that readiness proves the
//! database takes writes (a full disk or a read-only database answers 503), not only that it
//! answers a ping. And `webauthn_challenges.target_id`: a step-up challenge may name the
//! customer it is for, and then proves an operation on that customer only (existing
//! challenges name none, as before).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebauthnChallenges {
    Table,
    TargetId,
}

#[derive(DeriveIden)]
enum ReadinessProbes {
    Table,
    Server,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReadinessProbes::Table)
                    .col(string_len(ReadinessProbes::Server, 64).primary_key())
                    .col(timestamp_with_time_zone(ReadinessProbes::At))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebauthnChallenges::Table)
                    .add_column(string_len_null(WebauthnChallenges::TargetId, 36))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WebauthnChallenges::Table)
                    .drop_column(WebauthnChallenges::TargetId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ReadinessProbes::Table).to_owned())
            .await
    }
}
