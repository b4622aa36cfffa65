//! Hardening: hostile tokens, brute force, refusal audit.

use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const THREE_WRONG_CODES: &str = r#"
mutation ThreeWrongCodes {
  a: authenticateTwoFactor(code: "000001") { accessToken }
  b: authenticateTwoFactor(code: "000002") { accessToken }
  c: authenticateTwoFactor(code: "000003") { accessToken }
}
"#;

const DENIALS: &str = r#"
query Denials {
  auditLogs(filter: { action: "IMPERSONATION_DENIED" }) {
    edges { node { actor { id } onBehalfOf { id } details } }
  }
}
"#;

const ME: &str = "{ me { id } }";

fn sign(claims: &Value, key: &[u8], header: Header) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key)).unwrap()
}

#[tokio::test]
async fn hostile_tokens_are_unauthenticated() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let key = app.state.config.jwt_secret.clone();
    let good = claims(&s.token);
    // Sanity: re-signing the real claims with the real key works, so each refusal below is
    // about the one thing changed.
    app.ok(
        Some(&sign(&good, &key, Header::new(Algorithm::HS256))),
        ME,
        json!({}),
    )
    .await;

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        sign(&c, &key, Header::new(Algorithm::HS256))
    };
    let mut cases: Vec<(&str, String)> = vec![
        (
            "other key",
            sign(
                &good,
                b"another-key-another-key-another-key!!",
                Header::new(Algorithm::HS256),
            ),
        ),
        ("HS512", sign(&good, &key, Header::new(Algorithm::HS512))),
        (
            "string exp",
            with(&|c| c["exp"] = json!(c["exp"].to_string())),
        ),
        (
            "missing exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "past exp",
            with(&|c| c["exp"] = json!(c["iat"].as_i64().unwrap() - 60)),
        ),
        ("wrong issuer", with(&|c| c["iss"] = json!("someone-else"))),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("another-service")),
        ),
        (
            "not an access token",
            with(&|c| c["typ"] = json!("refresh")),
        ),
        (
            "string impersonatedAt",
            with(&|c| c["impersonatedAt"] = json!("1700000000")),
        ),
        (
            "partial impersonation claims",
            with(&|c| c["impersonatedBy"] = json!(c["sub"].clone())),
        ),
        (
            "unknown user",
            with(&|c| c["sub"] = json!("01a1feb8-7151-7059-a8ba-26c2068d7c64")),
        ),
    ];
    let mut kid = Header::new(Algorithm::HS256);
    kid.kid = Some("k1".into());
    cases.push(("kid header", sign(&good, &key, kid)));
    let mut jku = Header::new(Algorithm::HS256);
    jku.jku = Some("https://attacker.example/keys".into());
    cases.push(("jku header", sign(&good, &key, jku)));
    // alg: none, unsigned.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({ "alg": "none", "typ": "JWT" })),
            b64(&good)
        ),
    ));
    // Tampered claims under the original signature.
    let parts: Vec<&str> = s.token.split('.').collect();
    let mut tampered = good.clone();
    tampered["sub"] = json!("someone-else");
    cases.push((
        "tampered",
        format!("{}.{}.{}", parts[0], b64(&tampered), parts[2]),
    ));
    // A refresh token is not an access token.
    cases.push(("refresh token", s.refresh.clone().unwrap()));

    for (name, token) in cases {
        assert_eq!(
            app.err_code(Some(&token), ME, json!({})).await,
            "UNAUTHENTICATED",
            "{name}"
        );
    }
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_email_and_audited() {
    let app = TestApp::new().await;
    app.register("ann@example.com", "Ann").await;
    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
    for _ in 0..5 {
        let v = app
            .gql(
                None,
                q,
                json!({ "e": "ann@example.com", "p": "wrong-password-1" }),
            )
            .await;
        assert_eq!(error_code(&v), "UNAUTHENTICATED");
    }
    // Even the right password is refused now, with a retry time.
    let v = app
        .gql(
            None,
            q,
            json!({ "e": "ann@example.com", "p": "correct-horse-1" }),
        )
        .await;
    assert_eq!(error_code(&v), "RATE_LIMITED");
    let retry = v["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_i64()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'LOGIN_FAILED'")
            .await,
        5
    );
    // Unknown emails are limited the same way (no enumeration through the limiter).
    for _ in 0..5 {
        app.gql(
            None,
            q,
            json!({ "e": "ghost@example.com", "p": "wrong-password-1" }),
        )
        .await;
    }
    let v = app
        .gql(
            None,
            q,
            json!({ "e": "ghost@example.com", "p": "wrong-password-1" }),
        )
        .await;
    assert_eq!(error_code(&v), "RATE_LIMITED");
    // Other emails are unaffected; after 15 minutes Ann may sign in again.
    let other = app.register("bob@example.com", "Bob").await;
    let _ = other;
    app.clock.advance(chrono::Duration::minutes(16));
    app.ok(
        None,
        q,
        json!({ "e": "ann@example.com", "p": "correct-horse-1" }),
    )
    .await;
}

#[tokio::test]
async fn wrong_totp_codes_are_rate_limited_across_aliases_batches_and_servers() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let (_, secret) = app.enable_2fa(&s).await;
    let pre = app.login("ann@example.com", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // Three wrong codes in one request through aliases...
    let v = app.gql(Some(&pre), THREE_WRONG_CODES, json!({})).await;
    assert_eq!(v["errors"].as_array().unwrap().len(), 3);
    // ...and two in a batch, on another server sharing the database.
    let other = app.second_server().await;
    let batch = json!([
        { "query": "mutation { authenticateTwoFactor(code: \"000004\") { accessToken } }" },
        { "query": "mutation { authenticateTwoFactor(code: \"000005\") { accessToken } }" },
    ]);
    let (_, out) = other.post_json(Some(&pre), batch).await;
    assert_eq!(out.as_array().unwrap().len(), 2);
    // Five failures: now even the right code is refused, on both servers.
    let q = "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }";
    let v = app
        .gql(Some(&pre), q, json!({ "c": app.code(&secret) }))
        .await;
    assert_eq!(error_code(&v), "RATE_LIMITED");
    assert!(
        v["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(
        other
            .err_code(Some(&pre), q, json!({ "c": app.code(&secret) }))
            .await,
        "RATE_LIMITED"
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'TWO_FACTOR_FAILED'")
            .await,
        5
    );
}

#[tokio::test]
async fn a_replayed_totp_code_is_refused_even_when_requests_race() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let (_, secret) = app.enable_2fa(&s).await;
    let pre = app.login("ann@example.com", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code(&secret);
    let q = "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }";
    let runs = (0..4).map(|_| app.gql(Some(&pre), q, json!({ "c": code })));
    let results = futures_util::future::join_all(runs).await;
    let ok = results.iter().filter(|v| v.get("errors").is_none()).count();
    assert_eq!(
        ok, 1,
        "exactly one of the racing requests gets in: {results:?}"
    );
    // The previous step's code (still inside the skew window) is refused too: steps only go forward.
    let earlier = crm::auth::totp::code_at(
        &secret,
        crm::clock::Clock::now(&*app.clock).timestamp() - 30,
    )
    .unwrap();
    assert_eq!(
        app.err_code(Some(&pre), q, json!({ "c": earlier })).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn denied_impersonations_are_audited_and_change_nothing_else() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let v = app
        .gql(
            Some(&admin.token),
            "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }",
            json!({ "u": sup.user_id }),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["reason"],
        "TARGET_IS_SUPER_ADMIN"
    );
    let logs = app.ok(Some(&admin.token), DENIALS, json!({})).await;
    let node = &logs["auditLogs"]["edges"][0]["node"];
    assert_eq!(node["actor"]["id"], admin.user_id.as_str());
    assert_eq!(node["onBehalfOf"]["id"], sup.user_id.as_str());
    assert!(
        node["details"]
            .as_str()
            .unwrap()
            .contains("TARGET_IS_SUPER_ADMIN")
    );
    assert_eq!(app.count("impersonations", "").await, 0);
}

#[tokio::test]
async fn a_pre_2fa_token_never_becomes_an_access_token() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let (full, secret) = app.enable_2fa(&s).await;
    let pre = app.login("ann@example.com", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&pre)["typ"], "pre_2fa");
    // 2FA is switched off from the full session: the pending token still cannot act.
    app.ok(
        Some(&full.token),
        "mutation($c: String!) { turnOffTwoFactor(code: $c) }",
        json!({ "c": app.code(&secret) }),
    )
    .await;
    assert_eq!(
        app.err_code(Some(&pre), "{ businesses { id } }", json!({}))
            .await,
        "TWO_FACTOR_REQUIRED"
    );
    app.ok(Some(&pre), "{ me { id } }", json!({})).await;
    // A pre_2fa token that claims to be authenticated is forged.
    let mut c = claims(&pre);
    c["isTwoFactorAuthenticated"] = json!(true);
    let forged = sign(
        &c,
        &app.state.config.jwt_secret,
        Header::new(Algorithm::HS256),
    );
    assert_eq!(
        app.err_code(Some(&forged), "{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn failed_logins_appear_in_the_admins_audit_log_without_breaking_it() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let q = "mutation($e: String!) { login(email: $e, password: \"wrong-password-1\") { accessToken } }";
    app.gql(None, q, json!({ "e": "ada@support.test" })).await;
    app.gql(None, q, json!({ "e": "ghost@example.com" })).await;
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'LOGIN_FAILED'")
            .await,
        2,
        "both attempts are recorded"
    );
    let d = app
        .ok(
            Some(&admin.token),
            "{ auditLogs(first: 50) { edges { node { action actor { id } actorName } } } }",
            json!({}),
        )
        .await;
    let failed: Vec<_> = d["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["action"] == "LOGIN_FAILED")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "the known account's failure is listed under it"
    );
    assert_eq!(failed[0]["node"]["actor"]["id"], admin.user_id.as_str());
}
