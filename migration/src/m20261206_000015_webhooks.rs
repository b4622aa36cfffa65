//! Webhooks: `webhook_endpoints` (a super admin's receivers: URL, the events they want, the
//! signing secret and, for 24 hours after a rotation, the previous one) and
//! `webhook_deliveries` (the outbox: one row per event per endpoint, written in the
//! transaction of the change it tells, sent at least once by whichever server claims it). No
//! endpoint exists yet.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Description,
    Events,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    Enabled,
    DisabledAt,
    FailingSince,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastStatusCode,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WebhookEndpoints as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(string_len(E::Id, 36).primary_key())
                    .col(string_len(E::Url, 2000))
                    .col(string_len_null(E::Description, 500))
                    .col(text(E::Events))
                    .col(string_len(E::Secret, 100))
                    .col(string_len_null(E::PreviousSecret, 100))
                    .col(timestamp_with_time_zone_null(E::PreviousSecretUntil))
                    .col(boolean(E::Enabled))
                    .col(timestamp_with_time_zone_null(E::DisabledAt))
                    .col(timestamp_with_time_zone_null(E::FailingSince))
                    .col(string_len(E::CreatedBy, 36))
                    .col(timestamp_with_time_zone(E::CreatedAt))
                    .col(timestamp_with_time_zone(E::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Every security event asks which endpoints are on (`webhooks::emit`).
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_enabled")
                    .table(E::Table)
                    .col(E::Enabled)
                    .to_owned(),
            )
            .await?;
        use WebhookDeliveries as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(string_len(D::Id, 40).primary_key())
                    .col(string_len(D::EndpointId, 36))
                    .col(string_len(D::EventType, 64))
                    .col(text(D::Payload))
                    .col(string_len(D::Status, 16))
                    .col(integer(D::Attempts))
                    .col(timestamp_with_time_zone(D::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(D::ClaimedUntil))
                    .col(integer_null(D::LastStatusCode))
                    .col(string_len_null(D::LastError, 500))
                    .col(timestamp_with_time_zone(D::CreatedAt))
                    .col(timestamp_with_time_zone_null(D::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        // The senders' scan (due, pending) and an endpoint's recent deliveries.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(D::Table)
                    .col(D::Status)
                    .col(D::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_endpoint")
                    .table(D::Table)
                    .col(D::EndpointId)
                    .col(D::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
