//! The database: the connection and its pool settings for SQLite and PostgreSQL, ids and
//! stored times, and the write transaction every change goes through (`write`).
mod rows;
pub mod sqlite;
mod write;
pub mod writer;

pub use write::{
    ActingIn, Db, WriteTxn, acting_in, record, record_txn, write, write_probe, write_txn,
};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::Config;

/// Opens the database. PostgreSQL: sqlx's pool. SQLite: rusqlite behind SeaORM's proxy
/// connection (`db::sqlite`): reads on each thread's own connection, writes on the writer
/// thread, in WAL mode with a busy timeout and foreign keys on.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if let Some(path) = sqlite::path_of(&config.database_url) {
        return sqlite::connect(path).await;
    }
    let mut opts = ConnectOptions::new(config.database_url.clone());
    opts.max_connections(config.db_max_connections)
        .min_connections(1)
        .acquire_timeout(config.db_acquire_timeout)
        .connect_timeout(config.db_acquire_timeout)
        // Statement logging would write bound values (hashes, codes) to the logs.
        .sqlx_logging(false);
    Database::connect(opts).await
}

/// A connection to a database URL with default settings (tools and tests).
pub async fn connect_url(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    match sqlite::path_of(url) {
        Some(path) => sqlite::connect(path).await,
        None => Database::connect(url).await,
    }
}

/// The writer thread of a `sqlite:` URL's file (`db::writer`), shared with its connections.
pub fn sqlite_writer(url: &str) -> Option<writer::Writer> {
    let path = sqlite::path_of(url)?;
    match sqlite::store(path) {
        Ok(s) => Some(s.writer.clone()),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the SQLite writer");
            None
        }
    }
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

/// Adds every column of `E`, read from the table aliased `table`, to a hand-built `SELECT`,
/// each named `{prefix}{column}`: the names `FromQueryResult::from_query_result(row, prefix)`
/// reads back. For one statement that reads several rows joined (the per-operation re-check
/// of a session, `services::impersonation::session`).
pub fn select_prefixed<E: sea_orm::EntityTrait>(
    q: &mut sea_orm::sea_query::SelectStatement,
    table: &str,
    prefix: &str,
) {
    use sea_orm::sea_query::{Alias, Expr};
    use sea_orm::{IdenStatic, Iterable};
    for c in E::Column::iter() {
        q.expr_as(
            Expr::col((Alias::new(table), c)),
            Alias::new(format!("{prefix}{}", c.as_str())),
        );
    }
}
