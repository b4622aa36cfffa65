//! Secrets at rest are sealed (`crm::sealed`): a sealed webhook secret is longer than the 100
//! characters its columns held, so they become text on PostgreSQL (SQLite does not enforce a
//! length). The rows themselves are sealed by the server right after the migrations
//! (`crm::sealed::seal_existing`, run by `serve` and `migrate` at every start): the key lives
//! outside the database, where a migration cannot see it.
use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Secret,
    PreviousSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .modify_column(text(WebhookEndpoints::Secret))
                    .modify_column(text_null(WebhookEndpoints::PreviousSecret))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Sealed values do not fit the old width: the columns stay text.
        Ok(())
    }
}
