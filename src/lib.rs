//! A GraphQL API for a team-based CRM whose centrepiece is secure admin impersonation.
//! `app(state)` is the whole HTTP server; `build_schema(state)` the GraphQL schema.
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod entities;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod seed;
pub mod services;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clock::SharedClock;
use crate::config::{Config, Environment};
use crate::graphql::AppSchema;

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
    /// others wait in order (`services::write_txn`) instead of in SQLite's busy handler.
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

/// The GraphQL schema with its data and limits.
pub fn build_schema(state: AppState) -> AppSchema {
    let limits = Limits::of(&state.config);
    schema_with(state, limits)
}

/// The same schema for the standard introspection query (GraphiQL, codegen and
/// graphql-inspector send it), which is 15 levels deep: generous fixed limits instead of the
/// configured ones, so depth and complexity limits never refuse it. Who may introspect at all
/// is decided per request, as for any query.
pub fn build_introspection_schema(state: AppState) -> AppSchema {
    let limits = Limits {
        depth: 32,
        complexity: 50_000,
        directives: state.config.max_directives,
    };
    schema_with(state, limits)
}

struct Limits {
    depth: usize,
    complexity: usize,
    directives: usize,
}

impl Limits {
    fn of(config: &Config) -> Limits {
        Limits {
            depth: config.max_depth,
            complexity: config.max_complexity,
            directives: config.max_directives,
        }
    }
}

fn schema_with(state: AppState, limits: Limits) -> AppSchema {
    let production = state.config.environment == Environment::Production;
    let builder = graphql::schema_builder()
        .data(state)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_directives(limits.directives)
        .limit_recursive_depth(limits.depth * 2)
        .extension(graphql::limits::ErrorCodes)
        .extension(graphql::read_only::ReadOnlySessions)
        .extension(graphql::limits::SelectionLimit {
            max: limits.complexity,
        });
    if production {
        // No "did you mean" hints for probing clients; introspection is gated per request.
        builder.disable_suggestions().finish()
    } else {
        builder.finish()
    }
}

/// The HTTP application.
pub fn app(state: AppState) -> Router {
    app_with(state, AppOptions::default())
}

/// How `app_with` builds the server. The server itself always uses the default; no setting
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
pub fn app_with(state: AppState, options: AppOptions) -> Router {
    let config = state.config.clone();
    let limits = Limits::of(&state.config);
    let schema = schema_with(state.clone(), limits);
    let shapes = graphql::completion::Shapes::of_sdl(&schema.sdl());
    let http_state = http::HttpState {
        gate: graphql::gate::Gate {
            shapes: std::sync::Arc::new(shapes),
            schema,
            introspection_schema: build_introspection_schema(state.clone()),
            ledger: options.activity_ledger,
            state: state.clone(),
        },
        connections: Default::default(),
        app: state,
    };
    Router::new()
        .route("/", get(http::console::page))
        .route("/assets/{file}", get(http::console::asset))
        .route("/graphql", get(http::graphiql::page).post(http::graphql))
        .route("/graphql/ws", get(http::ws::upgrade))
        .route("/graphiql/{file}", get(http::graphiql::asset))
        .route("/health", get(http::health))
        .route("/ready", get(http::ready))
        .with_state(http_state)
        // async-graphql reads the body as a stream, so axum's default limit does not apply.
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(http::cors(&config))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The route only: query strings and headers may carry secrets.
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(axum::middleware::from_fn(http::log_request))
}
