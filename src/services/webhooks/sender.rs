//! The webhook sender every server runs. Each pass claims due deliveries for this server and
//! sends them concurrently: at most `PER_ENDPOINT` at once to one endpoint and `IN_FLIGHT` in
//! all (per server), so one slow endpoint never holds up the others. A pass claims only what
//! it starts at once, and each send ends within `TIMEOUT` (10 s), shorter than the claim's
//! lease (`WEBHOOK_LEASE_SECONDS`, at least 15 s): a claim never outlives its lease while its
//! server lives. A server that dies holding claims leaves them to be taken again when the
//! lease runs out (at least once; `webhook-id` lets receivers drop a repeat).
//!
//! Each claim carries a fresh fencing token (`claim_token`): the outcome is recorded only by
//! the sender whose token the row still holds, so a sender whose claim lapsed and was taken
//! over never writes over the newer attempt. An endpoint whose deliveries time out
//! `BREAKER_AFTER` times in a row is held back (`held_until`: 30 s, doubling, at most an
//! hour), its deliveries left pending, while the others go on.
//!
//! A delivery is a POST with the Standard Webhooks headers, signed by `standardwebhooks` with
//! the endpoint's secret (and, for 24 hours after a rotation, the previous one too: two
//! signatures). No redirects, 10 seconds at most, private addresses refused (`address`), no
//! proxy but `WEBHOOK_PROXY`. A delivery that carries its own address (`target_url`, the
//! farewell to an endpoint that changed) goes there with the secret it carries. A failure
//! waits for the next step of `WEBHOOK_RETRY_SCHEDULE_SECONDS`; after the last the delivery is
//! FAILED. An endpoint failing for `WEBHOOK_DISABLE_AFTER_HOURS` is disabled and the super
//! admin who created it told.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::address;
use crate::db::{db_time, new_id};
use crate::entities::{user, webhook_delivery as delivery, webhook_endpoint as endpoint};
use crate::error::{AppError, AppResult};
use crate::sealed::Field;
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::notify::notices::{self, Notice};
use crate::state::AppState;

pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

/// Each delivery's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often each server looks for due deliveries.
pub const POLL: Duration = Duration::from_secs(1);
pub use super::in_flight::{IN_FLIGHT, InFlight, PER_ENDPOINT};
/// Timeouts in a row after which an endpoint is held back.
pub const BREAKER_AFTER: i32 = 3;
/// How long an endpoint is first held back (doubling with each further timeout).
const HOLD_SECONDS: i64 = 30;
/// The longest hold.
const HOLD_MAX_SECONDS: i64 = 3600;
/// Due deliveries looked at per pass.
const LOOK_AT: u64 = 200;

/// A slot in flight, given back when the send ends (however it ends).
struct Slot {
    state: AppState,
    endpoint: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.webhooks_in_flight.give_back(&self.endpoint);
    }
}

/// Starts a pass every `POLL` for as long as the process lives; a pass does not wait for the
/// sends it starts, so a slow endpoint never delays the next pass.
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = start(&state).await {
                tracing::warn!(error = %e, "webhook pass failed");
            }
        }
    });
}

/// The HTTP client: no redirects, the time limit, the resolver that refuses private
/// addresses (unless allowed), and no proxy but `WEBHOOK_PROXY` (reqwest would otherwise take
/// HTTP_PROXY, HTTPS_PROXY and ALL_PROXY from the environment, and a proxy resolves names
/// itself, past the address check). One per setting, for the process.
fn client(settings: &crate::config::WebhookSettings) -> AppResult<reqwest::Client> {
    type Key = (bool, Option<String>, Duration);
    static CLIENTS: OnceLock<Mutex<HashMap<Key, reqwest::Client>>> = OnceLock::new();
    let key = (
        settings.allow_private,
        settings.proxy.clone(),
        settings.timeout,
    );
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .map_err(AppError::internal)?;
    if let Some(c) = clients.get(&key) {
        return Ok(c.clone());
    }
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent("crm-impersonation-webhooks/1")
        .dns_resolver(Arc::new(address::PublicOnly {
            allow_private: settings.allow_private,
        }));
    if let Some(proxy) = &settings.proxy {
        builder = builder.proxy(reqwest::Proxy::all(proxy).map_err(AppError::internal)?);
    }
    let built = builder.build().map_err(AppError::internal)?;
    clients.insert(key, built.clone());
    Ok(built)
}

/// A due delivery: its id and its endpoint's (read by name).
#[derive(sea_orm::FromQueryResult)]
struct Due {
    id: String,
    endpoint_id: String,
}

/// Due deliveries (endpoint not held back), oldest first.
async fn due(state: &AppState, now: DateTime<Utc>) -> AppResult<Vec<Due>> {
    use delivery::Column as C;
    let now = db_time(now);
    let held = Query::select()
        .column(endpoint::Column::Id)
        .from(endpoint::Entity)
        .and_where(endpoint::Column::HeldUntil.gt(now))
        .to_owned();
    Ok(delivery::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::EndpointId)
        .filter(C::Status.eq(PENDING))
        .filter(C::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(C::ClaimedUntil.is_null())
                .add(C::ClaimedUntil.lt(now)),
        )
        .filter(C::EndpointId.not_in_subquery(held))
        .order_by_asc(C::NextAttemptAt)
        .order_by_asc(C::Id)
        .limit(LOOK_AT)
        .into_model::<Due>()
        .all(&state.db)
        .await?)
}

/// Claims `id` for this server: its lease and a fresh fencing token, in one conditional
/// update (two servers racing: one wins). The token, if claimed.
async fn claim(state: &AppState, id: &str, now: DateTime<Utc>) -> AppResult<Option<String>> {
    use delivery::Column as C;
    let token = new_id();
    let until = db_time(now + state.config.webhooks.lease);
    let now = db_time(now);
    let txn = crate::db::write_txn(state).await?;
    let claimed = delivery::Entity::update_many()
        .col_expr(C::ClaimedUntil, Expr::value(Some(until)))
        .col_expr(C::ClaimToken, Expr::value(Some(token.clone())))
        .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
        .filter(C::Id.eq(id))
        .filter(C::Status.eq(PENDING))
        .filter(
            Condition::any()
                .add(C::ClaimedUntil.is_null())
                .add(C::ClaimedUntil.lt(now)),
        )
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    txn.commit().await?;
    Ok(claimed.then_some(token))
}

/// One pass: claims what this server may start now (within its bounds) and starts sending
/// each; returns the sends, each answering whether it delivered.
pub async fn start(state: &AppState) -> AppResult<Vec<tokio::task::JoinHandle<bool>>> {
    let now = state.clock.now();
    let mut sends = Vec::new();
    for Due { id, endpoint_id } in due(state, now).await? {
        if !state.webhooks_in_flight.take(&endpoint_id) {
            continue;
        }
        let slot = Slot {
            state: state.clone(),
            endpoint: endpoint_id,
        };
        let Some(token) = claim(state, &id, now).await? else {
            continue; // another server took it (the slot goes back as it drops)
        };
        let state = state.clone();
        sends.push(tokio::spawn(async move {
            let _slot = slot;
            match attempt(&state, &id, &token).await {
                Ok(delivered) => delivered,
                Err(e) => {
                    tracing::warn!(error = %e, delivery = %id, "webhook delivery failed");
                    false
                }
            }
        }));
    }
    Ok(sends)
}

/// Sends every due delivery this server may start now, and waits for them. Returns how many
/// were delivered.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    let mut delivered = 0;
    for send in start(state).await? {
        if send.await.unwrap_or(false) {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// One attempt at a claimed delivery: sent, and its outcome recorded if the claim still
/// holds. Whether it was delivered.
async fn attempt(state: &AppState, id: &str, token: &str) -> AppResult<bool> {
    let Some(d) = delivery::Entity::find_by_id(id).one(&state.db).await? else {
        return Ok(false);
    };
    let e = endpoint::Entity::find_by_id(d.endpoint_id.clone())
        .one(&state.db)
        .await?;
    let outcome = match (&d.target_url, &e) {
        // A farewell goes where the endpoint was, with the secret it had.
        (Some(url), _) => {
            let secrets = match &d.target_secret {
                Some(s) => vec![state.config.data_keys.open(Field::WebhookSecret, s)?],
                None => vec![],
            };
            send(state, url, &secrets, &d).await
        }
        (None, Some(e)) if e.enabled => match secrets_of(state, e) {
            Ok(secrets) => send(state, &e.url, &secrets, &d).await,
            Err(err) => Err(Failure::other(err.to_string())),
        },
        _ => Err(Failure::other("the endpoint is disabled or gone".into())),
    };
    let delivered = outcome.is_ok();
    record(state, e.as_ref(), &d, token, outcome).await?;
    Ok(delivered)
}

/// The secrets an endpoint signs with now: its own, and for a day after a rotation the
/// previous one.
pub fn secrets_of(state: &AppState, e: &endpoint::Model) -> AppResult<Vec<String>> {
    let keys = &state.config.data_keys;
    let mut secrets = vec![keys.open(Field::WebhookSecret, &e.secret)?];
    if let (Some(old), Some(until)) = (&e.previous_secret, e.previous_secret_until)
        && until > state.clock.now()
    {
        secrets.push(keys.open(Field::WebhookPreviousSecret, old)?);
    }
    Ok(secrets)
}

/// The `webhook-signature` header: a `v1,` signature per secret in use.
pub fn signatures(secrets: &[String], id: &str, timestamp: i64, body: &str) -> AppResult<String> {
    let mut out = Vec::new();
    for s in secrets {
        let hook = standardwebhooks::Webhook::new(s).map_err(AppError::internal)?;
        out.push(
            hook.sign(id, timestamp, body.as_bytes())
                .map_err(AppError::internal)?,
        );
    }
    Ok(out.join(" "))
}

/// Why an attempt failed: the status (if an answer came), what went wrong, and whether it
/// timed out (the circuit breaker counts those).
struct Failure {
    status: Option<u16>,
    error: String,
    timed_out: bool,
}

impl Failure {
    fn other(error: String) -> Failure {
        Failure {
            status: None,
            error,
            timed_out: false,
        }
    }
}

/// One attempt: Ok on a 2xx answer.
async fn send(
    state: &AppState,
    url: &str,
    secrets: &[String],
    d: &delivery::Model,
) -> Result<u16, Failure> {
    let allow_private = state.config.webhooks.allow_private;
    let url =
        url::Url::parse(url).map_err(|_| Failure::other("the URL is not valid".to_string()))?;
    if address::refused_literal(&url, allow_private) {
        return Err(Failure::other("refused: a private address".into()));
    }
    let timestamp = state.clock.now().timestamp();
    let signature = signatures(secrets, &d.id, timestamp, &d.payload)
        .map_err(|e| Failure::other(e.to_string()))?;
    let client = client(&state.config.webhooks).map_err(|e| Failure::other(e.to_string()))?;
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err(Failure {
            status: Some(r.status().as_u16()),
            error: format!("answered {}", r.status()),
            timed_out: false,
        }),
        // Without the URL (its query string may hold the receiver's own token): no secret
        // reaches the log or the delivery's record.
        Err(err) => Err(Failure {
            status: None,
            timed_out: err.is_timeout(),
            error: describe(err.without_url()),
        }),
    }
}

fn describe(err: reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{what}: {err}");
    text.truncate(480);
    text
}

/// Writes the attempt's outcome, if this sender still holds the claim (`token`): delivered,
/// another try later, or failed; the endpoint's failure clock and circuit breaker, and its
/// disabling after a day of failures. A sender whose claim was taken over writes nothing.
async fn record(
    state: &AppState,
    e: Option<&endpoint::Model>,
    d: &delivery::Model,
    token: &str,
    outcome: Result<u16, Failure>,
) -> AppResult<()> {
    use delivery::Column as C;
    let now = state.clock.now();
    let schedule = &state.config.webhooks.retry_schedule;
    let txn = crate::db::write_txn(state).await?;
    let mut update = delivery::Entity::update_many()
        .col_expr(C::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(C::ClaimToken, Expr::value(Option::<String>::None));
    // Only the endpoint as it stands now (a farewell's endpoint may be gone or changed).
    let e = e.filter(|_| d.target_url.is_none());
    let label = match &outcome {
        Ok(status) => {
            update = update
                .col_expr(C::Status, Expr::value(DELIVERED))
                .col_expr(C::DeliveredAt, Expr::value(Some(db_time(now))))
                .col_expr(C::LastStatusCode, Expr::value(Some(i32::from(*status))))
                .col_expr(C::LastError, Expr::value(Option::<String>::None));
            "delivered"
        }
        Err(f) => {
            update = update
                .col_expr(C::LastStatusCode, Expr::value(f.status.map(i32::from)))
                .col_expr(C::LastError, Expr::value(Some(f.error.clone())));
            let done = d.attempts as usize; // this attempt included (counted at the claim)
            let may_retry = d.target_url.is_some() || e.is_some_and(|e| e.enabled);
            match schedule.get(done.saturating_sub(1)) {
                Some(wait) if may_retry => {
                    let next = db_time(now + chrono::Duration::seconds(*wait));
                    update = update.col_expr(C::NextAttemptAt, Expr::value(next));
                    "retry"
                }
                _ => {
                    update = update.col_expr(C::Status, Expr::value(FAILED));
                    "failed"
                }
            }
        }
    };
    let held = update
        .filter(C::Id.eq(d.id.clone()))
        .filter(C::ClaimToken.eq(token))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !held {
        // The lease ran out and another sender took the delivery over: its outcome stands.
        txn.rollback().await?;
        tracing::warn!(delivery = %d.id, "webhook outcome not recorded: the claim was taken over");
        return Ok(());
    }
    match (&outcome, e) {
        (Ok(_), Some(e)) if e.failing_since.is_some() || e.timeouts_in_row > 0 => {
            let mut ep: endpoint::ActiveModel = e.clone().into();
            ep.failing_since = Set(None);
            ep.timeouts_in_row = Set(0);
            ep.held_until = Set(None);
            ep.update(&txn).await?;
        }
        (Err(f), e) => {
            tracing::warn!(delivery = %d.id, attempt = d.attempts, error = %f.error, "webhook not delivered");
            if let Some(e) = e.filter(|e| e.enabled) {
                failing(state, &txn, e, now, f.timed_out).await?;
            }
        }
        _ => {}
    }
    txn.commit().await?;
    crate::metrics::webhook_delivery(label);
    Ok(())
}

/// Starts an endpoint's failure clock (and counts its timeouts in a row), or disables it once
/// the clock passes the limit.
async fn failing(
    state: &AppState,
    conn: &impl ConnectionTrait,
    e: &endpoint::Model,
    now: DateTime<Utc>,
    timed_out: bool,
) -> AppResult<()> {
    let since = e.failing_since.unwrap_or(now);
    let mut ep: endpoint::ActiveModel = e.clone().into();
    ep.failing_since = Set(Some(db_time(since)));
    // The circuit breaker: timeouts in a row hold the endpoint back, longer each time.
    let timeouts = if timed_out { e.timeouts_in_row + 1 } else { 0 };
    ep.timeouts_in_row = Set(timeouts);
    if timeouts >= BREAKER_AFTER {
        let doublings = Ord::min(timeouts - BREAKER_AFTER, 10) as u32;
        let hold = Ord::min(HOLD_SECONDS << doublings, HOLD_MAX_SECONDS);
        ep.held_until = Set(Some(db_time(now + chrono::Duration::seconds(hold))));
        tracing::warn!(endpoint = %e.id, timeouts, hold_seconds = hold, "webhook endpoint held back: it keeps timing out");
    }
    if now - since >= state.config.webhooks.disable_after {
        ep.enabled = Set(false);
        ep.disabled_at = Set(Some(db_time(now)));
        let by = Attribution::user(&e.created_by);
        let entry = Entry::new(action::WEBHOOK_ENDPOINT_DISABLED, by, now)
            .entity("WebhookEndpoint", &e.id)
            .details(serde_json::json!({ "url": address::for_the_record(&e.url), "failingSince": since.to_rfc3339() }));
        audit::record(conn, entry).await?;
        let h = super::Happening::Endpoint {
            kind: "webhook_endpoint.disabled",
            endpoint: e,
            by: &e.created_by,
        };
        super::emit(conn, h, now).await?;
        if let Some(owner) = user::Entity::find_by_id(e.created_by.clone())
            .one(conn)
            .await?
        {
            let notice = Notice {
                kind: notices::kind::WEBHOOK_DISABLED,
                message: format!(
                    "The webhook endpoint {} failed for {} hours and was switched off. Fix it, then switch it on again on the Webhooks page.",
                    address::for_the_record(&e.url),
                    state.config.webhooks.disable_after.num_hours()
                ),
                subject: "A webhook endpoint was switched off",
                impersonation_id: None,
                grant_id: None,
            };
            notices::notify(conn, &state.config, &owner, notice, now).await?;
        }
    }
    ep.update(conn).await?;
    Ok(())
}
