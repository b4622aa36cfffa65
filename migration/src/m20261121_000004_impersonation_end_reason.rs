//! `impersonations.end_reason`: why a session ended, set with `ended_at`. Sessions ended
//! before this migration could only have been cancelled.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    EndedAt,
    EndReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .add_column(string_len_null(Impersonations::EndReason, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Impersonations::Table)
                    .value(Impersonations::EndReason, "CANCELLED")
                    .and_where(Expr::col(Impersonations::EndedAt).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .drop_column(Impersonations::EndReason)
                    .to_owned(),
            )
            .await
    }
}
