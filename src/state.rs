//! The ground every layer stands on: what every request and task shares.
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::{auth, events};

/// What every request shares. The connection is already a cheap handle.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    /// Bounds concurrent password hashing.
    pub hashing: auth::password::HashingPool,
    /// Live events for this server's subscribers.
    pub events: events::Bus,
    /// SQLite only: the write turn. One write transaction at a time in this process; the
    /// others wait in order (`db::write_txn`) instead of in SQLite's busy handler.
    pub writes: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config, clock: SharedClock) -> Self {
        let hashing = auth::password::HashingPool::new(config.password_hash_concurrency);
        let events = events::Bus::new(config.ws.backlog);
        let writes = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => Some(Arc::new(tokio::sync::Mutex::new(()))),
            _ => None,
        };
        AppState {
            db,
            config: Arc::new(config),
            clock,
            hashing,
            events,
            writes,
        }
    }
}
