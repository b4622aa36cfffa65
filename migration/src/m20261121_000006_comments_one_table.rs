//! Comments become one table: `comments`, each on a business or on a lead (exactly one of
//! `business_id` and `lead_id`, both foreign keys). The rows of `business_comments` and
//! `lead_comments` move over, ids and times kept, and the two tables are dropped.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    BusinessId,
    LeadId,
    AuthorId,
    OnBehalfOfId,
    Text,
    IsImpersonated,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Businesses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BusinessComments {
    Table,
}

#[derive(DeriveIden)]
enum LeadComments {
    Table,
}

const COPY_BUSINESS: &str = "INSERT INTO comments \
    (id, business_id, lead_id, author_id, on_behalf_of_id, text, is_impersonated, created_at) \
    SELECT id, business_id, NULL, author_id, on_behalf_of_id, text, is_impersonated, created_at \
    FROM business_comments";
const COPY_LEAD: &str = "INSERT INTO comments \
    (id, business_id, lead_id, author_id, on_behalf_of_id, text, is_impersonated, created_at) \
    SELECT id, NULL, lead_id, author_id, on_behalf_of_id, text, is_impersonated, created_at \
    FROM lead_comments";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(string_len(Comments::Id, 36).primary_key())
                    .col(string_len_null(Comments::BusinessId, 36))
                    .col(string_len_null(Comments::LeadId, 36))
                    .col(string_len(Comments::AuthorId, 36))
                    .col(string_len_null(Comments::OnBehalfOfId, 36))
                    .col(text(Comments::Text))
                    .col(boolean(Comments::IsImpersonated).default(false))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .check(
                        Expr::col(Comments::BusinessId)
                            .is_null()
                            .ne(Expr::col(Comments::LeadId).is_null()),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::BusinessId)
                            .to(Businesses::Table, Businesses::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::LeadId)
                            .to(Leads::Table, Leads::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::OnBehalfOfId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_comments_business", Comments::BusinessId),
            ("idx_comments_lead", Comments::LeadId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Comments::Table)
                        .col(col)
                        .col(Comments::Id)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(COPY_BUSINESS).await?;
        db.execute_unprepared(COPY_LEAD).await?;
        manager
            .drop_table(Table::drop().table(BusinessComments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LeadComments::Table).to_owned())
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "comments cannot be split back into two tables".into(),
        ))
    }
}
