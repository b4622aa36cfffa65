//! Secrets at rest (issue 36, item 10): TOTP secrets and webhook signing secrets are stored
//! sealed with DATA_ENCRYPTION_KEY, so a copy of the database alone holds none of them; rows
//! written before sealing are sealed at start; `rotate-data-key` re-seals with a new key.

use crate::common::*;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::json;

/// Every value of `column` in `table`, as stored.
async fn stored(app: &TestApp, table: &str, column: &str) -> Vec<String> {
    let db = &app.state.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "v").unwrap())
        .collect()
}

const CREATE: &str = r#"mutation { createWebhookEndpoint(url: "https://siem.example.com/hook", events: ["webhook.test"]) { secret endpoint { id } } }"#;

#[tokio::test]
async fn a_copy_of_the_database_holds_no_totp_or_webhook_secret() {
    let app = TestApp::new().await;
    let (sam, totp) = app.admin("sam@support.test", "SUPER_ADMIN").await;
    let d = app.ok(Some(&sam.token), CREATE, json!({})).await;
    let secret = d["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let id = d["createWebhookEndpoint"]["endpoint"]["id"].clone();
    let d = app
        .ok(
            Some(&sam.token),
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": id }),
        )
        .await;
    let rotated = d["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = app.state.config.data_keys.current_id().to_string();
    let mut values = stored(&app, "users", "totp_secret").await;
    values.extend(stored(&app, "webhook_endpoints", "secret").await);
    values.extend(stored(&app, "webhook_endpoints", "previous_secret").await);
    assert_eq!(values.len(), 3);
    for v in &values {
        assert!(v.starts_with(&format!("sealed:v1:{key_id}:")), "{v}");
        for plain in [&totp, &secret, &rotated] {
            let bare = plain.trim_start_matches("whsec_");
            assert!(!v.contains(bare), "a secret is stored in the clear: {v}");
        }
    }
    // Sealed, they still work: a TOTP code signs in, and both secrets sign a delivery.
    let login = app.login("sam@support.test", "correct-horse-1").await;
    let pending = login["accessToken"].as_str().unwrap();
    app.ok(
        Some(pending),
        "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }",
        json!({ "c": app.code(&totp) }),
    )
    .await;
    let row = crm::entities::webhook_endpoint::Entity::find_by_id(id.as_str().unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let secrets = crm::services::webhooks::sender::secrets_of(&app.state, &row).unwrap();
    let header =
        crm::services::webhooks::sender::signatures(&secrets, "msg_1", 1_700_000_000, "{}")
            .unwrap();
    for s in [&secret, &rotated] {
        let expected = standardwebhooks::Webhook::new(s)
            .unwrap()
            .sign("msg_1", 1_700_000_000, b"{}")
            .unwrap();
        assert!(header.split(' ').any(|h| h == expected), "{header}");
    }
}

#[tokio::test]
async fn secrets_written_before_sealing_are_sealed_at_start_and_keep_working() {
    let app = TestApp::new().await;
    let (sam, totp) = app.admin("sam@support.test", "SUPER_ADMIN").await;
    let d = app.ok(Some(&sam.token), CREATE, json!({})).await;
    let secret = d["createWebhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // As rows stood before this release: the secrets in the clear.
    let db = &app.state.db;
    db.execute_unprepared(&format!(
        "UPDATE users SET totp_secret = '{totp}' WHERE email = 'sam@support.test'"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!("UPDATE webhook_endpoints SET secret = '{secret}'"))
        .await
        .unwrap();
    // A value in the clear still works until it is sealed.
    let sealed = crm::services::sealing::seal_existing(&app.state)
        .await
        .unwrap();
    assert_eq!(sealed, 2);
    for v in stored(&app, "users", "totp_secret").await {
        assert!(v.starts_with("sealed:v1:") && !v.contains(&totp), "{v}");
    }
    for v in stored(&app, "webhook_endpoints", "secret").await {
        assert!(
            v.starts_with("sealed:v1:") && !v.contains(&secret[6..]),
            "{v}"
        );
    }
    // Run again: nothing left to seal.
    assert_eq!(
        crm::services::sealing::seal_existing(&app.state)
            .await
            .unwrap(),
        0
    );
    let login = app.login("sam@support.test", "correct-horse-1").await;
    app.ok(
        login["accessToken"].as_str(),
        "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }",
        json!({ "c": app.code(&totp) }),
    )
    .await;
}
