//! Prometheus metrics (`GET /metrics` on `METRICS_ADDR`, never on the public address): the
//! `metrics` facade, recorded by `metrics-exporter-prometheus` and rendered in its text format.
//! Every label takes a value from a fixed set (routes as routed, status codes, operation types,
//! the contract's error codes, modes, end reasons): never a client-chosen string. Gauges that
//! reflect shared state (sessions running, the e-mail outbox, the database pool) are read from
//! the database when scraped; the process's CPU and memory come from `metrics-process`.
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const OPERATIONS: &str = "graphql_operations_total";
pub const OPERATION_SECONDS: &str = "graphql_operation_duration_seconds";
pub const POOL: &str = "db_pool_connections";
pub const SESSIONS_ACTIVE: &str = "impersonation_sessions_active";
pub const SESSIONS_STARTED: &str = "impersonation_sessions_started_total";
pub const SESSIONS_ENDED: &str = "impersonation_sessions_ended_total";
pub const WS_CONNECTIONS: &str = "ws_connections";
pub const OUTBOX_PENDING: &str = "outbox_pending";
pub const WEBHOOK_DELIVERIES: &str = "webhook_deliveries_total";
pub const LEDGER_REFUSALS: &str = "ledger_write_refusals_total";

/// What an operation is counted under besides the error codes: success, and the GraphQL
/// layer's own refusals of a document.
const OUTCOMES_BESIDE_CODES: [&str; 3] = [
    "OK",
    crate::graphql::limits::PARSE_FAILED,
    crate::graphql::limits::VALIDATION_FAILED,
];

/// The outcome label of `outcome`: one of the contract's codes (`error::CODES`, the one list),
/// OK, a document refused, or OTHER.
fn outcome_label(outcome: &str) -> &'static str {
    OUTCOMES_BESIDE_CODES
        .iter()
        .chain(crate::error::CODES.iter())
        .find(|o| **o == outcome)
        .copied()
        .unwrap_or("OTHER")
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder, installed on first use (once per process; `None` if another
/// recorder was installed first). Every metric is described, so a scrape lists them all from
/// the start.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(OPERATION_SECONDS.into()), &buckets)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route and status code"
    );
    describe_counter!(
        OPERATIONS,
        "GraphQL operations, by type and outcome (OK or the error code)"
    );
    describe_histogram!(
        OPERATION_SECONDS,
        metrics::Unit::Seconds,
        "How long a GraphQL operation took, by type (a subscription: until it opened)"
    );
    describe_gauge!(POOL, "Database connections of this server, by state");
    describe_gauge!(
        SESSIONS_ACTIVE,
        "Impersonation sessions running, system-wide"
    );
    describe_counter!(
        SESSIONS_STARTED,
        "Impersonation sessions this server started, by mode"
    );
    describe_counter!(
        SESSIONS_ENDED,
        "Impersonation sessions this server ended, by end reason"
    );
    describe_gauge!(WS_CONNECTIONS, "WebSocket connections open on this server");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts by outcome (delivered, retry, failed)"
    );
    describe_counter!(
        LEDGER_REFUSALS,
        "Impersonated operations refused because their ledger row could not be written"
    );
    describe_gauge!(
        OUTBOX_PENDING,
        "E-mails queued and not yet sent, system-wide"
    );
    metrics_process::Collector::default().describe();
}

/// An HTTP request answered: `route` as routed (`unmatched` for no route).
pub fn http_request(route: &str, status: u16) {
    if HANDLE.get().is_some() {
        metrics::counter!(HTTP_REQUESTS, "route" => route.to_string(), "status" => status.to_string())
            .increment(1);
    }
}

/// A GraphQL operation answered: `kind` query, mutation, subscription or unknown; `outcome`
/// OK or its first error's code (any other value is counted as OTHER).
pub fn operation(kind: &'static str, outcome: &str, seconds: f64) {
    if HANDLE.get().is_none() {
        return;
    }
    let outcome = outcome_label(outcome);
    metrics::counter!(OPERATIONS, "type" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!(OPERATION_SECONDS, "type" => kind).record(seconds);
}

/// A session started by this server.
pub fn session_started(mode: crate::entities::impersonation::Mode) {
    if HANDLE.get().is_some() {
        metrics::counter!(SESSIONS_STARTED, "mode" => mode.as_str()).increment(1);
    }
}

/// A session ended by this server (`reason`: the end reason's contract name).
pub fn session_ended(reason: &'static str) {
    if HANDLE.get().is_some() {
        metrics::counter!(SESSIONS_ENDED, "reason" => reason).increment(1);
    }
}

/// A WebSocket connection opened (`+1`) or closed (`-1`) on this server.
/// A webhook delivery attempt: `delivered`, `retry` or `failed`.
pub fn ledger_refusal() {
    metrics::counter!(LEDGER_REFUSALS).increment(1);
}

pub fn webhook_delivery(outcome: &'static str) {
    metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

pub fn ws_connection(delta: f64) {
    if HANDLE.get().is_some() {
        metrics::gauge!(WS_CONNECTIONS).increment(delta);
    }
}

/// The scrape: the gauges read from shared state now, then everything rendered.
pub async fn render(state: &AppState) -> String {
    let Some(handle) = handle() else {
        return String::new();
    };
    if let Err(e) = refresh(state).await {
        tracing::warn!(error = %e, "metrics: cannot read the database's gauges");
    }
    metrics_process::Collector::default().collect();
    handle.run_upkeep();
    handle.render()
}

async fn refresh(state: &AppState) -> crate::error::AppResult<()> {
    use crate::entities::{email_outbox, impersonation};
    let now = crate::db::db_time(state.clock.now());
    let active = impersonation::Entity::find()
        .filter(impersonation::Column::EndedAt.is_null())
        .filter(impersonation::Column::ExpiresAt.gt(now))
        .count(&state.db)
        .await?;
    metrics::gauge!(SESSIONS_ACTIVE).set(active as f64);
    let pending = email_outbox::Entity::find()
        .filter(email_outbox::Column::SentAt.is_null())
        .count(&state.db)
        .await?;
    metrics::gauge!(OUTBOX_PENDING).set(pending as f64);
    match state.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
            metrics::gauge!(POOL, "state" => "idle").set(idle);
            metrics::gauge!(POOL, "state" => "in_use").set(size - idle);
        }
        _ => {
            // SQLite: one writer connection; reads use each thread's own connection.
            let writers = if state.writer.is_some() { 1.0 } else { 0.0 };
            metrics::gauge!(POOL, "state" => "writer").set(writers);
        }
    }
    Ok(())
}

/// The metrics listener's application: `GET /metrics` only.
pub fn router(state: AppState) -> axum::Router {
    use axum::response::IntoResponse;
    async fn scrape(
        axum::extract::State(state): axum::extract::State<AppState>,
    ) -> axum::response::Response {
        let body = render(&state).await;
        (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response()
    }
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_code_is_its_own_outcome_and_the_rest_is_other() {
        for code in crate::error::CODES {
            assert_eq!(outcome_label(code), code);
        }
        assert_eq!(outcome_label("STEP_UP_REQUIRED"), "STEP_UP_REQUIRED");
        assert_eq!(outcome_label("OK"), "OK");
        assert_eq!(
            outcome_label("GRAPHQL_PARSE_FAILED"),
            "GRAPHQL_PARSE_FAILED"
        );
        assert_eq!(outcome_label("SOMETHING_A_CLIENT_SENT"), "OTHER");
    }
}
