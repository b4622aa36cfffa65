//! SQLite's writer: one thread that owns a rusqlite connection and runs every write
//! transaction of this server, with group commit (issue 24).
//!
//! A mutation's transaction is a *job*. Jobs run one after another on the writer thread, each
//! inside its own `SAVEPOINT`, and the jobs queued behind one another share one
//! `BEGIN IMMEDIATE … COMMIT`: the batch commits when no job is waiting (or after
//! `MAX_BATCH` jobs). A job that fails or is dropped rolls back to its savepoint, alone; its
//! neighbours commit. A job's commit is answered only after the batch's `COMMIT` has
//! returned, so an acknowledged write is on disk (in the WAL) and survives a crash of the
//! process. The service code stays one async SeaORM path on both databases: `WriteTxn` is
//! a `ConnectionTrait` whose statements are sent here, and whose rows come back as SeaORM's
//! `ProxyRow`s (the `proxy` feature).
//!
//! Statements run as SeaORM's SQLite driver ran them (`db::rows`).
//!
//! Automatic checkpoints are off on this connection: a `wal_checkpoint(PASSIVE)` runs every
//! second from a connection of its own on another thread, so the writer never stalls on one.
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use sea_orm::{DbErr, ProxyExecResult, ProxyRow, Statement};

use super::rows::{big_columns, err, execute, query};
use tokio::sync::oneshot;

/// The most jobs one `COMMIT` carries.
pub const MAX_BATCH: usize = 64;

/// A handle on the writer thread. Cloning shares the thread; it stops when the last handle
/// is dropped (after committing what it holds).
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    jobs: Arc<AtomicU64>,
    /// Dropped with the last handle: the checkpoint thread stops.
    _checkpoints: Arc<mpsc::Sender<()>>,
    /// Closed (`close`): no new job starts.
    closed: Arc<std::sync::atomic::AtomicBool>,
    /// Sees every statement a job runs (tests count and explain them).
    observer: Observer,
    stats: Arc<Stats>,
    /// INTEGER columns read as `i64` (`rows::big_columns`), for every connection to the file.
    big: Arc<HashSet<(String, String)>>,
}

/// What the writer has done: committed jobs and the batches (`COMMIT`s) that held them.
#[derive(Default, Debug)]
pub struct Stats {
    pub jobs: AtomicU64,
    pub batches: AtomicU64,
}

/// A callback shown every statement run on the file, set at most once
/// (`db::sqlite::observe`); unset, it costs one atomic load a statement.
pub type Observer = Arc<std::sync::OnceLock<Box<dyn Fn(&Statement) + Send + Sync>>>;

pub(super) fn observe(observer: &Observer, stmt: &Statement) {
    if let Some(f) = observer.get() {
        f(stmt)
    }
}

/// How often the WAL is checkpointed (PASSIVE: never waits for readers or the writer).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

type Reply<T> = oneshot::Sender<Result<T, DbErr>>;

enum Msg {
    Begin(u64, Reply<()>),
    Query(u64, Statement, Reply<Vec<ProxyRow>>),
    Execute(u64, Statement, Reply<ProxyExecResult>),
    Commit(u64, Reply<()>),
    Rollback(u64),
    Run(u64, Work, Reply<()>),
}

/// A whole transaction sent to the writer thread, run there to completion (`Writer::run`):
/// told its `Local` connection, it answers whether its savepoint is kept.
type Work = Box<dyn FnOnce(Local) -> std::pin::Pin<Box<dyn Future<Output = bool>>> + Send>;

/// The writer's connection, for work running on the writer thread: every statement a direct
/// call.
#[derive(Clone)]
pub struct Local {
    conn: Arc<Mutex<rusqlite::Connection>>,
    big: Arc<HashSet<(String, String)>>,
    observer: Observer,
}

impl Local {
    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn query(&self, stmt: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        observe(&self.observer, &stmt);
        query(&self.conn(), &stmt, &self.big)
    }

    pub fn execute(&self, stmt: Statement) -> Result<ProxyExecResult, DbErr> {
        observe(&self.observer, &stmt);
        execute(&self.conn(), &stmt)
    }
}

impl Writer {
    /// Opens the database file (the path of a `sqlite:` URL) on a new writer thread.
    pub fn open(path: &str) -> Result<Writer, DbErr> {
        let conn = rusqlite::Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;",
        )
        .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(256);
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let counted = stats.clone();
        let observer: Observer = Arc::default();
        let seen = observer.clone();
        let big = Arc::new(big_columns());
        let columns = big.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                ON_WRITER.with(|w| w.set(true));
                Thread::new(conn, counted, seen, columns).run(rx)
            })
            .map_err(|e| DbErr::Custom(format!("cannot start the SQLite writer: {e}")))?;
        let checkpointer = rusqlite::Connection::open(path).map_err(err)?;
        checkpointer
            .execute_batch("PRAGMA busy_timeout = 1000;")
            .map_err(err)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(e) = checkpointer.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| DbErr::Custom(format!("cannot start the SQLite checkpoints: {e}")))?;
        Ok(Writer {
            tx,
            jobs: Arc::new(AtomicU64::new(0)),
            _checkpoints: Arc::new(stop),
            closed: Arc::default(),
            observer,
            stats,
            big,
        })
    }

    /// Stops taking jobs: every later `begin` fails (the jobs already running finish).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Committed jobs and the batches that held them, since the writer started.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.jobs.load(Ordering::Relaxed),
            self.stats.batches.load(Ordering::Relaxed),
        )
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(super) fn observer(&self) -> &Observer {
        &self.observer
    }

    pub(super) fn big(&self) -> &HashSet<(String, String)> {
        &self.big
    }

    /// Runs `work` on the writer thread as one job: its statements are direct calls there,
    /// and the work queued behind it runs right after it in the same batch. Its savepoint is
    /// kept when it answers `Ok` (and `keep` says so); the answer comes back once the batch
    /// has committed.
    pub async fn run<T, E, F, Fut>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(Local) -> Fut + Send + 'static,
        Fut: Future<Output = (Result<T, E>, bool)> + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
    {
        if self.is_closed() {
            return Err(closed().into());
        }
        on_another_thread()?;
        let id = self.jobs.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        let work: Work = Box::new(move |local| {
            Box::pin(async move {
                let (result, keep) = work(local).await;
                let keep = keep && result.is_ok();
                let _ = answer.send(result);
                keep
            })
        });
        let (ack, acked) = oneshot::channel();
        self.send(Msg::Run(id, work, ack))?;
        let result = answered.await.map_err(|_| gone())?;
        if result.is_ok() {
            acked.await.map_err(|_| gone())??;
        }
        result
    }

    /// Starts a job: waits for its turn, then its savepoint is open.
    pub async fn begin(&self) -> Result<Job, DbErr> {
        if self.is_closed() {
            return Err(closed());
        }
        on_another_thread()?;
        let id = self.jobs.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.send(Msg::Begin(id, reply))?;
        answer.await.map_err(|_| gone())??;
        Ok(Job {
            writer: self.clone(),
            id,
            open: true,
        })
    }

    fn send(&self, m: Msg) -> Result<(), DbErr> {
        self.tx.send(m).map_err(|_| gone())
    }
}

/// One job on the writer: the statements of one transaction. Dropped without `commit`, it
/// rolls back to its savepoint.
pub struct Job {
    writer: Writer,
    id: u64,
    open: bool,
}

impl Job {
    pub async fn query(&self, stmt: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        observe(&self.writer.observer, &stmt);
        let (reply, answer) = oneshot::channel();
        self.writer.send(Msg::Query(self.id, stmt, reply))?;
        answer.await.map_err(|_| gone())?
    }

    pub async fn execute(&self, stmt: Statement) -> Result<ProxyExecResult, DbErr> {
        observe(&self.writer.observer, &stmt);
        let (reply, answer) = oneshot::channel();
        self.writer.send(Msg::Execute(self.id, stmt, reply))?;
        answer.await.map_err(|_| gone())?
    }

    /// Commits: answered once the batch holding this job has committed.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        self.open = false;
        let (reply, answer) = oneshot::channel();
        self.writer.send(Msg::Commit(self.id, reply))?;
        answer.await.map_err(|_| gone())?
    }

    pub fn rollback(mut self) {
        self.open = false;
        let _ = self.writer.send(Msg::Rollback(self.id));
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.open {
            let _ = self.writer.send(Msg::Rollback(self.id));
        }
    }
}

thread_local! {
    /// Set on the writer thread: a write started from work running there would wait for
    /// the writer forever.
    static ON_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn on_another_thread() -> Result<(), DbErr> {
    match ON_WRITER.with(|w| w.get()) {
        true => Err(DbErr::Custom(
            "a write started inside a write running on the SQLite writer".into(),
        )),
        false => Ok(()),
    }
}

pub(super) fn closed() -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(
        "the SQLite database is closed".into(),
    ))
}

fn gone() -> DbErr {
    DbErr::Custom("the SQLite writer has stopped".into())
}

/// The writer thread's state.
struct Thread {
    /// Shared with the work running on this thread (`Local`); never contended.
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// The batch's `BEGIN IMMEDIATE` has run.
    open: bool,
    /// The job whose savepoint is open.
    current: Option<u64>,
    /// Jobs waiting for their turn.
    waiting: VecDeque<(u64, Pending)>,
    /// Committed jobs of the open batch, answered when it commits.
    done: Vec<Reply<()>>,
    /// INTEGER columns that entities read as `i64` (the others are `i32`).
    big: Arc<HashSet<(String, String)>>,
    stats: Arc<Stats>,
    /// Runs the work sent here (`Writer::run`) to completion, on this thread.
    rt: tokio::runtime::Runtime,
    observer: Observer,
}

/// A job waiting for its turn: one whose statements will be sent one by one (`begin`), or
/// work that runs here whole (`run`).
enum Pending {
    Begin(Reply<()>),
    Run(Work, Reply<()>),
}

impl Thread {
    fn new(
        conn: rusqlite::Connection,
        stats: Arc<Stats>,
        observer: Observer,
        big: Arc<HashSet<(String, String)>>,
    ) -> Thread {
        Thread {
            conn: Arc::new(Mutex::new(conn)),
            open: false,
            current: None,
            waiting: VecDeque::new(),
            done: Vec::new(),
            big,
            stats,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the writer's runtime"),
            observer,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let idle = self.current.is_none() && self.waiting.is_empty();
            let msg = if idle && self.open {
                match rx.try_recv() {
                    Ok(m) => m,
                    Err(mpsc::TryRecvError::Empty) => {
                        self.commit_batch();
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            };
            self.handle(msg);
            if self.current.is_none() {
                if self.done.len() >= MAX_BATCH {
                    self.commit_batch();
                }
                self.next();
            }
        }
        if let Some(job) = self.current.take() {
            self.rollback_job(job);
        }
        self.commit_batch();
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Begin(job, reply) => self.waiting.push_back((job, Pending::Begin(reply))),
            Msg::Run(job, work, ack) => self.waiting.push_back((job, Pending::Run(work, ack))),
            Msg::Query(job, stmt, reply) => {
                let r = self
                    .mine(job)
                    .and_then(|_| query(&self.conn(), &stmt, &self.big));
                let _ = reply.send(r);
            }
            Msg::Execute(job, stmt, reply) => {
                let r = self.mine(job).and_then(|_| execute(&self.conn(), &stmt));
                let _ = reply.send(r);
            }
            Msg::Commit(job, reply) => match self.mine(job) {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                Ok(()) => {
                    self.current = None;
                    let released = self.conn().execute_batch(&format!("RELEASE j{job}"));
                    match released {
                        Ok(()) => self.done.push(reply),
                        Err(e) => {
                            let _ = reply.send(Err(err(e)));
                            self.rollback_job(job);
                        }
                    }
                    self.check_batch();
                }
            },
            Msg::Rollback(job) => {
                if self.current == Some(job) {
                    self.current = None;
                    self.rollback_job(job);
                } else {
                    // A job dropped while waiting for its turn.
                    self.waiting.retain(|(j, _)| *j != job);
                }
            }
        }
    }

    fn mine(&self, job: u64) -> Result<(), DbErr> {
        match self.current == Some(job) {
            true => Ok(()),
            false => Err(DbErr::Custom("not the writer's current job".into())),
        }
    }

    /// Gives the turn to the next waiting job: its savepoint, in the open batch. Work sent
    /// whole runs here and now, and the next one after it, with no hand-off in between.
    fn next(&mut self) {
        while self.current.is_none() {
            let Some((job, pending)) = self.waiting.pop_front() else {
                return;
            };
            let ready = self.savepoint(job);
            match pending {
                Pending::Begin(reply) => match ready {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(()) => match reply.send(Ok(())) {
                        Ok(()) => self.current = Some(job),
                        // Its caller stopped waiting: nothing of it runs.
                        Err(_) => self.rollback_job(job),
                    },
                },
                Pending::Run(work, ack) => {
                    if let Err(e) = ready {
                        let _ = ack.send(Err(e));
                        continue;
                    }
                    let local = Local {
                        conn: self.conn.clone(),
                        big: self.big.clone(),
                        observer: self.observer.clone(),
                    };
                    // A panic in the work fails that job alone; the writer goes on.
                    let run = std::panic::AssertUnwindSafe(|| self.rt.block_on(work(local)));
                    let keep = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                        tracing::error!("a write panicked on the SQLite writer: rolled back");
                        false
                    });
                    if !keep {
                        self.rollback_job(job);
                        let _ = ack.send(Ok(()));
                        continue;
                    }
                    let released = self.conn().execute_batch(&format!("RELEASE j{job}"));
                    match released {
                        Ok(()) => self.done.push(ack),
                        Err(e) => {
                            let _ = ack.send(Err(err(e)));
                            self.rollback_job(job);
                        }
                    }
                    self.check_batch();
                    if self.done.len() >= MAX_BATCH {
                        self.commit_batch();
                    }
                }
            }
        }
    }

    /// Opens the batch if needed, then the job's savepoint.
    fn savepoint(&mut self, job: u64) -> Result<(), DbErr> {
        if !self.open {
            self.conn().execute_batch("BEGIN IMMEDIATE").map_err(err)?;
            self.open = true;
        }
        let r = self.conn().execute_batch(&format!("SAVEPOINT j{job}"));
        if let Err(e) = r {
            self.check_batch();
            return Err(err(e));
        }
        Ok(())
    }

    fn rollback_job(&mut self, job: u64) {
        let _ = self
            .conn()
            .execute_batch(&format!("ROLLBACK TO j{job}; RELEASE j{job}"));
        self.check_batch();
    }

    /// Some errors (a full disk, an I/O error) end the whole transaction in SQLite: the
    /// batch's jobs are then lost and are told so.
    fn check_batch(&mut self) {
        if self.open && self.conn().is_autocommit() {
            self.open = false;
            self.current = None;
            for reply in self.done.drain(..) {
                let _ = reply.send(Err(DbErr::Custom(
                    "SQLite: the batch was rolled back".into(),
                )));
            }
        }
    }

    fn commit_batch(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        let result = self.conn().execute_batch("COMMIT").map_err(err);
        if result.is_err() && !self.conn().is_autocommit() {
            let _ = self.conn().execute_batch("ROLLBACK");
        }
        if result.is_ok() {
            let jobs = self.done.len() as u64;
            self.stats.jobs.fetch_add(jobs, Ordering::Relaxed);
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
        }
        for reply in self.done.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}
