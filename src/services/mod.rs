//! The logic, over SeaORM. Services take a connection or transaction and return `AppResult`.
pub mod accounts;
pub mod activity;
pub mod attribution;
pub mod audit;
pub mod authentication;
pub mod businesses;
pub mod comments;
pub mod impersonation;
pub mod leads;
pub mod live;
pub mod memberships;
pub mod notifications;
pub mod outbox;
pub mod pagination;
pub mod profile;
pub mod session_ends;
pub mod sessions;
pub mod settings;
pub mod support_access;
pub mod teams;
pub mod throttle;
pub mod two_factor;
pub mod users;
pub mod validation;

use chrono::{DateTime, SubsecRound, Utc};

/// A new primary key: a UUIDv7, so ids sort by creation time (used by cursors).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Timestamps are stored at microsecond precision, the finest PostgreSQL keeps, so a value
/// read back equals the value written on both databases.
pub fn db_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Starts a mutation's transaction. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that reads and then writes can fail with
/// SQLITE_BUSY at once instead of waiting for the busy timeout. PostgreSQL ignores the mode.
pub async fn write_txn(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
