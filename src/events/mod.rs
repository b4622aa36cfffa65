//! Live events: what subscribers are told as it happens (a session started, elevated or
//! ended; support access asked for or decided), on every server sharing the database.
//!
//! - **Publishing** (`publish`) writes an `events` row in the transaction of the change it
//!   tells, so an event exists exactly when its change committed. On PostgreSQL the same
//!   transaction sends `NOTIFY crm_events` with the row, which PostgreSQL delivers at commit.
//! - **Receiving** (`pump`): each server runs one task that feeds the in-process `Bus`. On
//!   PostgreSQL it `LISTEN`s (sqlx's `PgListener`), reconnects when the database drops, and
//!   then reads the rows it may have missed from the table. On SQLite, whose writers commit
//!   one at a time (so ids commit in order), it reads new rows by id, every 100 ms.
//! - **Delivering**: the `Bus` is a bounded broadcast. A subscriber that falls more than
//!   `backlog` events (256) behind is dropped (its socket closes with 1013), never buffered
//!   without limit. Events carry ids only: each subscriber loads what it may see under its
//!   own `AuthContext` (`services::notify::live`).
mod pump;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, Set, Statement,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, broadcast, watch};

use crate::db::db_time;
use crate::entities::event;
use crate::error::{AppError, AppResult};

/// The PostgreSQL channel.
pub const CHANNEL: &str = "crm_events";
/// How long events are kept (every server's sweep deletes older ones).
pub const KEPT: chrono::Duration = chrono::Duration::days(1);
/// How long a first subscriber waits for the server to start listening.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The kinds of event. The customer's `myAccountEvents` gets each of them for their own
/// account; admins' `impersonationEvents` the three about sessions (as STARTED, ELEVATED,
/// ENDED).
pub mod kind {
    pub const IMPERSONATION_STARTED: &str = "IMPERSONATION_STARTED";
    pub const IMPERSONATION_ELEVATED: &str = "IMPERSONATION_ELEVATED";
    pub const IMPERSONATION_ENDED: &str = "IMPERSONATION_ENDED";
    pub const SUPPORT_ACCESS_REQUESTED: &str = "SUPPORT_ACCESS_REQUESTED";
    pub const SUPPORT_ACCESS_APPROVED: &str = "SUPPORT_ACCESS_APPROVED";
    pub const SUPPORT_ACCESS_DENIED: &str = "SUPPORT_ACCESS_DENIED";
    pub const SUPPORT_ACCESS_REVOKED: &str = "SUPPORT_ACCESS_REVOKED";
    pub const SUPPORT_ACCESS_GRANTED: &str = "SUPPORT_ACCESS_GRANTED";
    pub const SUPPORT_ACCESS_EXPIRED: &str = "SUPPORT_ACCESS_EXPIRED";
    /// An admin asks for a second admin's review (admins' `impersonationEvents`).
    pub const REVIEW_REQUESTED: &str = "REVIEW_REQUESTED";
    /// A review was approved, denied or withdrawn (admins' `impersonationEvents`; the
    /// requester's notice).
    pub const REVIEW_DECIDED: &str = "REVIEW_DECIDED";
    /// A webhook endpoint kept failing and was switched off (its owner's notice).
    pub const WEBHOOK_DISABLED: &str = "WEBHOOK_DISABLED";
    /// What signs a person in changed (a passkey, TOTP, the password): their notice, and
    /// every other super admin's when the account is staff's.
    pub const FACTOR_CHANGED: &str = "FACTOR_CHANGED";
    /// A security setting that guards everyone changed (a role, an account's review rule, a
    /// webhook endpoint, the kill switch): the super admins' notice.
    pub const SECURITY_CHANGED: &str = "SECURITY_CHANGED";
}

/// An event as delivered: ids, never content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    /// The customer whose account it is about.
    pub account_id: Option<String>,
    pub impersonation_id: Option<String>,
    pub grant_id: Option<String>,
    pub notification_id: Option<String>,
    pub at: DateTime<Utc>,
    /// Absent in events from servers of an earlier version.
    #[serde(default)]
    pub review_id: Option<String>,
}

impl From<event::Model> for Event {
    fn from(m: event::Model) -> Event {
        Event {
            id: m.id,
            kind: m.kind,
            account_id: m.account_id,
            impersonation_id: m.impersonation_id,
            grant_id: m.grant_id,
            notification_id: m.notification_id,
            at: m.created_at,
            review_id: m.review_id,
        }
    }
}

/// An event to publish.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub kind: &'static str,
    pub account_id: &'a str,
    pub impersonation_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub notification_id: Option<&'a str>,
    pub review_id: Option<&'a str>,
}

impl<'a> NewEvent<'a> {
    pub fn new(kind: &'static str, account_id: &'a str) -> Self {
        NewEvent {
            kind,
            account_id,
            impersonation_id: None,
            grant_id: None,
            notification_id: None,
            review_id: None,
        }
    }
    pub fn review(self, id: &'a str) -> Self {
        NewEvent {
            review_id: Some(id),
            ..self
        }
    }
    pub fn impersonation(self, id: &'a str) -> Self {
        NewEvent {
            impersonation_id: Some(id),
            ..self
        }
    }
    pub fn grant(self, id: Option<&'a str>) -> Self {
        NewEvent {
            grant_id: id,
            ..self
        }
    }
    pub fn notification(self, id: &'a str) -> Self {
        NewEvent {
            notification_id: Some(id),
            ..self
        }
    }
}

/// Publishes `e` in `conn`, the transaction of the change it tells: subscribers on every
/// server receive it if and only if that transaction commits.
pub async fn publish(
    conn: &impl ConnectionTrait,
    e: NewEvent<'_>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let row = event::ActiveModel {
        kind: Set(e.kind.to_string()),
        account_id: Set(Some(e.account_id.to_string())),
        impersonation_id: Set(e.impersonation_id.map(str::to_string)),
        grant_id: Set(e.grant_id.map(str::to_string)),
        notification_id: Set(e.notification_id.map(str::to_string)),
        created_at: Set(db_time(at)),
        review_id: Set(e.review_id.map(str::to_string)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        let payload = serde_json::to_string(&Event::from(row))
            .map_err(|e| AppError::Internal(format!("cannot encode an event: {e}")))?;
        conn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Deletes events older than `before` (subscribers only ever need the last few seconds), in
/// the caller's write transaction.
pub async fn prune(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> AppResult<u64> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let res = event::Entity::delete_many()
        .filter(event::Column::CreatedAt.lt(db_time(before)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// The server's in-process fan-out of events to its subscribers. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Arc<Event>>,
    /// Set once the pump is started: whether it is listening yet.
    listening: OnceCell<watch::Receiver<bool>>,
}

impl Bus {
    /// A bus whose subscribers may fall `backlog` events behind before they are dropped.
    pub fn new(backlog: usize) -> Bus {
        Bus {
            inner: Arc::new(Inner {
                sender: broadcast::channel(backlog.max(1)).0,
                listening: OnceCell::new(),
            }),
        }
    }

    /// A receiver of every event committed from now on. The first call starts this server's
    /// pump and waits until it listens, so nothing committed after it returns is missed.
    pub async fn subscribe(
        &self,
        db: &DatabaseConnection,
        database_url: &str,
    ) -> AppResult<broadcast::Receiver<Arc<Event>>> {
        let mut listening = self
            .inner
            .listening
            .get_or_init(|| async {
                let (tx, rx) = watch::channel(false);
                pump::spawn(
                    Arc::downgrade(&self.inner),
                    self.inner.sender.clone(),
                    db.clone(),
                    database_url.to_string(),
                    tx,
                );
                rx
            })
            .await
            .clone();
        let receiver = self.inner.sender.subscribe();
        tokio::time::timeout(READY_WITHIN, listening.wait_for(|l| *l))
            .await
            .map_err(|_| AppError::Internal("live events are not available yet".into()))?
            .map_err(|_| AppError::Internal("live events are not available".into()))?;
        Ok(receiver)
    }

    /// How many subscribers this server has (for the tests and the log).
    pub fn subscribers(&self) -> usize {
        self.inner.sender.receiver_count()
    }
}

/// Set on a WebSocket connection: a subscription that fell too far behind rings
/// it, and the connection is closed (1013, try again) rather than buffering without limit.
#[derive(Clone, Default)]
pub struct SlowConsumer(pub Arc<tokio::sync::Notify>);
