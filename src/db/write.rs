//! The write transaction: one per mutation (on SQLite a job on the writer thread), and the
//! check that an impersonation session still runs, inside the write's own transaction.
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::clock::SharedClock;
use crate::error::{AppError, AppResult};

/// What a write needs of the server: the connection, the SQLite writer thread (if any) and
/// the clock, and nothing else (not the whole `AppState`, which stands above this layer).
/// `&AppState` turns into one (`From` in `state.rs`), so callers pass the state as before.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    pub conn: &'a sea_orm::DatabaseConnection,
    pub writer: Option<&'a super::writer::Writer>,
    pub clock: &'a SharedClock,
}

/// A write: the transaction of a mutation (its change and its audit row commit together or
/// not at all). On SQLite it is a job on the writer thread (`db::writer`: its own savepoint
/// in a group-committed batch); on PostgreSQL a transaction of the pool. Dropped without
/// `commit`, it rolls back.
pub struct WriteTxn(Inner);

enum Inner {
    Pool(DatabaseTransaction),
    Writer(super::writer::Job),
    /// Inside `write`'s work on the writer thread; `commit` marks it to be kept.
    Local(
        super::writer::Local,
        std::sync::Arc<std::sync::atomic::AtomicBool>,
    ),
}

impl WriteTxn {
    /// Commits; on SQLite, answered once the batch holding it has committed.
    pub async fn commit(self) -> Result<(), DbErr> {
        match self.0 {
            Inner::Pool(txn) => txn.commit().await,
            Inner::Writer(job) => job.commit().await,
            Inner::Local(_, keep) => {
                keep.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    }

    /// Rolls back now.
    pub async fn rollback(self) -> Result<(), DbErr> {
        match self.0 {
            Inner::Pool(txn) => txn.rollback().await,
            Inner::Writer(job) => {
                job.rollback();
                Ok(())
            }
            Inner::Local(..) => Ok(()),
        }
    }
}

tokio::task_local! {
    /// The impersonation session the running operation acts in, set by the operation gate
    /// (`graphql::gate`) around each operation made with an impersonation token.
    static ACTING_IN: String;
}

/// Runs `f` (one operation) as acting in impersonation session `session`: every `write_txn`
/// it opens checks, inside its own transaction, that the session still runs.
pub async fn acting_in<F: std::future::Future>(session: Option<String>, f: F) -> F::Output {
    match session {
        Some(id) => ACTING_IN.scope(id, f).await,
        None => f.await,
    }
}

/// The same for a stream (a subscription, or any operation over the socket): each poll runs
/// as acting in the session.
pub struct ActingIn<S> {
    pub session: Option<String>,
    pub inner: S,
}

impl<S: futures_util::Stream + Unpin> futures_util::Stream for ActingIn<S> {
    type Item = S::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        use futures_util::StreamExt;
        let this = &mut *self;
        match &this.session {
            Some(id) => ACTING_IN.sync_scope(id.clone(), || this.inner.poll_next_unpin(cx)),
            None => this.inner.poll_next_unpin(cx),
        }
    }
}

/// A mutation's write: `write_txn`, for every write an operation makes. When the operation
/// acts in an impersonation session, the session is read again inside the transaction (its
/// row locked on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the one write lock), and
/// a session that ended or expired meanwhile refuses the write (`UNAUTHENTICATED`): an end
/// committed first (`cancelImpersonation`, a revoke, `endImpersonation`, the kill switch)
/// always wins, on every server.
pub async fn write_txn<'a>(db: impl Into<Db<'a>>) -> AppResult<WriteTxn> {
    checked_txn(db.into(), ACTING_IN.try_with(Clone::clone).ok()).await
}

/// `record_txn`, then the check that `session` (if any) still runs.
async fn checked_txn(db: Db<'_>, session: Option<String>) -> AppResult<WriteTxn> {
    let txn = record_txn(db).await?;
    if let Some(session) = session {
        still_running(&txn, db.clock.now(), session).await?;
    }
    Ok(txn)
}

/// The session the write acts in has not ended or expired: read inside the write's own
/// transaction (its row locked on PostgreSQL).
async fn still_running(
    txn: &WriteTxn,
    now: chrono::DateTime<chrono::Utc>,
    session: String,
) -> AppResult<()> {
    use sea_orm::{EntityTrait, QuerySelect};
    let row = crate::entities::impersonation::Entity::find_by_id(session)
        .lock_exclusive()
        .one(txn)
        .await?;
    match row.is_some_and(|r| r.ended_at.is_none() && r.expires_at > now) {
        true => Ok(()),
        false => Err(AppError::Unauthenticated("impersonation session has ended")),
    }
}

/// A mutation's whole write as one unit of work, `work(txn)`, which ends with
/// `txn.commit()` to keep what it wrote. On SQLite the work runs on the writer thread itself
/// (`db::writer::Writer::run`): every statement is a direct call there, and the work queued
/// behind it runs right after it in the same batch, with no hand-off in between. On
/// PostgreSQL it runs here, in a pool transaction. Like `write_txn`, it first checks that the
/// impersonation session the operation acts in still runs. The work must not start another
/// write (it would wait for itself: refused).
pub async fn write<'a, T, F, Fut>(db: impl Into<Db<'a>>, work: F) -> AppResult<T>
where
    F: FnOnce(WriteTxn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let session = ACTING_IN.try_with(Clone::clone).ok();
    run(db.into(), session, work).await
}

/// `write` for what is recorded whatever the state of the session it happened in (the
/// ledger): no session check, like `record_txn`.
pub async fn record<'a, T, F, Fut>(db: impl Into<Db<'a>>, work: F) -> AppResult<T>
where
    F: FnOnce(WriteTxn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<T>> + Send + 'static,
    T: Send + 'static,
{
    run(db.into(), None, work).await
}

async fn run<T, F, Fut>(db: Db<'_>, session: Option<String>, work: F) -> AppResult<T>
where
    F: FnOnce(WriteTxn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let Some(writer) = db.writer else {
        return work(checked_txn(db, session).await?).await;
    };
    let clock = db.clock.clone();
    writer
        .run(move |local| async move {
            let keep = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let txn = WriteTxn(Inner::Local(local, keep.clone()));
            if let Some(session) = session
                && let Err(e) = still_running(&txn, clock.now(), session).await
            {
                return (Err(e), false);
            }
            let result = work(txn).await;
            (result, keep.load(std::sync::atomic::Ordering::SeqCst))
        })
        .await
}

/// A write that records what happened whatever the state of the session it happened in: the
/// activity ledger, the audit row of a refusal, a session's own end, the sweep. Everything
/// else goes through `write_txn`. On SQLite it is a job on the writer thread (which holds the
/// write lock for its batch, `BEGIN IMMEDIATE`, so a transaction that reads and then writes
/// never fails with SQLITE_BUSY halfway); on PostgreSQL a transaction of the pool.
pub async fn record_txn<'a>(db: impl Into<Db<'a>>) -> Result<WriteTxn, DbErr> {
    let db = db.into();
    if let Some(writer) = db.writer {
        return Ok(WriteTxn(Inner::Writer(writer.begin().await?)));
    }
    if db.conn.get_database_backend() == DbBackend::Sqlite {
        // The proxy connection's transactions are not transactions: never write there.
        return Err(DbErr::Custom("SQLite writes need the writer thread".into()));
    }
    let txn = db
        .conn
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTxn(Inner::Pool(txn)))
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Inner::Pool(txn) => txn.get_database_backend(),
            Inner::Writer(_) | Inner::Local(..) => DbBackend::Sqlite,
        }
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Inner::Pool(txn) => txn.execute_raw(stmt).await,
            Inner::Writer(job) => Ok(job.execute(stmt).await?.into()),
            Inner::Local(l, _) => Ok(l.execute(stmt)?.into()),
        }
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Inner::Pool(txn) => txn.execute_unprepared(sql).await,
            Inner::Writer(job) => {
                let stmt = Statement::from_string(DbBackend::Sqlite, sql);
                Ok(job.execute(stmt).await?.into())
            }
            Inner::Local(l, _) => Ok(l
                .execute(Statement::from_string(DbBackend::Sqlite, sql))?
                .into()),
        }
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.0 {
            Inner::Pool(txn) => txn.query_one_raw(stmt).await,
            Inner::Writer(job) => Ok(job.query(stmt).await?.into_iter().next().map(Into::into)),
            Inner::Local(l, _) => Ok(l.query(stmt)?.into_iter().next().map(Into::into)),
        }
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.0 {
            Inner::Pool(txn) => txn.query_all_raw(stmt).await,
            Inner::Writer(job) => Ok(job.query(stmt).await?.into_iter().map(Into::into).collect()),
            Inner::Local(l, _) => Ok(l.query(stmt)?.into_iter().map(Into::into).collect()),
        }
    }
    fn support_returning(&self) -> bool {
        match &self.0 {
            Inner::Pool(txn) => txn.support_returning(),
            Inner::Writer(_) | Inner::Local(..) => true,
        }
    }
    fn is_mock_connection(&self) -> bool {
        false
    }
}

/// The readiness probe's write: this server's row of `readiness_probes` rewritten, through
/// the same path as every write (the writer thread on SQLite). An error means the database
/// does not take writes now (a full disk, a read-only database, a broken writer).
pub async fn write_probe<'a>(db: impl Into<Db<'a>>) -> crate::error::AppResult<()> {
    let db = db.into();
    use sea_orm::sea_query::{Alias, OnConflict, Query};
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let server = SERVER.get_or_init(super::new_id).clone();
    let at = super::db_time(db.clock.now());
    let backend = sea_orm::ConnectionTrait::get_database_backend(db.conn);
    let stmt = backend.build(
        Query::insert()
            .into_table(Alias::new("readiness_probes"))
            .columns([Alias::new("server"), Alias::new("at")])
            .values_panic([server.into(), at.into()])
            .on_conflict(
                OnConflict::column(Alias::new("server"))
                    .update_column(Alias::new("at"))
                    .to_owned(),
            ),
    );
    record(db, move |txn| async move {
        sea_orm::ConnectionTrait::execute_raw(&txn, stmt).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}
