//! The customer decides how support may enter: `users.impersonation_requires_approval` (off
//! for everyone so far, as the design behaves), `support_access_grants` (requests, approvals
//! and windows opened by the customer) and `impersonations.grant_id`, the grant a session runs
//! under (none, for every session so far). Also `impersonations.last_activity_at`, for the idle
//! timeout: a session's last request, written at most every 30 seconds (the start, for
//! sessions so far).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    ImpersonationRequiresApproval,
}

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    GrantId,
    LastActivityAt,
    StartedAt,
}

#[derive(DeriveIden)]
enum SupportAccessGrants {
    Table,
    Id,
    UserId,
    RequestedById,
    Reason,
    Mode,
    RequestedMinutes,
    Status,
    CreatedAt,
    DecidedAt,
    ExpiresAt,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::ImpersonationRequiresApproval).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SupportAccessGrants::Table)
                    .col(string_len(SupportAccessGrants::Id, 36).primary_key())
                    .col(string_len(SupportAccessGrants::UserId, 36))
                    .col(string_len_null(SupportAccessGrants::RequestedById, 36))
                    .col(string_len(SupportAccessGrants::Reason, 2000))
                    .col(string_len(SupportAccessGrants::Mode, 16))
                    .col(integer(SupportAccessGrants::RequestedMinutes))
                    .col(string_len(SupportAccessGrants::Status, 16))
                    .col(timestamp_with_time_zone(SupportAccessGrants::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        SupportAccessGrants::DecidedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        SupportAccessGrants::ExpiresAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupportAccessGrants::Table, SupportAccessGrants::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                SupportAccessGrants::Table,
                                SupportAccessGrants::RequestedById,
                            )
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let t = || SupportAccessGrants::Table;
        manager
            .create_index(index("idx_grants_user", t(), &["user_id", "id"]))
            .await?;
        manager
            .create_index(index("idx_grants_status", t(), &["status", "id"]))
            .await?;
        manager
            .create_index(index("idx_grants_requested_by", t(), &["requested_by_id"]))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .add_column(string_len_null(Impersonations::GrantId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .add_column(timestamp_with_time_zone_null(
                        Impersonations::LastActivityAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Impersonations::Table)
                    .value(
                        Impersonations::LastActivityAt,
                        Expr::col(Impersonations::StartedAt),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_impersonations_grant",
                Impersonations::Table,
                &["grant_id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .drop_column(Impersonations::LastActivityAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_impersonations_grant")
                    .table(Impersonations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .drop_column(Impersonations::GrantId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SupportAccessGrants::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::ImpersonationRequiresApproval)
                    .to_owned(),
            )
            .await
    }
}
