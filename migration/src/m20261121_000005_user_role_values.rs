//! `users.role` holds only USER, ADMIN or SUPER_ADMIN from now on (the code reads it as an
//! enum): any other stored value becomes USER, the least privilege (what the code used to
//! read it as), and PostgreSQL enforces the list with a CHECK constraint. (SQLite would need
//! the table rebuilt to add one; there the enum mapping refuses unknown values on read.)
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Role,
}

const ROLES: [&str; 3] = ["USER", "ADMIN", "SUPER_ADMIN"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::update()
                    .table(Users::Table)
                    .value(Users::Role, "USER")
                    .and_where(Expr::col(Users::Role).is_not_in(ROLES))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE users ADD CONSTRAINT users_role_check \
                     CHECK (role IN ('USER', 'ADMIN', 'SUPER_ADMIN'))",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE users DROP CONSTRAINT users_role_check")
                .await?;
        }
        Ok(())
    }
}
