//! The database: the connection and its pool settings for SQLite and PostgreSQL, ids and
//! stored times, and the write transaction every change goes through (`write`).
mod write;

use std::time::Duration;
pub use write::{ActingIn, WriteTxn, acting_in, record_txn, write_txn};

use chrono::{DateTime, SubsecRound, Utc};
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

/// A new primary key: a UUIDv7, so ids sort by creation time (used by cursors).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Timestamps are stored at microsecond precision, the finest PostgreSQL keeps, so a value
/// read back equals the value written on both databases.
pub fn db_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}
