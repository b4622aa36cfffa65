//! The webhook sender every server runs. Each pass claims due deliveries, so that exactly one
//! server sends each: on PostgreSQL one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
//! LOCKED)`, so servers scanning at once take disjoint rows without waiting for each other; on
//! SQLite, whose writes are serialised, a conditional update per row. A claim is a lease
//! (`WEBHOOK_LEASE_SECONDS`): a
//! server that dies holding it leaves the row to be taken again when the lease runs out, so a
//! crash between the commit and the delivery loses nothing (at least once; `webhook-id` lets
//! receivers drop a repeat).
//!
//! A delivery is a POST with the Standard Webhooks headers, signed by `standardwebhooks` with
//! the endpoint's secret (and, for 24 hours after a rotation, the previous one too: two
//! signatures). No redirects, 10 seconds at most, private addresses refused (`address`).
//! A failure waits for the next step of `WEBHOOK_RETRY_SCHEDULE_SECONDS`; after the last the
//! delivery is FAILED. An endpoint failing for `WEBHOOK_DISABLE_AFTER_HOURS` is disabled and
//! the super admin who created it told.
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

use super::address;
use crate::db::db_time;
use crate::entities::{user, webhook_delivery as delivery, webhook_endpoint as endpoint};
use crate::error::{AppError, AppResult};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::notify::notices::{self, Notice};
use crate::state::AppState;

pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";

/// Deliveries claimed per pass.
const BATCH: u64 = 20;
/// Each delivery's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How often each server looks for due deliveries.
pub const POLL: Duration = Duration::from_secs(1);

/// Runs `deliver_due` every `POLL` for as long as the process lives.
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&state).await {
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
    type Key = (bool, Option<String>);
    static CLIENTS: OnceLock<std::sync::Mutex<std::collections::HashMap<Key, reqwest::Client>>> =
        OnceLock::new();
    let key = (settings.allow_private, settings.proxy.clone());
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
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
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

/// Claims up to `BATCH` due deliveries for this server; returns their ids.
async fn claim(state: &AppState, now: DateTime<Utc>) -> AppResult<Vec<String>> {
    use delivery::Column as C;
    let until = db_time(now + state.config.webhooks.lease);
    let now = db_time(now);
    if state.db.get_database_backend() == DbBackend::Postgres {
        let sql = "UPDATE webhook_deliveries SET claimed_until = $1, attempts = attempts + 1 \
                   WHERE id IN (SELECT id FROM webhook_deliveries \
                     WHERE status = 'PENDING' AND next_attempt_at <= $2 \
                       AND (claimed_until IS NULL OR claimed_until < $2) \
                     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                   RETURNING id";
        let txn = crate::db::write_txn(state).await?;
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [until.into(), now.into(), (BATCH as i64).into()],
            ))
            .await?;
        txn.commit().await?;
        return rows
            .iter()
            .map(|r| r.try_get::<String>("", "id").map_err(AppError::from))
            .collect();
    }
    let free = || {
        Condition::any()
            .add(C::ClaimedUntil.is_null())
            .add(C::ClaimedUntil.lt(now))
    };
    let due: Vec<String> = delivery::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::Status.eq(PENDING))
        .filter(C::NextAttemptAt.lte(now))
        .filter(free())
        .order_by_asc(C::NextAttemptAt)
        .limit(BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut mine = Vec::new();
    for id in due {
        let txn = crate::db::write_txn(state).await?;
        let claimed = delivery::Entity::update_many()
            .col_expr(C::ClaimedUntil, Expr::value(Some(until)))
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .filter(C::Id.eq(id.clone()))
            .filter(C::Status.eq(PENDING))
            .filter(free())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        txn.commit().await?;
        if claimed {
            mine.push(id);
        }
    }
    Ok(mine)
}

/// Sends every due delivery this server could claim. Returns how many were delivered.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    let mut ids = claim(state, state.clock.now()).await?;
    // In the order they were queued (ids are time-ordered).
    ids.sort();
    let mut delivered = 0;
    for id in ids {
        let Some(d) = delivery::Entity::find_by_id(id).one(&state.db).await? else {
            continue;
        };
        let e = endpoint::Entity::find_by_id(d.endpoint_id.clone())
            .one(&state.db)
            .await?;
        let outcome = match &e {
            Some(e) if e.enabled => send(state, e, &d).await,
            _ => Err((None, "the endpoint is disabled or gone".to_string())),
        };
        if outcome.is_ok() {
            delivered += 1;
        }
        record(state, e.as_ref(), &d, outcome).await?;
    }
    Ok(delivered)
}

/// The `webhook-signature` header: a `v1,` signature per secret in use (opened from their
/// seals with the data keys).
pub fn signatures(
    keys: &crate::sealed::DataKeys,
    e: &endpoint::Model,
    id: &str,
    timestamp: i64,
    body: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    use crate::sealed::Field;
    let mut secrets = vec![keys.open(Field::WebhookSecret, &e.secret)?];
    if let (Some(old), Some(until)) = (&e.previous_secret, e.previous_secret_until)
        && until > now
    {
        secrets.push(keys.open(Field::WebhookPreviousSecret, old)?);
    }
    let mut out = Vec::new();
    for s in &secrets {
        let hook = standardwebhooks::Webhook::new(s).map_err(AppError::internal)?;
        out.push(
            hook.sign(id, timestamp, body.as_bytes())
                .map_err(AppError::internal)?,
        );
    }
    Ok(out.join(" "))
}

/// One attempt: Ok on a 2xx answer; else the status (if any) and what went wrong.
async fn send(
    state: &AppState,
    e: &endpoint::Model,
    d: &delivery::Model,
) -> Result<u16, (Option<u16>, String)> {
    let allow_private = state.config.webhooks.allow_private;
    let url = url::Url::parse(&e.url).map_err(|_| (None, "the URL is not valid".to_string()))?;
    if address::refused_literal(&url, allow_private) {
        return Err((None, "refused: a private address".into()));
    }
    let now = state.clock.now();
    let timestamp = now.timestamp();
    let signature = signatures(
        &state.config.data_keys,
        e,
        &d.id,
        timestamp,
        &d.payload,
        now,
    )
    .map_err(|e| (None, e.to_string()))?;
    let client = client(&state.config.webhooks).map_err(|e| (None, e.to_string()))?;
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
        Ok(r) => Err((
            Some(r.status().as_u16()),
            format!("answered {}", r.status()),
        )),
        // Without the URL (its query string may hold the receiver's own token): no secret
        // reaches the log or the delivery's record.
        Err(err) => Err((None, describe(err.without_url()))),
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

/// Writes the attempt's outcome: delivered, another try later, or failed; the endpoint's
/// failure clock, and its disabling after a day of failures.
async fn record(
    state: &AppState,
    e: Option<&endpoint::Model>,
    d: &delivery::Model,
    outcome: Result<u16, (Option<u16>, String)>,
) -> AppResult<()> {
    let now = state.clock.now();
    let schedule = &state.config.webhooks.retry_schedule;
    let txn = crate::db::write_txn(state).await?;
    let mut row: delivery::ActiveModel = d.clone().into();
    row.claimed_until = Set(None);
    match outcome {
        Ok(status) => {
            row.status = Set(DELIVERED.into());
            row.delivered_at = Set(Some(db_time(now)));
            row.last_status_code = Set(Some(status.into()));
            row.last_error = Set(None);
            crate::metrics::webhook_delivery("delivered");
            if let Some(e) = e.filter(|e| e.failing_since.is_some()) {
                let mut ep: endpoint::ActiveModel = e.clone().into();
                ep.failing_since = Set(None);
                ep.update(&txn).await?;
            }
        }
        Err((status, error)) => {
            row.last_status_code = Set(status.map(i32::from));
            row.last_error = Set(Some(error.clone()));
            let done = d.attempts as usize; // this attempt included (counted at the claim)
            match schedule.get(done.saturating_sub(1)) {
                Some(wait) if e.is_some_and(|e| e.enabled) => {
                    row.next_attempt_at = Set(db_time(now + chrono::Duration::seconds(*wait)));
                    crate::metrics::webhook_delivery("retry");
                }
                _ => {
                    row.status = Set(FAILED.into());
                    crate::metrics::webhook_delivery("failed");
                }
            }
            tracing::warn!(delivery = %d.id, attempt = d.attempts, error = %error, "webhook not delivered");
            if let Some(e) = e.filter(|e| e.enabled) {
                failing(state, &txn, e, now).await?;
            }
        }
    }
    row.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Starts an endpoint's failure clock, or disables it once the clock passes the limit.
async fn failing(
    state: &AppState,
    conn: &impl ConnectionTrait,
    e: &endpoint::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let since = e.failing_since.unwrap_or(now);
    let mut ep: endpoint::ActiveModel = e.clone().into();
    ep.failing_since = Set(Some(db_time(since)));
    if now - since >= state.config.webhooks.disable_after {
        ep.enabled = Set(false);
        ep.disabled_at = Set(Some(db_time(now)));
        let by = Attribution::user(&e.created_by);
        let entry = Entry::new(action::WEBHOOK_ENDPOINT_DISABLED, by, now)
            .entity("WebhookEndpoint", &e.id)
            .details(serde_json::json!({ "url": address::for_the_record(&e.url), "failingSince": since.to_rfc3339() }));
        audit::record(conn, entry).await?;
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
