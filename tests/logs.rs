//! Secrets never reach the logs: a whole impersonation flow is logged at TRACE level
//! (SQL and driver logs included) and searched for every secret it handled.
#[path = "it/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_the_logs_of_an_impersonation_flow() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = TestApp::new().await;
    let mut secrets: Vec<String> = vec!["correct-horse-1".into(), "new-password-2".into()];
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    secrets.extend([
        admin.token.clone(),
        admin_secret.clone(),
        customer.token.clone(),
    ]);
    secrets.extend(admin.refresh.clone());
    secrets.extend(customer.refresh.clone());

    let pre = app.login("ada@support.test", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code(&admin_secret);
    let full = app
        .ok(Some(&pre), "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken refreshToken } }", json!({ "c": code }))
        .await;
    let wrong = "mutation { authenticateTwoFactor(code: \"654321\") { accessToken } }";
    app.gql(Some(&pre), wrong, json!({})).await;
    let full_token = full["authenticateTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.extend([
        pre.clone(),
        code.clone(),
        full_token.clone(),
        "654321".into(),
    ]);
    secrets.push(
        full["authenticateTwoFactor"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_string(),
    );

    let imp = app
        .ok(
            Some(&full_token),
            "mutation($u: ID!) { impersonate(userId: $u, reason: \"ticket\") { accessToken } }",
            json!({ "u": customer.user_id }),
        )
        .await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(
        claims(&imp)["impersonationCode"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    secrets.push(imp.clone());
    app.ok(
        Some(&imp),
        "mutation { createBusiness(name: \"B\") { id } }",
        json!({}),
    )
    .await;
    let back = app
        .ok(
            Some(&imp),
            "mutation { cancelImpersonation { accessToken refreshToken } }",
            json!({}),
        )
        .await;
    secrets.push(
        back["cancelImpersonation"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    app.ok(
        Some(&customer.token),
        "mutation { changePassword(currentPassword: \"correct-horse-1\", newPassword: \"new-password-2\") }",
        json!({}),
    )
    .await;
    app.gql(None, "mutation { login(email: \"carl@customer.test\", password: \"wrong-pass-9\") { accessToken } }", json!({})).await;
    secrets.push("wrong-pass-9".into());
    // Failures too: a revoked token and an internal error.
    app.gql(Some(&imp), "{ me { id } }", json!({})).await;

    let db = &app.state.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT password_hash, totp_secret FROM users",
        ))
        .await
        .unwrap();
    for r in rows {
        secrets.push(r.try_get::<String>("", "password_hash").unwrap());
        if let Ok(Some(s)) = r.try_get::<Option<String>>("", "totp_secret") {
            secrets.push(s);
        }
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.len() > 1000,
        "the flow was logged (at TRACE level): {} bytes",
        logs.len()
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret leaked into the logs: {}…",
            &s[..s.len().min(6)]
        );
    }
}
