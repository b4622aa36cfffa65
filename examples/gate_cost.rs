//! What the operation gate's per-operation work costs (issue 22): authenticating the token
//! afresh (and, with an impersonation token, re-reading the session and counting the
//! operation as activity), and the pass that gives each answer the spec's shape. Measured
//! in-process on demo data, one client at a time, next to a whole `me` over HTTP (through the
//! axum router) and over a real `/graphql/ws` socket on 127.0.0.1.
//! Run: `cargo run --release --example gate_cost` (`DATABASE_URL=postgres://…` for PostgreSQL,
//! an empty database).
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

const N: usize = 3000;
const ME: &str = "{ me { id name email role currentTeam { id name } } }";

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

/// Median and p99 of `f`'s duration in microseconds, over N runs after N/10 of warm-up.
async fn time<F, Fut>(mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..N / 10 {
        f().await;
    }
    let mut all = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        f().await;
        all.push(t.elapsed().as_secs_f64() * 1e6);
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (all[N / 2], all[N * 99 / 100])
}

fn row(name: &str, (p50, p99): (f64, f64)) {
    println!("{name:<62} p50 {p50:>8.1} µs  p99 {p99:>8.1} µs");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(url: &str, token: &str) -> Socket {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut s, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    s.send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let _ack = s.next().await.unwrap().unwrap();
    s
}

/// One `me` over the socket: subscribe, read `next` and `complete`.
async fn socket_me(s: &mut Socket, id: usize) {
    let sub = json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": ME } });
    s.send(Message::Text(sub.to_string().into())).await.unwrap();
    let mut seen = 0;
    while seen < 2 {
        if let Some(Ok(Message::Text(t))) = s.next().await {
            assert!(!t.contains("\"errors\""), "{t}");
            seen += 1;
        }
    }
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
    let app = crm::app(state.clone());

    // Ada signs in with 2FA and enters Olivia's account.
    let login = "mutation { login(email: \"admin@demo.test\", password: \"demo-admin-1\") { accessToken } }";
    let pre = post(&app, None, login, json!({})).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = crm::seed::demo_totp(&state, "admin@demo.test", false)
        .await
        .unwrap()
        .unwrap();
    let d = post(
        &app,
        Some(&pre),
        "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }",
        json!({ "c": code }),
    )
    .await;
    let admin = d["data"]["authenticateTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let login = "mutation { login(email: \"olivia@demo.test\", password: \"demo-owner-1\") { accessToken user { id } } }";
    let d = post(&app, None, login, json!({})).await;
    let customer = d["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let olivia = d["data"]["login"]["user"]["id"].clone();
    let d = post(
        &app,
        Some(&admin),
        "mutation($u: ID!) { impersonate(userId: $u, reason: \"benchmark\") { accessToken } }",
        json!({ "u": olivia }),
    )
    .await;
    let imp = d["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}/graphql/ws", listener.local_addr().unwrap());
    let served = app
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, served).await });

    println!(
        "one client, {N} runs each, in-process, database {}",
        if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    use crm::services::accounts::bearer::{authenticate, note_operation};
    for (who, token) in [
        ("customer's token", &customer),
        ("impersonation token", &imp),
    ] {
        println!("-- {who}");
        row(
            "the gate's check: authenticate afresh",
            time(|| async {
                authenticate(&state, token).await.unwrap();
            })
            .await,
        );
        let caller = authenticate(&state, token).await.unwrap();
        row(
            "the gate's check: count the operation as activity",
            time(|| {
                let (state, mut caller) = (&state, caller.clone());
                async move { note_operation(state, &mut caller).await.unwrap() }
            })
            .await,
        );
        row(
            "whole `me` over HTTP (the router)",
            time(|| async {
                let v = post(&app, Some(token), ME, json!({})).await;
                assert!(v.get("errors").is_none(), "{v}");
            })
            .await,
        );
        let s = Arc::new(tokio::sync::Mutex::new(socket(&ws_url, token).await));
        let ids = std::sync::atomic::AtomicUsize::new(0);
        row(
            "whole `me` over the socket (subscribe, next, complete)",
            time(|| {
                let id = ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let s = s.clone();
                async move { socket_me(&mut *s.lock().await, id).await }
            })
            .await,
        );
    }
    // The answer's shape: a pass over `me`'s answer.
    let shapes = crm::graphql::completion::Shapes::of_sdl(&crm::graphql::sdl());
    let doc = async_graphql::parser::parse_query(ME).unwrap();
    let op = crm::graphql::completion::Operation::new(doc, None);
    let answer = post(&app, Some(&customer), ME, json!({})).await;
    let data = async_graphql::Value::from_json(answer["data"].clone()).unwrap();
    println!("-- the answer's shape");
    row(
        "completion pass over `me`'s answer",
        time(|| async {
            let r = async_graphql::Response::new(data.clone());
            std::hint::black_box(crm::graphql::completion::complete(&shapes, &op, r));
        })
        .await,
    );
    row(
        "(cloning the answer, included above)",
        time(|| async {
            std::hint::black_box(async_graphql::Response::new(data.clone()));
        })
        .await,
    );
}
