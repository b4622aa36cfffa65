//! One helper that builds the app on a fresh, migrated database: a temp SQLite file by
//! default, or a new PostgreSQL database of its own when `TEST_DATABASE_URL` is set.
#![allow(dead_code)]

pub mod process;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use crm::AppState;
use crm::clock::ManualClock;
use crm::config::Config;
use http_body_util::BodyExt;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tower::ServiceExt;

const LOGIN: &str = r#"
mutation Login($e: String!, $p: String!) {
  login(email: $e, password: $p) {
    accessToken refreshToken expiresAt
    user { id isTwoFactorAuthenticated currentTeam { id } }
  }
}
"#;

const TURN_ON_TWO_FACTOR: &str = r#"
mutation TurnOnTwoFactor($c: String!) {
  turnOnTwoFactor(code: $c, password: "correct-horse-1") {
    accessToken refreshToken
    user { id currentTeam { id } }
  }
}
"#;

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A database URL for one test: a new PostgreSQL database, or a temp SQLite file.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (base, query) = match admin_url.split_once('?') {
                Some((b, q)) => (b.to_string(), format!("?{q}")),
                None => (admin_url.clone(), String::new()),
            };
            let base = base
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(base);
            (format!("{base}/{name}{query}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

pub fn is_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false)
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let (url, dir) = fresh_database().await;
        let mut config = Config::with_defaults(&url);
        tweak(&mut config);
        let app = Self::on_database(config, ManualClock::new(chrono::Utc::now())).await;
        TestApp { _dir: dir, ..app }
    }

    /// Another app ("server process") on the same database with its own pool.
    pub async fn on_database(config: Config, clock: Arc<ManualClock>) -> TestApp {
        let db = crm::db::connect(&config).await.expect("connect");
        migration::Migrator::up(&db, None).await.expect("migrate");
        let url = config.database_url.clone();
        let state = AppState::new(db, config, clock.clone());
        TestApp {
            router: crm::app(state.clone()),
            state,
            clock,
            database_url: url,
            _dir: None,
        }
    }

    /// An app whose every SQL statement is recorded (SeaORM's metric callback), for the
    /// tests that look at the statements themselves.
    pub async fn recording_statements(
        tweak: impl FnOnce(&mut Config),
    ) -> (TestApp, Arc<std::sync::Mutex<Vec<sea_orm::Statement>>>) {
        let (url, dir) = fresh_database().await;
        let mut config = Config::with_defaults(&url);
        tweak(&mut config);
        #[allow(unused_mut)] // set only on PostgreSQL
        let mut db = crm::db::connect(&config).await.expect("connect");
        migration::Migrator::up(&db, None).await.expect("migrate");
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        match crm::db::sqlite::path_of(&url) {
            // SQLite runs on rusqlite behind SeaORM's proxy: the store shows its statements.
            Some(path) => crm::db::sqlite::observe(path, move |s| {
                sink.lock().unwrap().push(s.clone());
            })
            .expect("observe"),
            None => db.set_metric_callback(move |info| {
                sink.lock().unwrap().push(info.statement.clone());
            }),
        }
        let clock = ManualClock::new(chrono::Utc::now());
        let state = AppState::new(db, config, clock.clone());
        let app = TestApp {
            router: crm::app(state.clone()),
            state,
            clock,
            database_url: url,
            _dir: dir,
        };
        (app, seen)
    }

    /// Takes the database away from this server: its pool closed (PostgreSQL), its file
    /// closed for this process (SQLite). Every later statement fails.
    pub async fn close_database(&self) {
        match crm::db::sqlite::path_of(&self.database_url) {
            Some(path) => crm::db::sqlite::close(path),
            None => self.state.db.clone().close().await.unwrap(),
        }
    }

    /// A second server on this app's database, sharing its clock.
    pub async fn second_server(&self) -> TestApp {
        Self::on_database((*self.state.config).clone(), self.clock.clone()).await
    }

    /// POSTs a GraphQL request; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let (status, v) = self.post_json(token, body).await;
        assert_eq!(status, StatusCode::OK, "unexpected status; body {v}");
        v
    }

    pub async fn post_json(&self, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let (status, text) = self.post_raw(token, body).await;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// POSTs a GraphQL request; returns the body as sent (to read its keys' order).
    pub async fn post_raw(&self, token: Option<&str>, body: Value) -> (StatusCode, String) {
        let mut req = Request::post("/graphql").header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = body.to_string();
        req = req.header("content-length", body.len());
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into())
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into())
    }

    /// Runs a query that must succeed; returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let v = self.gql(token, query, variables).await;
        assert!(v.get("errors").is_none(), "unexpected errors: {v}");
        v["data"].clone()
    }

    /// Runs a query that must fail; returns the first error's `extensions.code`.
    pub async fn err_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let v = self.gql(token, query, variables).await;
        error_code(&v)
    }

    pub async fn register(&self, email: &str, name: &str) -> Session {
        let d = self
            .ok(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken user { id currentTeam { id } } } }",
                json!({ "i": { "email": email, "password": "correct-horse-1", "name": name } }),
            )
            .await;
        Session::from_payload(&d["register"])
    }

    /// `login`'s payload. Before the second factor its `user.currentTeam` is
    /// TWO_FACTOR_REQUIRED (null), the only error allowed here.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let v = self
            .gql(None, LOGIN, json!({ "e": email, "p": password }))
            .await;
        for e in v["errors"].as_array().into_iter().flatten() {
            assert_eq!(e["extensions"]["code"], "TWO_FACTOR_REQUIRED", "login: {v}");
            assert_eq!(
                e["path"],
                json!(["login", "user", "currentTeam"]),
                "login: {v}"
            );
        }
        v["data"]["login"].clone()
    }

    /// Enrolls 2FA for a session; returns the session with the new tokens and the secret.
    pub async fn enable_2fa(&self, s: &Session) -> (Session, String) {
        let d = self
            .ok(
                Some(&s.token),
                "mutation { generateTwoFactorSecret { otpauthUrl qrCode } }",
                json!({}),
            )
            .await;
        let url = d["generateTwoFactorSecret"]["otpauthUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let secret = secret_from_url(&url);
        let code = self.code(&secret);
        let d = self
            .ok(Some(&s.token), TURN_ON_TWO_FACTOR, json!({ "c": code }))
            .await;
        (Session::from_payload(&d["turnOnTwoFactor"]), secret)
    }

    /// The TOTP code for the next time step (each step is accepted once).
    pub fn code(&self, secret: &str) -> String {
        self.clock.advance(chrono::Duration::seconds(30));
        crm::auth::totp::code_at(secret, crm::clock::Clock::now(&*self.clock).timestamp()).unwrap()
    }

    /// Sets a role directly in the database (the way an operator's `create-user` would).
    pub async fn set_role(&self, user_id: &str, role: &str) {
        self.state
            .db
            .execute_unprepared(&format!(
                "UPDATE users SET role = '{role}' WHERE id = '{user_id}'"
            ))
            .await
            .unwrap();
    }

    /// A 2FA-authenticated admin (role ADMIN or SUPER_ADMIN) with its TOTP secret.
    pub async fn admin(&self, email: &str, role: &str) -> (Session, String) {
        let s = self.register(email, "Ada Admin").await;
        self.set_role(&s.user_id, role).await;
        self.enable_2fa(&s).await
    }

    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} {filter}");
        let row = self
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.state.db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

/// What a client keeps after signing in.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub refresh: Option<String>,
    pub user_id: String,
    pub team_id: Option<String>,
}

impl Session {
    pub fn from_payload(p: &Value) -> Session {
        Session {
            token: p["accessToken"].as_str().expect("accessToken").to_string(),
            refresh: p["refreshToken"].as_str().map(String::from),
            user_id: p["user"]["id"].as_str().expect("user.id").to_string(),
            team_id: p["user"]["currentTeam"]["id"].as_str().map(String::from),
        }
    }
}

pub fn error_code(v: &Value) -> String {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
        .to_string()
}

pub fn secret_from_url(url: &str) -> String {
    url.split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

/// The claims of a JWT, without verifying it (for asserting what a token carries).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `Config::with_defaults`'s data key, in base64, for server processes on the same database.
pub const TEST_DATA_KEY: &str = "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=";

/// The server binary, with an environment of its own, listening on a free loopback port.
pub fn server_command(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_crm-impersonation"));
    c.env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("APP_ENV")
        .env("RUST_LOG", "warn")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("METRICS_ADDR", "127.0.0.1:0")
        // Production needs the WebAuthn relying party named, and the data key; the key is
        // the in-process test servers' own, so that both open what the other sealed.
        .env("DATA_ENCRYPTION_KEY", TEST_DATA_KEY)
        .env("WEBAUTHN_RP_ID", "localhost")
        .env("WEBAUTHN_ORIGIN", "http://localhost:8080")
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    c
}

pub type ServerOutput = std::io::Lines<std::io::BufReader<std::process::ChildStdout>>;

/// Starts the server and waits for its "listening" line. Returns the process, its port and
/// the rest of its output: read it, `drain` it, or drop it to close the pipe.
pub fn spawn_server(mut cmd: std::process::Command) -> (std::process::Child, u16, ServerOutput) {
    use std::io::BufRead;
    let mut child = cmd.spawn().expect("start the server");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let port = loop {
        let line = lines.next().expect("server output").expect("utf-8 output");
        if let Some(rest) = line.strip_prefix("CRM API listening on http://127.0.0.1:") {
            break rest.trim().parse().expect("a port");
        }
    };
    (child, port, lines)
}

/// Keeps reading a server's output on a thread, so its stdout never fills up or closes.
pub fn drain(lines: ServerOutput) {
    std::thread::spawn(move || lines.for_each(drop));
}
