//! What runs beside the requests, in one list. Each job is safe to run on every server at
//! once (claims, leases and conditional updates in the database decide who does what):
//!
//! - the sweeper (`services::sweeper`): ends sessions past their time or idle, lapses
//!   requests, reviews and grants, and forgets what is kept only for a while;
//! - the e-mail outbox (`services::notify::outbox`): sends queued mail through SMTP, retrying;
//! - the webhook sender (`services::webhooks::sender`): signs and delivers queued events,
//!   at most a few at once per endpoint, holding back an endpoint that keeps timing out.
//!
//! The event pump (`events::pump`, PostgreSQL `LISTEN` or the SQLite table's poll) is not
//! here: it starts with the first live subscriber on this server (`events::Bus::subscribe`).
use crate::state::AppState;

/// Starts every job of this server.
pub fn spawn_all(state: &AppState) {
    crate::services::sweeper::spawn(state.clone());
    crate::services::notify::outbox::spawn_worker(state.clone());
    crate::services::webhooks::sender::spawn_worker(state.clone());
}
