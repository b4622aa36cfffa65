//! The binary as operators use it: first run with demo data, create-user, print-schema,
//! demo-totp, secret checks, and a clean exit on SIGTERM.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::json;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crm-impersonation"));
    c.env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("APP_ENV")
        .env("RUST_LOG", "warn")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("DATA_ENCRYPTION_KEY", TEST_DATA_KEY)
        // Production needs the WebAuthn relying party named.
        .env("WEBAUTHN_RP_ID", "localhost")
        .env("WEBAUTHN_ORIGIN", "http://localhost:8080");
    c
}

#[test]
fn print_schema_prints_the_checked_in_sdl() {
    let out = bin().arg("print-schema").output().unwrap();
    assert!(out.status.success());
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), file);
}

#[test]
fn a_short_jwt_secret_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let out = bin()
        .args(["serve"])
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
    let out = bin()
        .arg("serve")
        .env("DATABASE_URL", "postgres://u:p@127.0.0.1:1/db")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET is required"));
}

#[tokio::test]
async fn create_user_makes_an_account_that_can_sign_in() {
    let (url, _dir) = fresh_database().await;
    let out = bin()
        .args([
            "create-user",
            "--email",
            "root@example.com",
            "--password",
            "root-pass-123",
            "--name",
            "Root",
            "--role",
            "super-admin",
        ])
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "a-jwt-secret-that-is-long-enough-1234567")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id = stdout.lines().last().unwrap().trim().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{stdout}");
    let app = TestApp::on_database(
        crm::config::Config::with_defaults(&url),
        crm::clock::ManualClock::new(chrono::Utc::now()),
    )
    .await;
    let p = app.login("root@example.com", "root-pass-123").await;
    assert_eq!(p["user"]["id"], id.as_str());
    let me = app
        .ok(
            p["accessToken"].as_str(),
            "{ me { role currentTeam { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["role"], "SUPER_ADMIN");
    // A duplicate is refused with a clear message.
    let out = bin()
        .args([
            "create-user",
            "--email",
            "root@example.com",
            "--password",
            "root-pass-123",
            "--name",
            "Root",
        ])
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "a-jwt-secret-that-is-long-enough-1234567")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already registered"));
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A fresh clone's first run: SQLite under ./data, a generated secret, demo data, the logins
/// printed, demo-totp working, and SIGTERM ending the process cleanly.
#[test]
fn first_run_seeds_demo_data_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, mut lines) = spawn_server(server_command(dir.path()));
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("paul@demo.test");
        printed.push(line);
        if done {
            break;
        }
    }
    drain(lines);
    let text = printed.join("\n");
    assert!(text.contains("GraphiQL: http://127.0.0.1:"), "{text}");
    assert!(
        text.contains(&format!("Web console: http://127.0.0.1:{port}/")),
        "{text}"
    );
    assert!(text.contains("Demo data seeded"), "{text}");
    assert!(
        text.contains("admin@demo.test") && text.contains("demo-admin-1"),
        "{text}"
    );
    assert!(dir.path().join("data/crm.db").exists());
    assert!(dir.path().join("data/jwt-secret").exists());
    assert!(http_get(port, "/health").starts_with("HTTP/1.1 200"));
    assert!(http_get(port, "/").contains(r#"<div id="root">"#));
    assert!(http_get(port, "/ready").starts_with("HTTP/1.1 200"));

    let code = bin()
        .current_dir(dir.path())
        .args(["demo-totp", "admin@demo.test"])
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap();
    assert!(
        code.trim().len() == 6 && code.trim().chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    let refused = bin()
        .current_dir(dir.path())
        .args(["demo-totp", "olivia@demo.test"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "only demo accounts with 2FA");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "clean exit on SIGTERM: {s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM lets requests already in flight finish: logins queued behind a one-permit hashing
/// pool are all answered after the signal.
#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server_command(dir.path());
    cmd.env("SEED_DEMO", "false")
        .env("PASSWORD_HASH_CONCURRENCY", "1");
    let (mut child, port, output) = spawn_server(cmd);
    drain(output);
    let body = r#"{"query":"mutation { login(email: \"nobody@example.com\", password: \"whatever-123\") { accessToken } }"}"#;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let body = body.to_string();
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                write!(
                    s,
                    "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out
            })
        })
        .collect();
    // Let the requests reach the server, then signal while they wait for the hashing pool.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    for c in clients {
        let out = c.join().unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200"),
            "in-flight request answered: {out}"
        );
        assert!(out.contains("UNAUTHENTICATED"), "{out}");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// A server whose stdout is closed (its supervisor went away) keeps serving.
#[test]
fn the_server_keeps_serving_when_its_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server_command(dir.path());
    cmd.env("RUST_LOG", "info");
    let (mut child, port, output) = spawn_server(cmd);
    drop(output); // the pipe's reading end is closed here
    for _ in 0..3 {
        assert!(http_get(port, "/health").starts_with("HTTP/1.1 200"));
        assert!(http_get(port, "/graphql").starts_with("HTTP/1.1 200"));
    }
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn demo_totp_run_elsewhere_says_where_it_looked_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["demo-totp", "admin@demo.test"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("found no database at")
            && err.contains("data/crm.db")
            && err.contains("DATABASE_URL="),
        "{err}"
    );
    assert!(!err.contains("internal error"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "no stray database or secret"
    );
}
