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
pub mod jobs;
pub mod metrics;
pub mod sealed;
pub mod seed;
pub mod services;
pub mod state;
pub mod telemetry;

pub use graphql::schema::{build_introspection_schema, build_schema};
pub use http::{AppOptions, router_with as app_with};
pub use state::AppState;

/// The HTTP application (`http::router`).
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}
