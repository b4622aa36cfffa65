//! Four-eyes review: `users.impersonation_review_required` (a super admin marks sensitive
//! accounts; none so far), `impersonation_reviews` (an admin asks, a second admin decides, one
//! session uses it) and `impersonations.review_id`, the review a session was started under
//! (none, for every session so far).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    ImpersonationReviewRequired,
}

#[derive(DeriveIden)]
enum Impersonations {
    Table,
    ReviewId,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    ReviewId,
}

#[derive(DeriveIden)]
enum ImpersonationReviews {
    Table,
    Id,
    RequesterId,
    TargetId,
    Reason,
    Ticket,
    Mode,
    Minutes,
    Status,
    ReviewerId,
    Note,
    CreatedAt,
    DecidedAt,
    ExpiresAt,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::ImpersonationReviewRequired).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .add_column(string_len_null(Impersonations::ReviewId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(string_len_null(Events::ReviewId, 36))
                    .to_owned(),
            )
            .await?;
        use ImpersonationReviews as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(string_len(R::Id, 36).primary_key())
                    .col(string_len(R::RequesterId, 36))
                    .col(string_len(R::TargetId, 36))
                    .col(string_len(R::Reason, 500))
                    .col(string_len_null(R::Ticket, 100))
                    .col(string_len(R::Mode, 16))
                    .col(integer(R::Minutes))
                    .col(string_len(R::Status, 16))
                    .col(string_len_null(R::ReviewerId, 36))
                    .col(string_len_null(R::Note, 500))
                    .col(timestamp_with_time_zone(R::CreatedAt))
                    .col(timestamp_with_time_zone_null(R::DecidedAt))
                    .col(timestamp_with_time_zone(R::ExpiresAt))
                    .col(string_len_null(R::ImpersonationId, 36))
                    .to_owned(),
            )
            .await?;
        // The reviews an admin may use on a target (`impersonate`), and the admins' list by
        // status, newest first.
        manager
            .create_index(index(
                "idx_reviews_requester_target",
                R::Table,
                &["requester_id", "target_id", "status"],
            ))
            .await?;
        manager
            .create_index(index("idx_reviews_status", R::Table, &["status", "id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImpersonationReviews::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .drop_column(Events::ReviewId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Impersonations::Table)
                    .drop_column(Impersonations::ReviewId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::ImpersonationReviewRequired)
                    .to_owned(),
            )
            .await
    }
}
