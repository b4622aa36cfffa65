//! What the customer sees of support: `impersonation_activities` (every operation made with an
//! impersonation token), `notifications` (told as it happens), `email_outbox` (the durable
//! queue of those notices to e-mail), and `audit_logs.impersonation_id` (the session a row was
//! written in). Rows written before are linked to their session: the session's own rows by
//! their entity, impersonated rows by who, on whose behalf and when.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ImpersonationActivities {
    Table,
    Id,
    ImpersonationId,
    At,
    OperationType,
    OperationName,
    Fields,
    Outcome,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    Message,
    CreatedAt,
    ReadAt,
    ImpersonationId,
    GrantId,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    NotificationId,
    ToAddress,
    Subject,
    Body,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum Impersonations {
    Table,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    ImpersonationId,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(Alias::new(*c));
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ImpersonationActivities as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(string_len(A::Id, 36).primary_key())
                    .col(string_len(A::ImpersonationId, 36))
                    .col(timestamp_with_time_zone(A::At))
                    .col(string_len(A::OperationType, 16))
                    .col(string_len_null(A::OperationName, 200))
                    .col(text(A::Fields))
                    .col(string_len(A::Outcome, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_activities_session",
                A::Table,
                &["impersonation_id", "id"],
            ))
            .await?;

        use Notifications as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(string_len(N::Id, 36).primary_key())
                    .col(string_len(N::UserId, 36))
                    .col(string_len(N::Kind, 40))
                    .col(string_len(N::Message, 2000))
                    .col(timestamp_with_time_zone(N::CreatedAt))
                    .col(timestamp_with_time_zone_null(N::ReadAt))
                    .col(string_len_null(N::ImpersonationId, 36))
                    .col(string_len_null(N::GrantId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_notifications_user",
                N::Table,
                &["user_id", "id"],
            ))
            .await?;

        use EmailOutbox as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(string_len(E::Id, 36).primary_key())
                    .col(string_len_null(E::NotificationId, 36))
                    .col(string_len(E::ToAddress, 320))
                    .col(string_len(E::Subject, 300))
                    .col(text(E::Body))
                    .col(timestamp_with_time_zone(E::CreatedAt))
                    .col(integer(E::Attempts).default(0))
                    .col(timestamp_with_time_zone(E::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(E::ClaimedUntil))
                    .col(timestamp_with_time_zone_null(E::SentAt))
                    .col(string_len_null(E::LastError, 500))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_outbox_due",
                E::Table,
                &["sent_at", "next_attempt_at"],
            ))
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(AuditLogs::Table)
                    .add_column(string_len_null(AuditLogs::ImpersonationId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_logs_session",
                AuditLogs::Table,
                &["impersonation_id", "id"],
            ))
            .await?;
        // The customer's access history: sessions into one account, newest first.
        manager
            .create_index(index(
                "idx_impersonations_target",
                Impersonations::Table,
                &["impersonated_user_id", "id"],
            ))
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE audit_logs SET impersonation_id = entity_id \
             WHERE entity_type = 'Impersonation'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE audit_logs SET impersonation_id = (\
               SELECT i.id FROM impersonations i \
               WHERE i.impersonator_id = audit_logs.actor_id \
                 AND i.impersonated_user_id = audit_logs.on_behalf_of_id \
                 AND i.started_at <= audit_logs.created_at \
                 AND (i.ended_at IS NULL OR i.ended_at >= audit_logs.created_at) \
               ORDER BY i.started_at DESC LIMIT 1) \
             WHERE is_impersonated = true AND impersonation_id IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_impersonations_target")
                    .table(Impersonations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_audit_logs_session")
                    .table(AuditLogs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLogs::Table)
                    .drop_column(AuditLogs::ImpersonationId)
                    .to_owned(),
            )
            .await?;
        for t in [
            EmailOutbox::Table.into_iden(),
            Notifications::Table.into_iden(),
            ImpersonationActivities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
