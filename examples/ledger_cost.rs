//! What the activity ledger costs: `me` and `addLeadComment` with an impersonation token, with
//! the ledger (as the server always runs) and without it, in one run, in-process through the
//! axum router (no sockets), 32 concurrent clients, alternating rounds. Also `me` with a normal
//! token, which the ledger must not touch. Run: `cargo run --release --example ledger_cost`.
//! With `DATABASE_URL=postgres://…` it runs on PostgreSQL (an empty database).
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const CLIENTS: usize = 32;
const ROUND: Duration = Duration::from_secs(5);

async fn post(app: &Router, token: Option<&str>, query: &str, vars: Value) -> Value {
    let mut req = Request::post("/graphql").header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = json!({ "query": query, "variables": vars }).to_string();
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Runs `query` from CLIENTS tasks for ROUND; returns (requests per second, p50 ms, p99 ms,
/// errors).
async fn load(
    app: &Router,
    token: &str,
    query: &'static str,
    vars: &Value,
) -> (f64, f64, f64, usize) {
    let deadline = Instant::now() + ROUND;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (app, token, vars) = (app.clone(), token.to_string(), vars.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                let v = post(&app, Some(&token), query, vars.clone()).await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if v.get("errors").is_some() {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (
        all.len() as f64 / ROUND.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        errors,
    )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let mut config = crm::config::Config::with_defaults(&url);
    config.impersonation_ttl = chrono::Duration::minutes(1440);
    config.impersonation_idle = None;
    config.access_token_ttl = chrono::Duration::minutes(1440);
    let db = crm::db::connect(&config).await.unwrap();
    <migration::Migrator as migration::MigratorTrait>::up(&db, None)
        .await
        .unwrap();
    let state = crm::AppState::new(db, config, Arc::new(crm::clock::SystemClock));
    crm::seed::seed_demo(&state).await.unwrap();
    let with = crm::app(state.clone());
    let options = crm::AppOptions {
        activity_ledger: false,
    };
    let without = crm::app_with(state.clone(), options);

    // Ada signs in with 2FA and enters Olivia's account.
    let login = "mutation { login(email: \"admin@demo.test\", password: \"demo-admin-1\") { accessToken } }";
    let pre = post(&with, None, login, json!({})).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = crm::seed::demo_totp(&state, "admin@demo.test", false)
        .await
        .unwrap()
        .unwrap();
    let d = post(
        &with,
        Some(&pre),
        "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }",
        json!({ "c": code }),
    )
    .await;
    let admin = d["data"]["authenticateTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let olivia = post(
        &with,
        Some(&admin),
        "{ teams(first: 10, search: \"Olivia\") { edges { node { owner { id } } } } }",
        json!({}),
    )
    .await;
    let olivia = olivia["data"]["teams"]["edges"][0]["node"]["owner"]["id"].clone();
    let d = post(
        &with,
        Some(&admin),
        "mutation($u: ID!) { impersonate(userId: $u, reason: \"benchmark\") { accessToken } }",
        json!({ "u": olivia }),
    )
    .await;
    let imp = d["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let leads = post(&with, Some(&imp), "{ leads { id } }", json!({})).await;
    let lead = json!({ "l": leads["data"]["leads"][0]["id"] });
    const ME: &str = "{ me { id } }";
    const COMMENT: &str =
        "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"benchmark note\") { id } }";
    println!(
        "{CLIENTS} clients, {}s rounds, in-process, database {}",
        ROUND.as_secs(),
        if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    for round in 1..=2 {
        for (name, app, token, query, vars) in [
            (
                "me, impersonation token, with the ledger",
                &with,
                &imp,
                ME,
                &json!({}),
            ),
            (
                "me, impersonation token, without the ledger",
                &without,
                &imp,
                ME,
                &json!({}),
            ),
            (
                "me, normal token, with the ledger",
                &with,
                &admin,
                ME,
                &json!({}),
            ),
            (
                "me, normal token, without the ledger",
                &without,
                &admin,
                ME,
                &json!({}),
            ),
            (
                "addLeadComment, impersonated, with the ledger",
                &with,
                &imp,
                COMMENT,
                &lead,
            ),
            (
                "addLeadComment, impersonated, without",
                &without,
                &imp,
                COMMENT,
                &lead,
            ),
        ] {
            let (rps, p50, p99, errors) = load(app, token, query, vars).await;
            println!(
                "round {round}  {name:<48} {rps:>8.0} rps  p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  errors {errors}"
            );
        }
    }
}
