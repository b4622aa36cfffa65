//! Faults: the database goes away mid-run and comes back. On PostgreSQL the server reaches
//! it through a TCP proxy that the test cuts and restores; on SQLite the pool is closed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use axum::http::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A loopback TCP proxy to the database that can be cut (as if the server stopped) and restored.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = Proxy {
            port,
            upstream,
            tasks: Arc::default(),
        };
        p.serve(listener);
        p
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let t = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(t);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Drops every connection and stops listening: connections are refused.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn authority(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap();
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    rest.split('/').next().unwrap().to_string()
}

const LOGIN: &str =
    "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_the_database_going_away_and_serves_again() {
    if !is_postgres() {
        // SQLite is in-process: the closest fault is a closed pool.
        let app = TestApp::new().await;
        app.register("ann@example.com", "Ann").await;
        app.close_database().await;
        assert_eq!(app.get("/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
        let v = app.gql(None, LOGIN, json!({})).await;
        assert_eq!(error_code(&v), "INTERNAL");
        assert!(v["data"].is_null(), "no token without its audit row");
        return;
    }
    let (url, _) = fresh_database().await;
    let real = authority(&url);
    let proxy = Proxy::start(real.clone()).await;
    let proxied = url.replacen(&real, &format!("127.0.0.1:{}", proxy.port), 1);
    let mut config = crm::config::Config::with_defaults(&proxied);
    config.db_acquire_timeout = Duration::from_secs(2);
    let app = TestApp::on_database(config, crm::clock::ManualClock::new(chrono::Utc::now())).await;
    app.register("ann@example.com", "Ann").await;
    app.ok(None, LOGIN, json!({})).await;

    proxy.cut();
    assert_eq!(app.get("/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
    for _ in 0..3 {
        let v = app.gql(None, LOGIN, json!({})).await;
        assert_eq!(error_code(&v), "INTERNAL");
        assert_eq!(v["errors"][0]["message"], "internal error");
        assert!(
            v["data"].is_null(),
            "no token is issued while its audit row cannot be written"
        );
    }
    assert_eq!(
        app.get("/health").await.0,
        StatusCode::OK,
        "the process still serves"
    );

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/ready").await.0 != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the same process serves again once the database is back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.ok(None, LOGIN, json!({})).await;
    // Logins during the outage left no audit rows: exactly the two that succeeded.
    assert_eq!(app.count("audit_logs", "WHERE action = 'LOGIN'").await, 2);
}
