//! Database connection: pool settings for SQLite and PostgreSQL.
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::Config;

/// Opens the pool. SQLite runs in WAL mode with a busy timeout and foreign keys on, so
/// several pooled connections can read while one writes.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(config.database_url.clone());
    opts.max_connections(config.db_max_connections)
        .min_connections(1)
        .acquire_timeout(config.db_acquire_timeout)
        .connect_timeout(config.db_acquire_timeout)
        // Statement logging would write bound values (hashes, codes) to the logs.
        .sqlx_logging(false)
        // A SQLite connection is a file handle that cannot drop: testing it before each use
        // only costs a round trip to its thread. PostgreSQL's are tested (a restarted server
        // leaves dead ones in the pool).
        .test_before_acquire(!config.database_url.starts_with("sqlite:"))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(opts).await
}
