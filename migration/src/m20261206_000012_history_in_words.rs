//! The customer's history, in words: a session keeps the mode it started in, when and why it
//! was allowed to make changes, and the support ticket it was for (`impersonations`); a
//! customer's grant keeps its ticket (`support_access_grants`); an operation keeps the record
//! it was about, by kind and id only (`impersonation_activities.subject_*`), so that the
//! history can name it.
//!
//! Rows written before: a session's starting mode is its mode, unless it was elevated, in
//! which case it started read-only, and its elevation's time and reason come from the
//! `IMPERSONATION_ELEVATED` audit row.
use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    InitialMode,
    ElevatedAt,
    ElevationReason,
    Ticket,
}

#[derive(DeriveIden)]
enum SupportAccessGrants {
    Table,
    Ticket,
}

#[derive(DeriveIden)]
enum ImpersonationActivities {
    Table,
    SubjectType,
    SubjectId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let adds: Vec<(TableRef, ColumnDef)> = vec![
            (
                Impersonations::Table.into_table_ref(),
                string_len_null(Impersonations::InitialMode, 16),
            ),
            (
                Impersonations::Table.into_table_ref(),
                timestamp_with_time_zone_null(Impersonations::ElevatedAt),
            ),
            (
                Impersonations::Table.into_table_ref(),
                string_len_null(Impersonations::ElevationReason, 500),
            ),
            (
                Impersonations::Table.into_table_ref(),
                string_len_null(Impersonations::Ticket, 100),
            ),
            (
                SupportAccessGrants::Table.into_table_ref(),
                string_len_null(SupportAccessGrants::Ticket, 100),
            ),
            (
                ImpersonationActivities::Table.into_table_ref(),
                string_len_null(ImpersonationActivities::SubjectType, 16),
            ),
            (
                ImpersonationActivities::Table.into_table_ref(),
                string_len_null(ImpersonationActivities::SubjectId, 36),
            ),
        ];
        for (table, mut col) in adds {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        let reason = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "(a.details::json ->> 'reason')",
            _ => "json_extract(a.details, '$.reason')",
        };
        let elevation = "FROM audit_logs a WHERE a.entity_type = 'Impersonation' \
             AND a.entity_id = impersonations.id AND a.action = 'IMPERSONATION_ELEVATED'";
        db.execute_unprepared(&format!(
            "UPDATE impersonations SET \
               initial_mode = 'READ_ONLY', \
               elevated_at = (SELECT MIN(a.created_at) {elevation}), \
               elevation_reason = (SELECT {reason} {elevation} ORDER BY a.id LIMIT 1) \
             WHERE EXISTS (SELECT 1 {elevation})"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE impersonations SET initial_mode = mode WHERE initial_mode IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drops: Vec<(TableRef, DynIden)> = vec![
            (
                Impersonations::Table.into_table_ref(),
                Impersonations::InitialMode.into_iden(),
            ),
            (
                Impersonations::Table.into_table_ref(),
                Impersonations::ElevatedAt.into_iden(),
            ),
            (
                Impersonations::Table.into_table_ref(),
                Impersonations::ElevationReason.into_iden(),
            ),
            (
                Impersonations::Table.into_table_ref(),
                Impersonations::Ticket.into_iden(),
            ),
            (
                SupportAccessGrants::Table.into_table_ref(),
                SupportAccessGrants::Ticket.into_iden(),
            ),
            (
                ImpersonationActivities::Table.into_table_ref(),
                ImpersonationActivities::SubjectType.into_iden(),
            ),
            (
                ImpersonationActivities::Table.into_table_ref(),
                ImpersonationActivities::SubjectId.into_iden(),
            ),
        ];
        for (table, col) in drops {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
