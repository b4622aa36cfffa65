//! Notices by e-mail, delivered to a real SMTP server process on 127.0.0.1 (aiosmtpd, from
//! the Debian package `python3-aiosmtpd`, writing a maildir): queued in the notice's
//! transaction, retried while the server is down, sent once by one of several senders, and
//! not lost when the API server restarts.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crm::config::smtp::{SmtpConfig, SmtpSecurity};
use serde_json::json;

/// An SMTP server process that keeps every message it receives in a maildir.
struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start(port: u16) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (Debian package python3-aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { child, dir }
    }

    /// Every message received, as text.
    fn messages(&self) -> Vec<String> {
        let new: PathBuf = self.dir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return vec![];
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }

    /// Waits (boundedly) for `n` messages.
    fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_to(port: u16) -> SmtpConfig {
    crm::config::smtp::parse(
        &format!("smtp://127.0.0.1:{port}"),
        Some("CRM Support <support@crm.test>"),
    )
    .unwrap()
}

/// Ada's own mail about turning TOTP on (queued when she was made an admin) is not these
/// tests' mail: checked, then set aside.
async fn set_aside_adas_own_mail(app: &TestApp) {
    let ada_told =
        "WHERE to_address = 'ada@support.test' AND subject = 'The way you sign in changed'";
    assert_eq!(app.count("email_outbox", ada_told).await, 1);
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.state.db,
        &format!("DELETE FROM email_outbox {ada_told}"),
    )
    .await
    .unwrap();
}

const IMPERSONATE: &str =
    "mutation($u: ID!) { impersonate(userId: $u, reason: \"ticket #42\") { accessToken } }";

#[tokio::test]
async fn notices_are_mailed_from_the_outbox_retried_while_the_server_is_down_and_sent_once() {
    let port = free_port();
    let app = TestApp::with_config(|c| c.smtp = Some(smtp_to(port))).await;
    assert_eq!(
        app.state.config.smtp.as_ref().unwrap().security,
        SmtpSecurity::PlainLoopback
    );
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    set_aside_adas_own_mail(&app).await;
    let carl = app.register("carl@customer.test", "Carl").await;
    app.ok(
        Some(&admin.token),
        IMPERSONATE,
        json!({ "u": carl.user_id }),
    )
    .await;
    // Queued in the same transaction as the session's start.
    assert_eq!(app.count("email_outbox", "WHERE sent_at IS NULL").await, 1);
    // The mail server is down: the attempt fails, is recorded, and waits for its retry.
    let outbox = crm::services::notify::outbox::deliver_due;
    assert_eq!(outbox(&app.state).await.unwrap(), 0);
    let waiting = "WHERE sent_at IS NULL AND attempts = 1 AND last_error IS NOT NULL";
    assert_eq!(app.count("email_outbox", waiting).await, 1);
    // It comes up; before the backoff has passed nothing is tried again.
    let sink = SmtpSink::start(port);
    assert_eq!(outbox(&app.state).await.unwrap(), 0);
    app.clock.advance(chrono::Duration::seconds(2));
    // Two servers share the database and look at once: the mail goes out once.
    let b = app.second_server().await;
    let (x, y) = tokio::join!(outbox(&app.state), outbox(&b.state));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    let mail = sink.wait_for(1);
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert!(m.contains("To: carl@customer.test"), "{m}");
    assert!(m.contains("Subject: Support entered your account"), "{m}");
    assert!(
        m.contains("Ada Admin (support) entered your account"),
        "{m}"
    );
    assert!(
        m.contains("From: \"CRM Support\" <support@crm.test>"),
        "{m}"
    );
    assert_eq!(outbox(&app.state).await.unwrap(), 0, "sent once");
    assert_eq!(
        app.count("email_outbox", "WHERE sent_at IS NOT NULL").await,
        1
    );
    // Without SMTP_URL nothing is queued: notices stay in the app.
    let plain = TestApp::new().await;
    let (admin, _) = plain.admin("ada@support.test", "ADMIN").await;
    let carl = plain.register("carl@customer.test", "Carl").await;
    plain
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    // (Ada was told she turned TOTP on; Carl, of the session.)
    assert_eq!(
        plain
            .count("notifications", "WHERE kind <> 'FACTOR_CHANGED'")
            .await,
        1
    );
    assert_eq!(plain.count("email_outbox", "").await, 0);
}

#[tokio::test]
async fn mail_queued_before_a_restart_is_sent_by_the_next_server_in_the_background() {
    let port = free_port();
    // This in-process "server" runs an hour behind the real clock (its test clock moves on
    // with every TOTP code), so what it queues is due for the real server below.
    let (url, _dir) = fresh_database().await;
    let mut config = crm::config::Config::with_defaults(&url);
    config.smtp = Some(smtp_to(port));
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let app = TestApp::on_database(config, crm::clock::ManualClock::new(past)).await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    set_aside_adas_own_mail(&app).await;
    let carl = app.register("carl@customer.test", "Carl").await;
    app.ok(
        Some(&admin.token),
        IMPERSONATE,
        json!({ "u": carl.user_id }),
    )
    .await;
    // It stops with the mail still queued (the mail server was down).
    assert_eq!(
        crm::services::notify::outbox::deliver_due(&app.state)
            .await
            .unwrap(),
        0
    );
    let url = app.database_url.clone();
    // The mail server comes up, and a new server process starts on the same database.
    let sink = SmtpSink::start(port);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server_command(dir.path());
    cmd.env("DATABASE_URL", &url)
        .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .env("SMTP_FROM", "CRM <no-reply@crm.test>")
        .env("SEED_DEMO", "false")
        .env("APP_ENV", "development")
        .env("JWT_SECRET", "a-test-secret-that-is-long-enough-for-hs256");
    let (mut server, _port, lines) = spawn_server(cmd);
    drain(lines);
    let mail = sink.wait_for(1);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        mail.len(),
        1,
        "the queued notice was mailed after the restart"
    );
    assert!(mail[0].contains("To: carl@customer.test"));
    assert_eq!(
        app.count("email_outbox", "WHERE sent_at IS NOT NULL").await,
        1
    );
}
