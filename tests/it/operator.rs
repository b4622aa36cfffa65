//! What an operator meets: settings checked at start, demo accounts kept out of production,
//! passwords kept out of `ps`, and one log line per request.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::*;

fn bin(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crm-impersonation"));
    c.env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("APP_ENV")
        .env("RUST_LOG", "warn")
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("DATA_ENCRYPTION_KEY", crate::common::TEST_DATA_KEY)
        // Production needs the WebAuthn relying party named.
        .env("WEBAUTHN_RP_ID", "localhost")
        .env("WEBAUTHN_ORIGIN", "http://localhost:8080")
        .current_dir(dir);
    c
}

#[test]
fn settings_out_of_range_stop_the_server_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (setting, value) in [
        ("IMPERSONATION_TTL_MINUTES", "999999999999999999"),
        ("IMPERSONATION_TTL_MINUTES", "1000000000000"),
        ("REFRESH_TOKEN_TTL_DAYS", "99999999999999"),
        ("REFRESH_TOKEN_TTL_DAYS", "0"),
        ("LOCKOUT_MINUTES", "999999999999999"),
        ("ALLOWED_ORIGINS", "*"),
        ("METRICS_ADDR", "everywhere"),
    ] {
        let out = bin(dir.path())
            .env(setting, value)
            .env("BIND_ADDR", "127.0.0.1:0")
            .arg("serve")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{setting}={value}: {stderr}");
        assert!(stderr.contains(setting), "{setting}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening"),
            "refused before listening"
        );
    }
}

/// A database seeded in development (the demo accounts and their published passwords).
async fn seeded_demo_database(dir: &std::path::Path) -> String {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.join("data").join("crm.db").display()
    );
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let app = TestApp::on_database(
        crm::config::Config::with_defaults(&url),
        crm::clock::ManualClock::new(chrono::Utc::now()),
    )
    .await;
    crm::seed::seed_demo(&app.state).await.unwrap();
    app.close_database().await;
    url
}

#[tokio::test]
async fn production_refuses_published_demo_accounts_until_they_are_locked() {
    let dir = tempfile::tempdir().unwrap();
    let url = seeded_demo_database(dir.path()).await;
    let serve = |dir: &std::path::Path| {
        let mut c = server_command(dir);
        c.env("DATABASE_URL", &url).env("APP_ENV", "production");
        c
    };
    let out = serve(dir.path()).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("olivia@demo.test"), "{stderr}");
    assert!(stderr.contains("disable-demo-accounts"), "{stderr}");
    let demo_totp = || {
        bin(dir.path())
            .env("DATABASE_URL", &url)
            .env("APP_ENV", "development")
            .args(["demo-totp", "admin@demo.test"])
            .output()
            .unwrap()
    };
    let before = demo_totp();
    assert!(
        before.status.success(),
        "{}",
        String::from_utf8_lossy(&before.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&before.stdout).trim().len(), 6);

    let out = bin(dir.path())
        .env("DATABASE_URL", &url)
        .arg("disable-demo-accounts")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("olivia@demo.test"));
    // Locked: no more codes for anyone who reads the README.
    let after = demo_totp();
    assert!(!after.status.success());
    assert!(String::from_utf8_lossy(&after.stdout).trim().is_empty());

    let (mut child, _port, lines) = spawn_server(serve(dir.path()));
    drain(lines);
    child.kill().unwrap();
    child.wait().unwrap();
    let app = TestApp::on_database(
        crm::config::Config::with_defaults(&url),
        crm::clock::ManualClock::new(chrono::Utc::now()),
    )
    .await;
    let v = app
        .gql(
            None,
            "mutation { login(email: \"olivia@demo.test\", password: \"demo-owner-1\") { accessToken } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "UNAUTHENTICATED");
}

fn create_user(
    dir: &std::path::Path,
    url: &str,
    email: &str,
    args: &[&str],
    stdin: &str,
) -> String {
    let mut child = bin(dir)
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", "a-jwt-secret-that-is-long-enough-1234567")
        .args(["create-user", "--email", email, "--name", "Root"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn create_user_reads_the_password_from_a_file_or_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _db) = fresh_database().await;
    let file = dir.path().join("pw");
    std::fs::write(&file, "file-pass-123\n").unwrap();
    let file = file.display().to_string();
    create_user(
        dir.path(),
        &url,
        "a@example.com",
        &["--password-file", &file],
        "",
    );
    create_user(dir.path(), &url, "b@example.com", &[], "stdin-pass-123\n");
    let app = TestApp::on_database(
        crm::config::Config::with_defaults(&url),
        crm::clock::ManualClock::new(chrono::Utc::now()),
    )
    .await;
    app.login("a@example.com", "file-pass-123").await;
    app.login("b@example.com", "stdin-pass-123").await;
}

#[test]
fn each_request_is_logged_once_without_its_query_string_or_colours() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server_command(dir.path());
    cmd.env_remove("RUST_LOG")
        .env("LOG_FORMAT", "json")
        .env("SEED_DEMO", "false");
    let (mut child, port, lines) = spawn_server(cmd);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /health?token=query-string-secret HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let mut seen = vec![];
    let line = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no request line logged; saw {seen:#?}"));
        if line.contains("\"route\"") {
            break line;
        }
        seen.push(line);
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(v["level"], "INFO", "{line}");
    assert_eq!(v["method"], "GET", "{line}");
    assert_eq!(v["route"], "/health", "{line}");
    assert_eq!(v["status"], 200, "{line}");
    assert!(v["duration_ms"].as_f64().is_some(), "{line}");
    assert!(!line.contains("query-string-secret"), "{line}");
    for l in seen.iter().chain([&line]) {
        assert!(!l.contains('\u{1b}'), "no colour codes off a terminal: {l}");
    }
}

#[tokio::test]
async fn rotate_data_key_reseals_every_secret_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = seeded_demo_database(dir.path()).await;
    let new_key = "N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2N2M=";
    let run = |key: &str, old: Option<&str>, args: &[&str]| {
        let mut c = bin(dir.path());
        c.env("DATABASE_URL", &url)
            .env("APP_ENV", "development")
            .env("DATA_ENCRYPTION_KEY", key)
            .args(args);
        if let Some(o) = old {
            c.env("DATA_ENCRYPTION_OLD_KEYS", o);
        }
        c.output().unwrap()
    };
    // The new key alone cannot open what the old one sealed: an error, never a wrong code.
    let out = run(new_key, None, &["demo-totp", "admin@demo.test"]);
    assert!(!out.status.success());
    let out = run(new_key, Some(TEST_DATA_KEY), &["rotate-data-key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sealed with data key"));
    // Now the new key alone opens everything, and the old one nothing.
    let out = run(new_key, None, &["demo-totp", "admin@demo.test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 6);
    let out = run(TEST_DATA_KEY, None, &["demo-totp", "admin@demo.test"]);
    assert!(!out.status.success());
}
