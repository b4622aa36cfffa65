//! The framework's ceiling for `bench`: a bare axum + async-graphql server answering `{ ok }`
//! (no database, no authentication), built with the same versions and profile as the server.
//! Prints `listening on <addr>` and serves until killed.
//! Run: `cargo run --release --example ceiling -- 127.0.0.1:0`.
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::post_service;

struct Query;

#[Object]
impl Query {
    async fn ok(&self) -> bool {
        true
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let app = Router::new().route("/graphql", post_service(GraphQL::new(schema)));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("address"));
    axum::serve(listener, app).await.expect("serve");
}
