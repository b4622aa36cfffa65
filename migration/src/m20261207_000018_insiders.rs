//! Against one insider:
//! - `users.role_changed_at` / `role_changed_by`: when a role was last set and by whom, so that
//!   a review counts only from someone who held the rights before it was asked, and never
//!   from an account whose role the requester set. Existing accounts: neither (their rights
//!   date from the account's creation, set by nobody here).
//! - `review_requirement_changes`: unmarking an account asks a second super admin (PENDING,
//!   then APPROVED and applied, DENIED, or EXPIRED). None yet.
//! - `webhook_deliveries.target_url` / `target_secret`: a delivery that carries its own
//!   address and (sealed) secret, for the endpoint that is changed, switched off or deleted:
//!   it is told as it was, before the change. Existing deliveries: neither.
//! - `webhook_deliveries.claim_token`: the fencing token of the sender holding a claim; only
//!   that sender may record the outcome. Existing deliveries: none (unclaimed).
//! - `webhook_endpoints.timeouts_in_row` / `held_until`: an endpoint that keeps timing out is
//!   held back for a while (a circuit breaker) without delaying the others. Existing: 0, none.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    RoleChangedAt,
    RoleChangedBy,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    TargetUrl,
    TargetSecret,
    ClaimToken,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    TimeoutsInRow,
    HeldUntil,
}

#[derive(DeriveIden)]
enum ReviewRequirementChanges {
    Table,
    Id,
    UserId,
    RequesterId,
    Reason,
    Status,
    ReviewerId,
    Note,
    CreatedAt,
    DecidedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::RoleChangedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Users::RoleChangedBy, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .add_column(text_null(WebhookDeliveries::TargetUrl))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .add_column(text_null(WebhookDeliveries::TargetSecret))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .add_column(string_len_null(WebhookDeliveries::ClaimToken, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(integer(WebhookEndpoints::TimeoutsInRow).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(timestamp_with_time_zone_null(WebhookEndpoints::HeldUntil))
                    .to_owned(),
            )
            .await?;
        use ReviewRequirementChanges as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(string_len(R::Id, 36).primary_key())
                    .col(string_len(R::UserId, 36))
                    .col(string_len(R::RequesterId, 36))
                    .col(string_len(R::Reason, 500))
                    .col(string_len(R::Status, 16))
                    .col(string_len_null(R::ReviewerId, 36))
                    .col(string_len_null(R::Note, 500))
                    .col(timestamp_with_time_zone(R::CreatedAt))
                    .col(timestamp_with_time_zone_null(R::DecidedAt))
                    .col(timestamp_with_time_zone(R::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_requirement_changes_status")
                    .table(R::Table)
                    .col(R::Status)
                    .col(R::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ReviewRequirementChanges::Table)
                    .to_owned(),
            )
            .await?;
        for (t, c) in [
            (Users::Table.into_iden(), Users::RoleChangedAt.into_iden()),
            (Users::Table.into_iden(), Users::RoleChangedBy.into_iden()),
            (
                WebhookDeliveries::Table.into_iden(),
                WebhookDeliveries::TargetUrl.into_iden(),
            ),
            (
                WebhookDeliveries::Table.into_iden(),
                WebhookDeliveries::TargetSecret.into_iden(),
            ),
            (
                WebhookDeliveries::Table.into_iden(),
                WebhookDeliveries::ClaimToken.into_iden(),
            ),
            (
                WebhookEndpoints::Table.into_iden(),
                WebhookEndpoints::TimeoutsInRow.into_iden(),
            ),
            (
                WebhookEndpoints::Table.into_iden(),
                WebhookEndpoints::HeldUntil.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(t).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
