//! Two-factor authentication with TOTP.

use crate::common::*;
use serde_json::json;

const TURN_ON: &str = r#"
mutation TurnOn($c: String!) {
  turnOnTwoFactor(code: $c, password: "correct-horse-1") {
    accessToken
    user { isTwoFactorEnabled isTwoFactorAuthenticated }
  }
}
"#;

#[tokio::test]
async fn enrollment_gives_an_otpauth_url_and_a_qr_data_url() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let d = app
        .ok(
            Some(&s.token),
            "mutation { generateTwoFactorSecret { otpauthUrl qrCode } }",
            json!({}),
        )
        .await;
    let url = d["generateTwoFactorSecret"]["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(
        url.contains("ann%40example.com") || url.contains("ann@example.com"),
        "{url}"
    );
    assert!(
        d["generateTwoFactorSecret"]["qrCode"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    // At least 160 bits: 32 base32 characters.
    assert!(secret_from_url(url).len() >= 32);
}

#[tokio::test]
async fn turning_on_needs_a_valid_code_and_then_login_needs_the_second_factor() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    app.ok(
        Some(&s.token),
        "mutation { generateTwoFactorSecret { otpauthUrl } }",
        json!({}),
    )
    .await;
    let on = TURN_ON;
    assert_eq!(
        app.err_code(Some(&s.token), on, json!({ "c": "000000" }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err_code(Some(&s.token), on, json!({ "c": "abc" }))
            .await,
        "BAD_USER_INPUT"
    );
    let (s2, secret) = {
        // Enroll for real.
        let d = app
            .ok(
                Some(&s.token),
                "mutation { generateTwoFactorSecret { otpauthUrl } }",
                json!({}),
            )
            .await;
        let secret = secret_from_url(d["generateTwoFactorSecret"]["otpauthUrl"].as_str().unwrap());
        let d = app
            .ok(Some(&s.token), on, json!({ "c": app.code(&secret) }))
            .await;
        assert_eq!(d["turnOnTwoFactor"]["user"]["isTwoFactorEnabled"], true);
        assert_eq!(
            d["turnOnTwoFactor"]["user"]["isTwoFactorAuthenticated"],
            true
        );
        (
            d["turnOnTwoFactor"]["accessToken"]
                .as_str()
                .unwrap()
                .to_string(),
            secret,
        )
    };
    assert_eq!(claims(&s2)["isTwoFactorAuthenticated"], true);
    // Secrets are never handed out again once 2FA is on.
    let v = app
        .gql(
            Some(&s2),
            "mutation { generateTwoFactorSecret { otpauthUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");

    // Login now gives a token good only for `me` and `authenticateTwoFactor`.
    let p = app.login("ann@example.com", "correct-horse-1").await;
    let pre = p["accessToken"].as_str().unwrap().to_string();
    assert!(p["refreshToken"].is_null());
    assert_eq!(claims(&pre)["isTwoFactorEnable"], true);
    assert_eq!(claims(&pre)["isTwoFactorAuthenticated"], false);
    assert_eq!(claims(&pre)["typ"], "pre_2fa", "never an access token");
    app.ok(
        Some(&pre),
        "{ me { id isTwoFactorAuthenticated } }",
        json!({}),
    )
    .await;
    assert_eq!(
        app.err_code(Some(&pre), "{ businesses { id } }", json!({}))
            .await,
        "TWO_FACTOR_REQUIRED"
    );
    assert_eq!(
        app.err_code(
            Some(&pre),
            "mutation { createTeam(name: \"X\") { id } }",
            json!({})
        )
        .await,
        "TWO_FACTOR_REQUIRED"
    );

    let auth = "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken refreshToken user { isTwoFactorAuthenticated } } }";
    assert_eq!(
        app.err_code(Some(&pre), auth, json!({ "c": "123456" }))
            .await,
        "BAD_USER_INPUT"
    );
    let code = app.code(&secret);
    let d = app.ok(Some(&pre), auth, json!({ "c": code })).await;
    let full = d["authenticateTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(d["authenticateTwoFactor"]["refreshToken"].is_string());
    assert_eq!(claims(&full)["isTwoFactorAuthenticated"], true);
    app.ok(Some(&full), "{ businesses { id } }", json!({}))
        .await;
    // The same code (same time step) is not accepted twice.
    assert_eq!(
        app.err_code(Some(&pre), auth, json!({ "c": code })).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn turning_off_needs_a_valid_code() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let (s, secret) = app.enable_2fa(&s).await;
    let off = "mutation($c: String!) { turnOffTwoFactor(code: $c) }";
    assert_eq!(
        app.err_code(Some(&s.token), off, json!({ "c": "111111" }))
            .await,
        "BAD_USER_INPUT"
    );
    let d = app
        .ok(Some(&s.token), off, json!({ "c": app.code(&secret) }))
        .await;
    assert_eq!(d["turnOffTwoFactor"], true);
    let p = app.login("ann@example.com", "correct-horse-1").await;
    assert!(p["refreshToken"].is_string(), "a plain login again");
    for action in [
        "TWO_FACTOR_SECRET_GENERATED",
        "TWO_FACTOR_ENABLED",
        "TWO_FACTOR_DISABLED",
    ] {
        assert_eq!(
            app.count("audit_logs", &format!("WHERE action = '{action}'"))
                .await,
            1,
            "{action}"
        );
    }
}

/// Every field of `CurrentUser`, from introspection, with a selection that makes it a valid
/// query: `(name, "{ me { name … } }")`.
async fn every_current_user_field(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let d = app
        .ok(
            Some(token),
            "{ __type(name: \"CurrentUser\") { fields { name type { kind ofType { kind ofType { kind ofType { kind } } } } } } }",
            serde_json::json!({}),
        )
        .await;
    d["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap().to_string();
            // The named type's kind, under NON_NULL and LIST wrappers.
            let mut t = &f["type"];
            while matches!(t["kind"].as_str(), Some("NON_NULL" | "LIST")) {
                t = &t["ofType"];
            }
            let selection = match t["kind"].as_str() {
                Some("OBJECT" | "INTERFACE" | "UNION") => format!("{name} {{ __typename }}"),
                _ => name.clone(),
            };
            (name, format!("{{ me {{ {selection} }} }}"))
        })
        .collect()
}

#[tokio::test]
async fn before_the_second_factor_me_answers_only_the_sign_in_step() {
    let app = TestApp::new().await;
    let s = app.register("tess@customer.test", "Tess").await;
    let (full, _) = app.enable_2fa(&s).await;
    let pending = app.login("tess@customer.test", "correct-horse-1").await;
    let pending = pending["accessToken"].as_str().unwrap().to_string();
    let allowed = [
        "id",
        "name",
        "email",
        "isTwoFactorEnabled",
        "isTwoFactorAuthenticated",
        "isTotpEnabled",
        "hasPasskey",
    ];
    let fields = every_current_user_field(&app, &full.token).await;
    assert!(fields.len() > allowed.len() + 5, "{fields:?}");
    for (name, query) in &fields {
        let v = app.gql(Some(&pending), query, serde_json::json!({})).await;
        if allowed.contains(&name.as_str()) {
            assert!(v.get("errors").is_none(), "{name} before 2FA: {v}");
            assert!(
                !v["data"]["me"][name.as_str()].is_null() || name == "hasPasskey",
                "{name}: {v}"
            );
        } else {
            assert_eq!(
                error_code(&v),
                "TWO_FACTOR_REQUIRED",
                "{name} before 2FA: {v}"
            );
            assert_eq!(
                v["errors"][0]["path"],
                serde_json::json!(["me", name]),
                "{v}"
            );
            assert!(
                !v.to_string().contains("Tess's team") && !v.to_string().contains("\"CUSTOMER\""),
                "{name} leaked: {v}"
            );
        }
        // Past the second factor, every field answers.
        let v = app
            .gql(Some(&full.token), query, serde_json::json!({}))
            .await;
        assert!(v.get("errors").is_none(), "{name} after 2FA: {v}");
    }
    let v = app
        .gql(
            Some(&pending),
            "{ me { hasPasskey isTotpEnabled } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["me"],
        serde_json::json!({ "hasPasskey": false, "isTotpEnabled": true })
    );
}
