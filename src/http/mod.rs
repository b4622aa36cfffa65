//! The HTTP surface: `/graphql` (POST executes, GET serves GraphiQL), `/graphql/ws`, the web
//! console at `/`, `/health`, `/ready`.
pub mod console;
pub mod graphiql;
mod graphql;
pub mod ws;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::context::RequestMeta;
use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    /// What every GraphQL operation goes through, on HTTP and on the socket.
    pub gate: crate::graphql::gate::Gate,
    /// Open WebSocket connections per person on this server.
    pub connections: std::sync::Arc<ws::Connections>,
}

/// Reads `Authorization: Bearer <token>`. A missing header is an anonymous request; any
/// other shape is an error.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || AppError::Unauthenticated("malformed Authorization header");
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(bad());
    }
    Ok(Some(token.trim()))
}

/// The client's address for audit rows: the socket peer, or with `TRUST_PROXY` the address
/// the trusted proxies saw. Each proxy appends the address it received the request from to
/// `X-Forwarded-For`, so the client is `TRUSTED_PROXY_HOPS` entries from the right; entries
/// further left were written by the client and prove nothing.
fn client_ip(
    config: &Config,
    headers: &HeaderMap,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Option<String> {
    let forwarded = || {
        let value = headers.get("x-forwarded-for")?.to_str().ok()?;
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        let i = entries.len().checked_sub(config.trusted_proxy_hops)?;
        entries[i]
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| ip.to_string())
    };
    config
        .trust_proxy
        .then(forwarded)
        .flatten()
        .or_else(|| connect.map(|Extension(ConnectInfo(a))| a.ip().to_string()))
}

/// `POST /graphql`: see `graphql.rs`.
pub async fn graphql(
    State(s): State<HttpState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let meta = RequestMeta {
        ip: client_ip(&s.app.config, &headers, connect),
    };
    graphql::graphql(s, headers, meta, body).await
}

/// CORS for the frontend: only the configured origins (`ALLOWED_ORIGINS`); none by default.
pub fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// One log line per request, at INFO: method, route, status and duration. Never the query
/// string or headers (they may carry tokens).
pub async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = crate::telemetry::known_method(req.method());
    let routed = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string());
    let route = routed
        .clone()
        .unwrap_or_else(|| req.uri().path().to_string());
    let started = std::time::Instant::now();
    let response = match crate::telemetry::enabled() {
        false => next.run(req).await,
        true => {
            use tracing::Instrument;
            let template = routed.as_deref().unwrap_or("unmatched");
            let span = crate::telemetry::http_span(req.headers(), method, template);
            let response = next.run(req).instrument(span.clone()).await;
            span.record("http.response.status_code", response.status().as_u16());
            response
        }
    };
    // The metric's label is the route as routed, never the path a client chose.
    crate::metrics::http_request(
        routed.as_deref().unwrap_or("unmatched"),
        response.status().as_u16(),
    );
    tracing::info!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A page this server serves (the console, GraphiQL): HTML under its content policy, never
/// cached (it names the current bundle), never sniffed.
pub(crate) fn html_page(csp: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A file of a page's bundle: its media type, how long it may be cached, never sniffed.
pub(crate) fn static_file(
    media: HeaderValue,
    cache: &'static str,
    body: impl IntoResponse,
) -> Response {
    let mut r = body.into_response();
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, media);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Liveness: the process serves.
pub async fn health() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Readiness: the database answers.
pub async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if let Err(e) = s.app.db.ping().await {
        tracing::warn!(error = %e, "database not ready");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    // A server whose database refuses writes cannot record what support does: not ready.
    match crate::db::write_probe(&s.app).await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "database refuses writes");
            (StatusCode::SERVICE_UNAVAILABLE, "database refuses writes")
        }
    }
}

/// The HTTP application: every route and layer.
pub fn router(state: AppState) -> Router {
    router_with(state, AppOptions::default())
}

/// How `router_with` builds the server. The server itself always uses the default; no setting
/// reaches this.
#[doc(hidden)]
pub struct AppOptions {
    /// Record operations made with impersonation tokens (always, but for the benchmark that
    /// measures what recording costs: `examples/ledger_cost.rs`).
    pub activity_ledger: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            activity_ledger: true,
        }
    }
}

#[doc(hidden)]
pub fn router_with(state: AppState, options: AppOptions) -> Router {
    let config = state.config.clone();
    let limits = crate::graphql::schema::Limits::of(&state.config);
    let schema = crate::graphql::schema::schema_with(state.clone(), limits);
    let shapes = crate::graphql::completion::Shapes::of_sdl(&schema.sdl());
    let http_state = HttpState {
        gate: crate::graphql::gate::Gate {
            shapes: std::sync::Arc::new(shapes),
            schema,
            introspection_schema: crate::graphql::schema::build_introspection_schema(state.clone()),
            ledger: options.activity_ledger,
            state: state.clone(),
        },
        connections: Default::default(),
        app: state,
    };
    Router::new()
        .route("/", get(console::page))
        .route("/assets/{file}", get(console::asset))
        .route("/graphql", get(graphiql::page).post(graphql))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .with_state(http_state)
        // async-graphql reads the body as a stream, so axum's default limit does not apply.
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(cors(&config))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The route only: query strings and headers may carry secrets.
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(axum::middleware::from_fn(log_request))
}
