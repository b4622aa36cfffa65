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
    /// SQLite only: the writer thread every write transaction runs on (`db::writer`).
    pub writer: Option<crate::db::writer::Writer>,
    /// The webhook deliveries this server has in flight (the sender's bounds).
    pub webhooks_in_flight: Arc<crate::services::webhooks::in_flight::InFlight>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, config: Config, clock: SharedClock) -> Self {
        let hashing = auth::password::HashingPool::new(config.password_hash_concurrency);
        let events = events::Bus::new(config.ws.backlog);
        let writer = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => crate::db::sqlite_writer(&config.database_url),
            _ => None,
        };
        AppState {
            db,
            config: Arc::new(config),
            clock,
            hashing,
            events,
            writer,
            webhooks_in_flight: Default::default(),
        }
    }
}

/// The handle the database layer's writes take: the connection, the writer and the clock.
impl<'a> From<&'a AppState> for crate::db::Db<'a> {
    fn from(state: &'a AppState) -> Self {
        crate::db::Db {
            conn: &state.db,
            writer: state.writer.as_ref(),
            clock: &state.clock,
        }
    }
}
