//! SQLite through rusqlite, behind SeaORM's proxy connection (issue 24). The server's
//! `DatabaseConnection` on SQLite is a proxy: a read runs right where it is awaited, on the
//! calling thread's own read connection to the file (one per thread, opened on first use:
//! no hand-off to another thread), and a write outside a `WriteTxn` (migrations, the CLI) is
//! a one-statement job on the writer thread (`db::writer`). Write transactions are jobs on
//! the writer. PostgreSQL stays on sqlx.
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sea_orm::{
    Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow,
    Statement,
};

use super::rows;
use super::writer::{self, Writer};

/// One database file of this process: its writer, shared by every connection to it.
pub struct Store {
    path: String,
    pub writer: Writer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Every open file's store, so that one process has one writer per file however many
/// connections and states it opens on it.
static STORES: Mutex<Option<HashMap<String, Weak<Store>>>> = Mutex::new(None);

/// The path of a `sqlite:` URL's file; `None` for another URL.
pub fn path_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

/// The store of a database file, opened (with its writer thread) if this process has none.
pub fn store(path: &str) -> Result<Arc<Store>, DbErr> {
    if path.is_empty() || path.contains(":memory:") {
        return Err(DbErr::Custom(
            "DATABASE_URL: an in-memory SQLite database is not supported; give a file".into(),
        ));
    }
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    let stores = stores.get_or_insert_with(HashMap::new);
    stores.retain(|_, s| s.strong_count() > 0);
    if let Some(s) = stores.get(path).and_then(Weak::upgrade) {
        return Ok(s);
    }
    let s = Arc::new(Store {
        path: path.to_string(),
        writer: Writer::open(path)?,
    });
    stores.insert(path.to_string(), Arc::downgrade(&s));
    Ok(s)
}

/// A SeaORM connection to the file at `path`.
pub async fn connect(path: &str) -> Result<DatabaseConnection, DbErr> {
    let proxy = Proxy {
        store: store(path)?,
    };
    Database::connect_proxy(DbBackend::Sqlite, Arc::new(Box::new(proxy))).await
}

#[derive(Debug)]
struct Proxy {
    store: Arc<Store>,
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for Proxy {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        if self.store.writer.is_closed() {
            return Err(writer::closed());
        }
        writer::observe(self.store.writer.observer(), &statement);
        with_reader(&self.store, |conn| {
            rows::query(conn, &statement, self.store.writer.big())
        })
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        let job = self.store.writer.begin().await?;
        let done = job.execute(statement).await?;
        job.commit().await?;
        Ok(done)
    }

    async fn ping(&self) -> Result<(), DbErr> {
        if self.store.writer.is_closed() {
            return Err(writer::closed());
        }
        with_reader(&self.store, |conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(rows::err)
        })
    }
}

/// Closes the database file at `path` for this process: every later statement fails, as
/// with a closed pool (tests use it to take the database away).
pub fn close(path: &str) {
    if let Ok(s) = store(path) {
        s.writer.close();
    }
}

/// Shows `f` every statement run on the file at `path`, reads and writes (tests count and
/// explain them). Once per file: the store lives as long as a connection to it.
pub fn observe(path: &str, f: impl Fn(&Statement) + Send + Sync + 'static) -> Result<(), DbErr> {
    store(path)?
        .writer
        .observer()
        .set(Box::new(f))
        .map_err(|_| DbErr::Custom("the file's statements are observed already".into()))
}

thread_local! {
    /// This thread's read connections, one per open store.
    static READERS: RefCell<Vec<(Weak<Store>, rusqlite::Connection)>> =
        const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's read connection to `store`'s file. A read is a few dozen
/// microseconds of SQLite: cheaper where it is awaited than a hand-off to another thread.
fn with_reader<T>(
    store: &Arc<Store>,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        // Connections to stores that were closed go.
        readers.retain(|(s, _)| s.strong_count() > 0);
        let at = readers
            .iter()
            .position(|(s, _)| std::ptr::eq(s.as_ptr(), Arc::as_ptr(store)));
        let at = match at {
            Some(i) => i,
            None => {
                let conn = rusqlite::Connection::open(&store.path).map_err(rows::err)?;
                conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                    .map_err(rows::err)?;
                conn.set_prepared_statement_cache_capacity(256);
                readers.push((Arc::downgrade(store), conn));
                readers.len() - 1
            }
        };
        f(&readers[at].1)
    })
}
