//! Security, round 2: what a white-box review and a hostile client found, one scenario each.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const REGISTER_NAMED: &str = r#"
mutation RegisterNamed($n: String!) {
  register(input: { email: "x@example.com", password: "correct-horse-1", name: $n }) {
    user { currentTeam { name } }
  }
}
"#;

const LOGIN: &str =
    "mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
const AUTHENTICATE_2FA: &str =
    "mutation Authenticate($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }";
const IMPERSONATE: &str = "mutation Impersonate($u: ID!) { impersonate(userId: $u, reason: \"ticket #7\") { accessToken } }";

/// POSTs one GraphQL request to a router (for requests sent in parallel).
async fn post(router: axum::Router, token: Option<String>, query: &str, vars: Value) -> Value {
    let mut req = Request::post("/graphql").header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = json!({ "query": query, "variables": vars }).to_string();
    let resp = router
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Sends `n` copies of a request at once, spread over the routers, and returns each answer's
/// first error code ("OK" for none).
async fn burst(
    routers: &[axum::Router],
    n: usize,
    token: Option<&str>,
    query: &'static str,
    vars: Value,
) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let router = routers[i % routers.len()].clone();
            let token = token.map(String::from);
            let vars = vars.clone();
            tokio::spawn(async move { post(router, token, query, vars).await })
        })
        .collect();
    let mut codes = vec![];
    for t in tasks {
        let v = t.await.unwrap();
        codes.push(match v.get("errors") {
            Some(_) => error_code(&v),
            None => "OK".into(),
        });
    }
    codes
}

fn count(codes: &[String], code: &str) -> usize {
    codes.iter().filter(|c| *c == code).count()
}

// 1. At most MAX_FAILED_ATTEMPTS guesses are evaluated, however many arrive at once.

#[tokio::test]
async fn a_burst_of_wrong_passwords_on_two_servers_evaluates_at_most_five() {
    let app = TestApp::new().await;
    app.register("ann@example.com", "Ann").await;
    let other = app.second_server().await;
    let routers = [app.router.clone(), other.router.clone()];
    let wrong = json!({ "e": "ann@example.com", "p": "wrong-password-1" });
    let codes = burst(&routers, 60, None, LOGIN, wrong).await;
    assert_eq!(count(&codes, "UNAUTHENTICATED"), 5, "{codes:?}");
    assert_eq!(count(&codes, "RATE_LIMITED"), 55, "{codes:?}");
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'LOGIN_FAILED'")
            .await,
        5
    );
    // The right password, right after, is refused too: the window's guesses are used up.
    let right = json!({ "e": "ann@example.com", "p": "correct-horse-1" });
    assert_eq!(
        app.err_code(None, LOGIN, right.clone()).await,
        "RATE_LIMITED"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    app.ok(None, LOGIN, right).await;
}

#[tokio::test]
async fn a_burst_of_wrong_totp_codes_evaluates_at_most_five() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    app.enable_2fa(&s).await;
    let pre = app.login("ann@example.com", "correct-horse-1").await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let codes = burst(
        std::slice::from_ref(&app.router),
        40,
        Some(&pre),
        AUTHENTICATE_2FA,
        json!({ "c": "000000" }),
    )
    .await;
    assert_eq!(count(&codes, "BAD_USER_INPUT"), 5, "{codes:?}");
    assert_eq!(count(&codes, "RATE_LIMITED"), 35, "{codes:?}");
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'TWO_FACTOR_FAILED'")
            .await,
        5
    );
}

// 2. changePassword is no password oracle.

#[tokio::test]
async fn change_password_guesses_are_throttled_and_audited() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let mut aliases: String = (0..59)
        .map(|i| format!("w{i}: changePassword(currentPassword: \"guess-number-{i}\", newPassword: \"stolen-pass-9\") "))
        .collect();
    aliases.push_str("right: changePassword(currentPassword: \"correct-horse-1\", newPassword: \"stolen-pass-9\")");
    let v = app
        .gql(
            Some(&s.token),
            &format!("mutation {{ {aliases} }}"),
            json!({}),
        )
        .await;
    let codes: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "BAD_USER_INPUT").count(),
        5,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == "RATE_LIMITED").count(),
        55,
        "{codes:?}"
    );
    assert_eq!(
        v["data"]["right"],
        Value::Null,
        "the 60th guess did not change the password"
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'PASSWORD_CHANGE_FAILED'")
            .await,
        5
    );
    // The guesses used up the email's login guesses too; later, the old password still works.
    app.clock.advance(chrono::Duration::minutes(16));
    app.login("ann@example.com", "correct-horse-1").await;
}

// 3. A stolen access token does not become the account.

#[tokio::test]
async fn turning_two_factor_on_needs_the_current_password() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let d = app
        .ok(
            Some(&s.token),
            "mutation { generateTwoFactorSecret { otpauthUrl } }",
            json!({}),
        )
        .await;
    let secret = secret_from_url(d["generateTwoFactorSecret"]["otpauthUrl"].as_str().unwrap());
    let on = "mutation On($c: String!, $p: String!) { turnOnTwoFactor(code: $c, password: $p) { accessToken } }";
    let v = app
        .gql(
            Some(&s.token),
            on,
            json!({ "c": app.code(&secret), "p": "not-my-password-1" }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(v["errors"][0]["extensions"]["field"], "password");
    let me = app
        .ok(Some(&s.token), "{ me { isTwoFactorEnabled } }", json!({}))
        .await;
    assert_eq!(me["me"]["isTwoFactorEnabled"], false);
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'TWO_FACTOR_ENABLE_FAILED'")
            .await,
        1
    );
    // Without the argument at all, the operation does not validate.
    let v = app
        .gql(
            Some(&s.token),
            "mutation { turnOnTwoFactor(code: \"123456\") { accessToken } }",
            json!({}),
        )
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{v}"
    );
    app.ok(
        Some(&s.token),
        on,
        json!({ "c": app.code(&secret), "p": "correct-horse-1" }),
    )
    .await;
}

#[tokio::test]
async fn switching_to_the_current_team_mints_no_refresh_token() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let before = app.count("refresh_tokens", "").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation KillSwitch($t: ID!) { switchTeam(teamId: $t) { refreshToken } }",
            json!({ "t": s.team_id }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(app.count("refresh_tokens", "").await, before);
}

// 4. Admin operations need the admin's own 2FA, on and passed.

#[tokio::test]
async fn admins_without_two_factor_get_no_admin_view() {
    let app = TestApp::new().await;
    let admin = app.register("ada@support.test", "Ada").await;
    app.set_role(&admin.user_id, "ADMIN").await;
    let sup = app.register("sam@support.test", "Sam").await;
    app.set_role(&sup.user_id, "SUPER_ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    for q in [
        "{ teams(first: 5) { edges { node { owner { email } } } } }",
        "{ impersonations(first: 5) { edges { node { id } } } }",
    ] {
        assert_eq!(
            app.err_code(Some(&admin.token), q, json!({})).await,
            "TWO_FACTOR_REQUIRED",
            "{q}"
        );
    }
    let set_role = "mutation Role($u: ID!) { setUserRole(userId: $u, role: ADMIN) { role } }";
    assert_eq!(
        app.err_code(Some(&sup.token), set_role, json!({ "u": carl.user_id }))
            .await,
        "TWO_FACTOR_REQUIRED"
    );
    // auditLogs: only the admin's own team's rows, like any user.
    let logs = app
        .ok(
            Some(&admin.token),
            "{ auditLogs(first: 100) { edges { node { team { id } } } } }",
            json!({}),
        )
        .await;
    let teams: Vec<&Value> = logs["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["team"]["id"])
        .collect();
    assert!(!teams.is_empty());
    assert!(
        teams.iter().all(|t| **t == json!(admin.team_id)),
        "{teams:?}"
    );
    // With 2FA on and passed, the same admin gets the admin view.
    let (admin, _) = app.enable_2fa(&admin).await;
    app.ok(
        Some(&admin.token),
        "{ teams(first: 5) { edges { node { owner { email } } } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn production_introspection_needs_an_admin_with_two_factor() {
    let app = TestApp::with_config(|c| c.environment = crm::config::Environment::Production).await;
    let admin = app.register("ada@support.test", "Ada").await;
    app.set_role(&admin.user_id, "ADMIN").await;
    let q = "{ __schema { queryType { name } } }";
    // Introspection switched off answers no schema.
    let v = app.gql(Some(&admin.token), q, json!({})).await;
    assert!(v["data"]["__schema"].is_null(), "{v}");
    let (admin, _) = app.enable_2fa(&admin).await;
    let d = app.ok(Some(&admin.token), q, json!({})).await;
    assert_eq!(d["__schema"]["queryType"]["name"], "Query");
}

// 5. Lists are bounded and priced by their page size.

#[tokio::test]
async fn comment_lists_are_capped_and_pages_reach_the_rest() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let lead = app
        .ok(
            Some(&s.token),
            "mutation { createLead(name: \"L\") { id } }",
            json!({}),
        )
        .await["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..25 {
        app.ok(
            Some(&s.token),
            "mutation Add($l: ID!, $t: String!) { addLeadComment(leadId: $l, text: $t) { id } }",
            json!({ "l": lead, "t": format!("note {i}") }),
        )
        .await;
    }
    let q = "query Lead($l: ID!) { lead(id: $l) { comments { text } all: comments(first: 100) { text } } }";
    let d = app.ok(Some(&s.token), q, json!({ "l": lead })).await;
    let latest = d["lead"]["comments"].as_array().unwrap();
    assert_eq!(latest.len(), 20, "the plain list holds the latest 20");
    assert_eq!(latest[0]["text"], "note 5");
    assert_eq!(latest[19]["text"], "note 24");
    assert_eq!(d["lead"]["all"].as_array().unwrap().len(), 25);
    let v = app
        .gql(
            Some(&s.token),
            "{ businesses(first: 101) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
}

#[tokio::test]
async fn many_aliases_of_lists_or_typename_are_refused_before_any_work() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let lists: String = (0..150)
        .map(|i| format!("a{i}: businesses {{ comments {{ text }} }} "))
        .collect();
    let v = app
        .gql(Some(&s.token), &format!("{{ {lists} }}"), json!({}))
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{v}"
    );
    assert!(v.get("data").map(|d| d.is_null()).unwrap_or(true));
    let typenames: String = (0..10_001).map(|i| format!("t{i}: __typename ")).collect();
    let v = app
        .gql(Some(&s.token), &format!("{{ {typenames} }}"), json!({}))
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{v}"
    );
    // Through fragments too.
    let frag: String = (0..200).map(|i| format!("t{i}: __typename ")).collect();
    let spreads: String = (0..60).map(|i| format!("m{i}: me {{ ...F }} ")).collect();
    let q = format!("query {{ {spreads} }} fragment F on CurrentUser {{ {frag} }}");
    let v = app.gql(Some(&s.token), &q, json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{v}"
    );
    // An ordinary page is fine.
    app.ok(
        Some(&s.token),
        "{ businesses { id name comments { text authorName } } }",
        json!({}),
    )
    .await;
}

// 6. Every session that dies is ended once, with its cause.

async fn session_world() -> (TestApp, Session, Session, String) {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let token = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    (app, admin, carl, token)
}

async fn ended_rows(app: &TestApp, reason: &str) -> (i64, i64) {
    let sessions = app
        .count(
            "impersonations",
            &format!("WHERE ended_at IS NOT NULL AND end_reason = '{reason}'"),
        )
        .await;
    let rows = app
        .count(
            "audit_logs",
            &format!("WHERE action = 'IMPERSONATION_ENDED' AND details LIKE '%\"endReason\":\"{reason}\"%'"),
        )
        .await;
    (sessions, rows)
}

#[tokio::test]
async fn withdrawn_consent_ends_the_session_on_record() {
    let (app, admin, carl, token) = session_world().await;
    app.ok(
        Some(&carl.token),
        "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        app.err_code(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.err_code(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        ended_rows(&app, "REVOKED_BY_USER").await,
        (1, 1),
        "ended once"
    );
    let active = app
        .ok(
            Some(&admin.token),
            "{ impersonations(first: 5, activeOnly: true) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(active["impersonations"]["edges"], json!([]));
}

#[tokio::test]
async fn a_demoted_impersonator_ends_the_session_on_record() {
    let (app, admin, _carl, token) = session_world().await;
    app.set_role(&admin.user_id, "USER").await;
    assert_eq!(
        app.err_code(Some(&token), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(ended_rows(&app, "POLICY_CHANGED").await, (1, 1));
}

#[tokio::test]
async fn expired_sessions_are_ended_once_by_the_sweep_on_every_server() {
    let (app, _admin, _carl, _token) = session_world().await;
    let other = app.second_server().await;
    assert_eq!(
        crm::services::impersonation::ending::sweep_expired(&app.state)
            .await
            .unwrap(),
        0
    );
    app.clock.advance(chrono::Duration::minutes(31));
    let (a, b) = tokio::join!(
        crm::services::impersonation::ending::sweep_expired(&app.state),
        crm::services::impersonation::ending::sweep_expired(&other.state),
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "two servers sweeping record one end"
    );
    assert_eq!(ended_rows(&app, "EXPIRED").await, (1, 1));
    assert_eq!(
        app.count("impersonations", "WHERE ended_at = expires_at")
            .await,
        1,
        "an expired session ends at its expiry"
    );
}

// 7. What the customer sees of support.

#[tokio::test]
async fn customers_see_no_support_address_or_details_in_their_audit_log() {
    let (app, admin, carl, token) = session_world().await;
    app.ok(
        Some(&token),
        "mutation { createBusiness(name: \"By support\") { id } }",
        json!({}),
    )
    .await;
    let q =
        "{ auditLogs(first: 50) { edges { node { action isImpersonated ipAddress details } } } }";
    let mine = app.ok(Some(&carl.token), q, json!({})).await;
    let rows = mine["auditLogs"]["edges"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["node"]["isImpersonated"] == true));
    for r in rows {
        assert_eq!(r["node"]["ipAddress"], Value::Null, "{r}");
        assert_eq!(r["node"]["details"], Value::Null, "{r}");
    }
    let all = app.ok(Some(&admin.token), q, json!({})).await;
    assert!(
        all["auditLogs"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["node"]["details"].is_string()),
        "2FA admins still see details"
    );
}

// 8. Names that could pass for support, or hide what they say.

#[tokio::test]
async fn names_cannot_impersonate_support_or_hide_characters() {
    let app = TestApp::new().await;
    let reg = REGISTER_NAMED;
    for bad in [
        "Support team (Ada Admin)",
        " support TEAM",
        "Ann\u{202E}nimda",
        "Ann\r\nAdmin",
        "Ann\u{0}",
        "\u{200B}Ann",
    ] {
        let v = app.gql(None, reg, json!({ "n": bad })).await;
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{bad:?}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "name");
    }
    assert_eq!(app.count("users", "").await, 0);
    let s = app.register("ann@example.com", "Ann").await;
    let v = app
        .gql(
            Some(&s.token),
            "mutation { updateProfile(input: { name: \"Support Team\" }) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // The longest allowed name still gets its team.
    let long = "N".repeat(200);
    let d = app.ok(None, reg, json!({ "n": long })).await;
    let team = d["register"]["user"]["currentTeam"]["name"]
        .as_str()
        .unwrap();
    assert!(
        team.chars().count() <= 200 && team.ends_with("'s team"),
        "{team}"
    );
}

// 12. Concurrent registrations of one email.

#[tokio::test]
async fn racing_registrations_of_one_email_get_bad_user_input() {
    let app = TestApp::new().await;
    let reg = "mutation { register(input: { email: \"race@example.com\", password: \"correct-horse-1\", name: \"R\" }) { accessToken } }";
    let codes = burst(std::slice::from_ref(&app.router), 8, None, reg, json!({})).await;
    assert_eq!(count(&codes, "OK"), 1, "{codes:?}");
    assert_eq!(count(&codes, "BAD_USER_INPUT"), 7, "{codes:?}");
    assert_eq!(app.count("users", "").await, 1);
}

// 13. Refusals that used to leave no trace.

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family_and_is_audited() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let q = "mutation R($r: String!) { refreshToken(refreshToken: $r) { refreshToken } }";
    let old = s.refresh.clone().unwrap();
    let next = app.ok(None, q, json!({ "r": old })).await["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.err_code(None, q, json!({ "r": old })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'REFRESH_TOKEN_REUSED'")
            .await,
        1
    );
    assert_eq!(
        app.err_code(None, q, json!({ "r": next })).await,
        "UNAUTHENTICATED",
        "family revoked"
    );
}

#[tokio::test]
async fn concurrent_reuse_of_a_refresh_token_revokes_its_family() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let q = "mutation R($r: String!) { refreshToken(refreshToken: $r) { refreshToken } }";
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let router = app.router.clone();
            let r = s.refresh.clone();
            tokio::spawn(async move { post(router, None, q, json!({ "r": r })).await })
        })
        .collect();
    let mut winners = vec![];
    for t in tasks {
        let v = t.await.unwrap();
        if let Some(r) = v["data"]["refreshToken"]["refreshToken"].as_str() {
            winners.push(r.to_string());
        }
    }
    assert!(winners.len() <= 1, "{winners:?}");
    for w in winners {
        assert_eq!(
            app.err_code(None, q, json!({ "r": w })).await,
            "UNAUTHENTICATED"
        );
    }
    assert!(
        app.count("audit_logs", "WHERE action = 'REFRESH_TOKEN_REUSED'")
            .await
            >= 1
    );
}

// 15. Secrets never reach a `Debug` line.

#[tokio::test]
async fn the_auth_context_debug_output_holds_no_secret() {
    let (app, _admin, _carl, token) = session_world().await;
    let ctx = crm::services::accounts::bearer::authenticate(&app.state, &token)
        .await
        .unwrap();
    let imp = ctx.impersonation.as_ref().unwrap();
    let secrets = [
        imp.record.code.clone(),
        imp.impersonator.password_hash.clone(),
        imp.impersonator.totp_secret.clone().unwrap(),
        ctx.user.password_hash.clone(),
    ];
    let debug = format!("{ctx:?} {ctx:#?}");
    assert!(debug.contains(&ctx.user.id), "{debug}");
    for s in secrets {
        assert!(!debug.contains(&s), "{debug}");
    }
}
