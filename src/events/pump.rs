//! The task that feeds a server's `Bus` from the database: `LISTEN` on PostgreSQL (with
//! reconnection and catch-up from the `events` table), new rows by id on SQLite.
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::sync::{broadcast, watch};

use super::{CHANNEL, Event, Inner};
use crate::entities::event;

/// How often SQLite is read for new events.
const POLL: Duration = Duration::from_millis(100);
/// Read at most this many rows at a time.
const BATCH: u64 = 500;
/// After a reconnection, rows this far below the highest id seen are read again (and the
/// ones already delivered skipped): ids are taken in one order and may commit in another.
const SLACK: i64 = 1_000;
/// How many delivered ids are remembered to deliver each event once.
const REMEMBERED: usize = 4_096;
/// Waits between attempts to listen again.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

pub(super) fn spawn(
    bus: Weak<Inner>,
    sender: broadcast::Sender<Arc<Event>>,
    db: DatabaseConnection,
    url: String,
    listening: watch::Sender<bool>,
) {
    let feed = Feed {
        bus,
        sender,
        db,
        seen: Seen::default(),
        highest: None,
        floor: 0,
    };
    match feed.db.get_database_backend() {
        DatabaseBackend::Postgres => tokio::spawn(feed.listen(url, listening)),
        _ => tokio::spawn(feed.poll(listening)),
    };
}

struct Feed {
    /// The pump stops when its server's bus is gone.
    bus: Weak<Inner>,
    sender: broadcast::Sender<Arc<Event>>,
    db: DatabaseConnection,
    seen: Seen,
    /// The highest id delivered (or present when the pump started).
    highest: Option<i64>,
    /// The highest id when the pump started: catch-ups never deliver what was there before.
    floor: i64,
}

impl Feed {
    fn deliver(&mut self, e: Event) {
        if !self.seen.insert(e.id) {
            return;
        }
        self.highest = Some(self.highest.map_or(e.id, |h| h.max(e.id)));
        // No receivers is fine: nobody is subscribed on this server.
        let _ = self.sender.send(Arc::new(e));
    }

    async fn rows_after(&self, id: i64) -> Result<Vec<event::Model>, sea_orm::DbErr> {
        event::Entity::find()
            .filter(event::Column::Id.gt(id))
            .order_by_asc(event::Column::Id)
            .limit(BATCH)
            .all(&self.db)
            .await
    }

    async fn highest_now(&self) -> Result<i64, sea_orm::DbErr> {
        let row = event::Entity::find()
            .order_by_desc(event::Column::Id)
            .one(&self.db)
            .await?;
        Ok(row.map_or(0, |r| r.id))
    }

    /// SQLite: writers commit one at a time, so a row with a higher id never commits before
    /// one with a lower id: reading by id misses nothing.
    async fn poll(mut self, listening: watch::Sender<bool>) {
        let mut last = loop {
            match self.highest_now().await {
                Ok(h) => break h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the events table; retrying");
                    tokio::time::sleep(RETRY_MAX).await;
                }
            }
        };
        let _ = listening.send(true);
        loop {
            tokio::time::sleep(POLL).await;
            if self.bus.strong_count() == 0 {
                return;
            }
            match self.rows_after(last).await {
                Ok(rows) => {
                    for r in rows {
                        last = r.id;
                        self.deliver(r.into());
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read new events"),
            }
        }
    }

    /// PostgreSQL: `LISTEN`, and after any loss of the connection, listen again and read
    /// what was committed meanwhile.
    async fn listen(mut self, url: String, listening: watch::Sender<bool>) {
        let mut wait = RETRY_FIRST;
        loop {
            if self.bus.strong_count() == 0 {
                return;
            }
            let mut listener = match self.connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot listen for events");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                    continue;
                }
            };
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "cannot read missed events");
                continue;
            }
            wait = RETRY_FIRST;
            let _ = listening.send(true);
            tracing::debug!("listening for events");
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match serde_json::from_str::<Event>(n.payload()) {
                        Ok(e) => self.deliver(e),
                        Err(e) => tracing::warn!(error = %e, "an event that does not parse"),
                    },
                    // The connection dropped and sqlx listened again: read what was missed.
                    Ok(None) => {
                        tracing::warn!("the events connection dropped; listening again");
                        if let Err(e) = self.catch_up().await {
                            tracing::warn!(error = %e, "cannot read missed events");
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the events connection");
                        break;
                    }
                }
                if self.bus.strong_count() == 0 {
                    return;
                }
            }
        }
    }

    async fn connect(&self, url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// The first time: only what comes next. After a reconnection: the rows committed while
    /// the connection was down (and a margin before, skipping what was delivered).
    async fn catch_up(&mut self) -> Result<(), sea_orm::DbErr> {
        let Some(highest) = self.highest else {
            self.floor = self.highest_now().await?;
            self.highest = Some(self.floor);
            return Ok(());
        };
        let mut from = (highest - SLACK).max(self.floor);
        loop {
            let rows = self.rows_after(from).await?;
            let done = (rows.len() as u64) < BATCH;
            for r in rows {
                from = r.id;
                self.deliver(r.into());
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// The ids delivered lately, so that an event read twice (by `NOTIFY` and by a catch-up) is
/// delivered once.
#[derive(Default)]
struct Seen {
    order: VecDeque<i64>,
    set: HashSet<i64>,
}

impl Seen {
    fn insert(&mut self, id: i64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}
