//! The customer decides how support may enter: approval per session, requests and windows
//! (grants), their lifecycle, and who may decide. Every transition and every refusal.

use crate::common::*;
use serde_json::{Value, json};

const IMPERSONATE: &str = r#"
mutation Impersonate($u: ID!, $m: ImpersonationMode) {
  impersonate(userId: $u, reason: "ticket #42", mode: $m) {
    accessToken
    user { impersonation { id mode expiresAt grant { id } } }
  }
}"#;
const REQUEST: &str = r#"
mutation Request($u: ID!, $r: String!, $m: ImpersonationMode, $min: Int) {
  requestSupportAccess(userId: $u, reason: $r, mode: $m, minutes: $min) {
    id status mode requestedMinutes reason createdAt decidedAt expiresAt
    user { id } requestedBy { id }
  }
}"#;
const APPROVE: &str = r#"
mutation Approve($g: ID!, $min: Int) {
  approveSupportAccess(grantId: $g, minutes: $min) { id status decidedAt expiresAt }
}"#;
const DENY: &str =
    "mutation Deny($g: ID!) { denySupportAccess(grantId: $g) { id status expiresAt } }";
const REVOKE: &str =
    "mutation Revoke($g: ID!) { revokeSupportAccess(grantId: $g) { id status expiresAt } }";
const GRANT: &str = r#"
mutation Grant($r: String!, $m: ImpersonationMode, $min: Int) {
  grantSupportAccess(reason: $r, mode: $m, minutes: $min) {
    id status mode requestedMinutes expiresAt requestedBy { id }
  }
}"#;
const REQUIRE_APPROVAL: &str = r#"
mutation Require($on: Boolean!) {
  updateProfile(input: { impersonationRequiresApproval: $on }) { impersonationRequiresApproval }
}"#;
const MY_GRANTS: &str =
    "query Mine($s: SupportAccessStatus) { me { supportAccessGrants(status: $s) { id status } } }";
const ME: &str = "{ me { id } }";

struct World {
    app: TestApp,
    sup: Session,
    admin: Session,
    admin_secret: String,
    carl: Session,
}

/// A super admin, an admin with 2FA, and Carl, a customer who requires approval. Access
/// tokens last a day here, so the test clock can move past windows without signing in again.
async fn world() -> World {
    world_on(TestApp::with_config(long_access).await).await
}

fn long_access(c: &mut crm::config::Config) {
    c.access_token_ttl = chrono::Duration::days(1);
}

async fn world_on(app: TestApp) -> World {
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(Some(&carl.token), REQUIRE_APPROVAL, json!({ "on": true }))
        .await;
    assert_eq!(d["updateProfile"]["impersonationRequiresApproval"], true);
    World {
        app,
        sup,
        admin,
        admin_secret,
        carl,
    }
}

fn reason(v: &Value) -> &Value {
    &v["errors"][0]["extensions"]["reason"]
}

/// `impersonate` as `by`, into Carl's account: the whole response.
async fn try_impersonate(w: &World, by: &Session, mode: Option<&str>) -> Value {
    w.app
        .gql(
            Some(&by.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": mode }),
        )
        .await
}

/// A session that must start: (token, the impersonation object).
async fn impersonate(w: &World, by: &Session, mode: Option<&str>) -> (String, Value) {
    let v = try_impersonate(w, by, mode).await;
    assert!(v["errors"].is_null(), "impersonate failed: {v}");
    let p = &v["data"]["impersonate"];
    (
        p["accessToken"].as_str().unwrap().to_string(),
        p["user"]["impersonation"].clone(),
    )
}

/// `by` asks Carl for access; returns the grant.
async fn request(w: &World, by: &Session, mode: &str, minutes: i64) -> Value {
    let vars = json!({ "u": w.carl.user_id, "r": "ticket #42: invoices missing", "m": mode, "min": minutes });
    w.app.ok(Some(&by.token), REQUEST, vars).await["requestSupportAccess"].clone()
}

async fn approve(w: &World, grant: &Value, minutes: Option<i64>) -> Value {
    let vars = json!({ "g": grant["id"], "min": minutes });
    w.app.ok(Some(&w.carl.token), APPROVE, vars).await["approveSupportAccess"].clone()
}

/// The test clock's time, at the millisecond precision the API's DateTime carries.
fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    crm::clock::Clock::now(&*app.clock).trunc_subsecs(3)
}

fn at(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().expect("a DateTime").parse().unwrap()
}

#[tokio::test]
async fn nobody_asks_for_approval_until_the_customer_says_so() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let dora = app.register("dora@customer.test", "Dora").await;
    let d = app
        .ok(
            Some(&dora.token),
            "{ me { impersonationRequiresApproval } }",
            json!({}),
        )
        .await;
    assert_eq!(d["me"]["impersonationRequiresApproval"], false);
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": dora.user_id }),
        )
        .await;
    let imp = &d["impersonate"]["user"]["impersonation"];
    assert_eq!(imp["mode"], "READ_WRITE");
    assert!(imp["grant"].is_null());
}

#[tokio::test]
async fn approval_required_refuses_every_admin_without_a_grant_and_the_teams_list_says_so() {
    let w = world().await;
    for by in [&w.admin, &w.sup] {
        let v = try_impersonate(&w, by, None).await;
        assert_eq!(error_code(&v), "IMPERSONATION_DENIED");
        assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    }
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "query($s: String) { teams(first: 5, search: $s) { edges { node { owner { impersonationRequiresApproval impersonationCheck { allowed reason } } } } } }",
            json!({ "s": "Carl" }),
        )
        .await;
    let owner = &d["teams"]["edges"][0]["node"]["owner"];
    assert_eq!(owner["impersonationRequiresApproval"], true);
    assert_eq!(owner["impersonationCheck"]["allowed"], false);
    assert_eq!(owner["impersonationCheck"]["reason"], "APPROVAL_REQUIRED");
    assert_eq!(
        w.app
            .count(
                "audit_logs",
                "WHERE action = 'IMPERSONATION_DENIED' AND details LIKE '%APPROVAL_REQUIRED%'"
            )
            .await,
        2
    );
}

#[tokio::test]
async fn a_request_approved_lets_that_admin_in_for_the_window_and_no_longer() {
    let w = world().await;
    let asked_at = now(&w.app);
    let g = request(&w, &w.admin, "READ_WRITE", 60).await;
    assert_eq!(g["status"], "PENDING");
    assert_eq!(g["requestedMinutes"], 60);
    assert_eq!(g["user"]["id"], json!(w.carl.user_id));
    assert_eq!(g["requestedBy"]["id"], json!(w.admin.user_id));
    assert!(g["decidedAt"].is_null());
    assert_eq!(
        at(&g["expiresAt"]) - asked_at,
        chrono::Duration::hours(24),
        "a pending request lapses after SUPPORT_REQUEST_TTL_HOURS"
    );
    // Still pending: no entry yet.
    let v = try_impersonate(&w, &w.admin, None).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    // Approving may shorten the window, never lengthen it.
    let v = w
        .app
        .gql(
            Some(&w.carl.token),
            APPROVE,
            json!({ "g": g["id"], "min": 61 }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    w.app.clock.advance(chrono::Duration::minutes(5));
    let approved = approve(&w, &g, Some(20)).await;
    assert_eq!(approved["status"], "APPROVED");
    let decided = at(&approved["decidedAt"]);
    assert_eq!(
        at(&approved["expiresAt"]) - decided,
        chrono::Duration::minutes(20),
        "the window starts at approval"
    );
    // Approving twice is refused: it is no longer pending.
    let v = w
        .app
        .gql(Some(&w.carl.token), APPROVE, json!({ "g": g["id"] }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // The admin may enter; the session runs under the grant and never outlives it
    // (the impersonation TTL is 30 minutes, the window 20).
    let (t, imp) = impersonate(&w, &w.admin, None).await;
    assert_eq!(imp["grant"]["id"], g["id"]);
    assert_eq!(imp["mode"], "READ_WRITE");
    assert_eq!(at(&imp["expiresAt"]), at(&approved["expiresAt"]));
    // Another admin is not covered by a request they did not make.
    let (alan, _) = w.app.admin("alan@support.test", "ADMIN").await;
    let v = try_impersonate(&w, &alan, None).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    // When the window runs out, the session ends with it and the grant is EXPIRED.
    for _ in 0..2 {
        w.app.clock.advance(chrono::Duration::minutes(9));
        w.app.ok(Some(&t), ME, json!({})).await;
    }
    w.app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let d = w
        .app
        .ok(Some(&w.carl.token), MY_GRANTS, json!({ "s": "EXPIRED" }))
        .await;
    assert_eq!(d["me"]["supportAccessGrants"][0]["id"], g["id"]);
    let v = try_impersonate(&w, &w.admin, None).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    // The token itself expired with the window; the sweep records the session's end.
    crm::services::impersonation::ending::sweep_expired(&w.app.state)
        .await
        .unwrap();
    let expired = format!(
        "WHERE end_reason = 'EXPIRED' AND ended_at IS NOT NULL AND id = '{}'",
        imp["id"].as_str().unwrap()
    );
    assert_eq!(w.app.count("impersonations", &expired).await, 1);
}

#[tokio::test]
async fn a_denied_request_lets_nobody_in_and_cannot_be_approved_later() {
    let w = world().await;
    let g = request(&w, &w.admin, "READ_WRITE", 60).await;
    let d = w
        .app
        .ok(Some(&w.carl.token), DENY, json!({ "g": g["id"] }))
        .await;
    assert_eq!(d["denySupportAccess"]["status"], "DENIED");
    let v = try_impersonate(&w, &w.admin, None).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    for q in [APPROVE, DENY, REVOKE] {
        let v = w
            .app
            .gql(Some(&w.carl.token), q, json!({ "g": g["id"] }))
            .await;
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{q}");
    }
}

#[tokio::test]
async fn a_pending_request_lapses_after_the_configured_hours() {
    let app = TestApp::with_config(|c| {
        long_access(c);
        c.support_request_ttl = chrono::Duration::hours(2);
    })
    .await;
    let w = world_on(app).await;
    let g = request(&w, &w.admin, "READ_WRITE", 60).await;
    w.app.clock.advance(chrono::Duration::minutes(119));
    let d = w
        .app
        .ok(Some(&w.carl.token), MY_GRANTS, json!({ "s": "PENDING" }))
        .await;
    assert_eq!(d["me"]["supportAccessGrants"][0]["id"], g["id"]);
    w.app.clock.advance(chrono::Duration::minutes(2));
    let d = w
        .app
        .ok(Some(&w.carl.token), MY_GRANTS, json!({ "s": "PENDING" }))
        .await;
    assert_eq!(d["me"]["supportAccessGrants"], json!([]));
    let d = w.app.ok(Some(&w.carl.token), MY_GRANTS, json!({})).await;
    assert_eq!(d["me"]["supportAccessGrants"][0]["status"], "EXPIRED");
    let v = w
        .app
        .gql(Some(&w.carl.token), APPROVE, json!({ "g": g["id"] }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
}

#[tokio::test]
async fn revoking_a_grant_ends_its_sessions_at_once_on_every_server() {
    let w = world().await;
    let b = w.app.second_server().await;
    let g = request(&w, &w.admin, "READ_WRITE", 60).await;
    approve(&w, &g, None).await;
    let (t, imp) = impersonate(&w, &w.admin, None).await;
    b.ok(Some(&t), ME, json!({})).await;
    let d = w
        .app
        .ok(Some(&w.carl.token), REVOKE, json!({ "g": g["id"] }))
        .await;
    assert_eq!(d["revokeSupportAccess"]["status"], "REVOKED");
    assert_eq!(b.err_code(Some(&t), ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let ended = format!(
        "WHERE id = '{}' AND end_reason = 'REVOKED_BY_USER' AND ended_at IS NOT NULL",
        imp["id"].as_str().unwrap()
    );
    assert_eq!(w.app.count("impersonations", &ended).await, 1);
    let v = try_impersonate(&w, &w.admin, None).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    // Revoking twice: it is no longer open.
    let v = w
        .app
        .gql(Some(&w.carl.token), REVOKE, json!({ "g": g["id"] }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_window_opened_unasked_lets_any_admin_in() {
    let w = world().await;
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            GRANT,
            json!({ "r": "please look at my invoices", "m": "READ_WRITE", "min": 90 }),
        )
        .await;
    let g = &d["grantSupportAccess"];
    assert_eq!(g["status"], "APPROVED");
    assert_eq!(g["requestedMinutes"], 90);
    assert!(g["requestedBy"].is_null());
    let (alan, _) = w.app.admin("alan@support.test", "ADMIN").await;
    for by in [&w.admin, &alan] {
        let (t, imp) = impersonate(&w, by, None).await;
        assert_eq!(imp["grant"]["id"], g["id"]);
        w.app
            .ok(
                Some(&t),
                "mutation { cancelImpersonation { accessToken } }",
                json!({}),
            )
            .await;
    }
    // Out-of-range windows and empty reasons are refused, and audited.
    for vars in [
        json!({ "r": "x", "min": 0 }),
        json!({ "r": "x", "min": 10_081 }),
        json!({ "r": "   " }),
    ] {
        let v = w.app.gql(Some(&w.carl.token), GRANT, vars.clone()).await;
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{vars} {v}");
    }
    assert_eq!(
        w.app
            .count("audit_logs", "WHERE action = 'SUPPORT_ACCESS_REFUSED'")
            .await,
        3
    );
    assert_eq!(w.app.count("support_access_grants", "").await, 1);
}

#[tokio::test]
async fn a_read_only_grant_bounds_the_session_and_forbids_elevation() {
    let w = world().await;
    let g = request(&w, &w.admin, "READ_ONLY", 60).await;
    assert_eq!(g["mode"], "READ_ONLY");
    approve(&w, &g, None).await;
    let v = try_impersonate(&w, &w.admin, Some("READ_WRITE")).await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED", "mode above the grant");
    let (t, imp) = impersonate(&w, &w.admin, None).await;
    assert_eq!(imp["mode"], "READ_ONLY", "no mode asked: the grant's");
    let code = w.app.code(&w.admin_secret);
    let v = w
        .app
        .gql(
            Some(&t),
            "mutation($c: String!) { elevateImpersonation(code: $c, reason: \"fix\") { mode } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    // The code was not spent on the refusal: it still elevates a session under a
    // READ_WRITE window.
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            GRANT,
            json!({ "r": "go ahead", "m": "READ_WRITE" }),
        )
        .await;
    assert_eq!(d["grantSupportAccess"]["status"], "APPROVED");
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    let (t, _) = impersonate(&w, &w.admin, Some("READ_ONLY")).await;
    let d = w
        .app
        .ok(
            Some(&t),
            "mutation($c: String!) { elevateImpersonation(code: $c, reason: \"fix\") { mode } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(d["elevateImpersonation"]["mode"], "READ_WRITE");
}

#[tokio::test]
async fn only_the_customer_decides_never_someone_else_and_never_an_impersonation_token() {
    let w = world().await;
    // Carl opens a window; Ada enters and, while inside, asks for more and tries to decide
    // for Carl: the attack.
    w.app
        .ok(
            Some(&w.carl.token),
            GRANT,
            json!({ "r": "have a look", "min": 60 }),
        )
        .await;
    let (t, _) = impersonate(&w, &w.admin, None).await;
    let pending = request(&w, &w.admin, "READ_WRITE", 600).await;
    let open = w
        .app
        .ok(Some(&w.carl.token), MY_GRANTS, json!({ "s": "APPROVED" }))
        .await["me"]["supportAccessGrants"][0]
        .clone();
    let attempts: [(&str, Value); 6] = [
        (APPROVE, json!({ "g": pending["id"], "min": 600 })),
        (DENY, json!({ "g": pending["id"] })),
        (REVOKE, json!({ "g": open["id"] })),
        (GRANT, json!({ "r": "self-service", "min": 10_080 })),
        (REQUIRE_APPROVAL, json!({ "on": false })),
        (
            "mutation { updateProfile(input: { impersonationAllowed: true }) { id } }",
            json!({}),
        ),
    ];
    for (q, vars) in attempts {
        let v = w.app.gql(Some(&t), q, vars).await;
        assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING", "{q}: {v}");
    }
    let d = w.app.ok(Some(&w.carl.token), MY_GRANTS, json!({})).await;
    let statuses: Vec<&Value> = d["me"]["supportAccessGrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["status"])
        .collect();
    assert_eq!(statuses, [&json!("PENDING"), &json!("APPROVED")]);
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ me { impersonationRequiresApproval } }",
            json!({}),
        )
        .await;
    assert_eq!(d["me"]["impersonationRequiresApproval"], true);
    // Anyone else deciding, as themselves, finds nothing: the admin who asked, a super
    // admin, another customer.
    let dora = w.app.register("dora@customer.test", "Dora").await;
    for who in [&w.admin, &w.sup, &dora] {
        for (q, g) in [(APPROVE, &pending), (DENY, &pending), (REVOKE, &open)] {
            let v = w
                .app
                .gql(Some(&who.token), q, json!({ "g": g["id"] }))
                .await;
            assert_eq!(error_code(&v), "NOT_FOUND", "{q}");
        }
        let d = w.app.ok(Some(&who.token), MY_GRANTS, json!({})).await;
        assert_eq!(d["me"]["supportAccessGrants"], json!([]));
    }
    let refused = "WHERE action = 'SUPPORT_ACCESS_REFUSED'";
    assert_eq!(w.app.count("audit_logs", refused).await, 9);
}

#[tokio::test]
async fn requesting_access_takes_the_guards_and_rules_of_impersonate() {
    let w = world().await;
    let dora = w.app.register("dora@customer.test", "Dora").await;
    let vars = |u: &str, r: &str| json!({ "u": u, "r": r });
    // Not an admin.
    let v = w
        .app
        .gql(Some(&dora.token), REQUEST, vars(&w.carl.user_id, "x"))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    // The policy's reasons, before the reason's.
    let v = w
        .app
        .gql(Some(&w.admin.token), REQUEST, vars(&w.sup.user_id, ""))
        .await;
    assert_eq!(error_code(&v), "IMPERSONATION_DENIED");
    assert_eq!(reason(&v), "TARGET_IS_SUPER_ADMIN");
    let v = w
        .app
        .gql(Some(&w.admin.token), REQUEST, vars("no-such-user", "x"))
        .await;
    assert_eq!(error_code(&v), "NOT_FOUND");
    // A reason is required.
    let v = w
        .app
        .gql(Some(&w.admin.token), REQUEST, vars(&w.carl.user_id, " "))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // A user who does not require approval may still be asked.
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            REQUEST,
            vars(&dora.user_id, "double-check first"),
        )
        .await;
    assert_eq!(d["requestSupportAccess"]["status"], "PENDING");
    assert_eq!(d["requestSupportAccess"]["mode"], "READ_WRITE");
    assert_eq!(d["requestSupportAccess"]["requestedMinutes"], 60);
    assert_eq!(w.app.count("support_access_grants", "").await, 1);
}

#[tokio::test]
async fn grants_and_decisions_are_in_the_customers_team_log() {
    let w = world().await;
    let g = request(&w, &w.admin, "READ_WRITE", 30).await;
    approve(&w, &g, None).await;
    w.app
        .ok(Some(&w.carl.token), REVOKE, json!({ "g": g["id"] }))
        .await;
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ auditLogs(first: 20) { edges { node { action entityId ipAddress details } } } }",
            json!({}),
        )
        .await;
    let rows: Vec<&Value> = d["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    let actions: Vec<&str> = rows
        .iter()
        .filter(|r| r["entityId"] == g["id"])
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "SUPPORT_ACCESS_REVOKED",
            "SUPPORT_ACCESS_APPROVED",
            "SUPPORT_ACCESS_REQUESTED"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["ipAddress"].is_null() && r["details"].is_null())
    );
}

#[tokio::test]
async fn turning_approval_on_ends_the_sessions_without_a_grant() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(Some(&carl.token), REQUIRE_APPROVAL, json!({ "on": true }))
        .await;
    let revoked = "WHERE end_reason = 'REVOKED_BY_USER' AND ended_at IS NOT NULL";
    assert_eq!(app.count("impersonations", revoked).await, 1);
    assert_eq!(
        app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    // A session under a grant survives it.
    app.ok(Some(&carl.token), REQUIRE_APPROVAL, json!({ "on": false }))
        .await;
    app.ok(Some(&carl.token), GRANT, json!({ "r": "ok", "min": 30 }))
        .await;
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(Some(&carl.token), REQUIRE_APPROVAL, json!({ "on": true }))
        .await;
    app.ok(Some(&t), ME, json!({})).await;
    assert_eq!(app.count("impersonations", revoked).await, 1);
}

#[tokio::test]
async fn admins_list_grants_and_read_the_settings_customers_do_not() {
    let w = world().await;
    let g = request(&w, &w.admin, "READ_ONLY", 15).await;
    let list = r#"query($s: SupportAccessStatus, $u: ID) {
      supportAccessGrants(first: 10, status: $s, userId: $u) {
        edges { node { id status requestedBy { id } } }
      }
    }"#;
    let d = w
        .app
        .ok(
            Some(&w.sup.token),
            list,
            json!({ "s": "PENDING", "u": w.carl.user_id }),
        )
        .await;
    assert_eq!(d["supportAccessGrants"]["edges"][0]["node"]["id"], g["id"]);
    let d = w
        .app
        .ok(Some(&w.sup.token), list, json!({ "s": "APPROVED" }))
        .await;
    assert_eq!(d["supportAccessGrants"]["edges"], json!([]));
    let settings = "{ impersonationSettings { enabled defaultMode ttlMinutes idleMinutes } }";
    let d = w.app.ok(Some(&w.admin.token), settings, json!({})).await;
    assert_eq!(
        d["impersonationSettings"],
        json!({ "enabled": true, "defaultMode": "READ_WRITE", "ttlMinutes": 30, "idleMinutes": 10 })
    );
    for q in [list, settings] {
        let v = w.app.gql(Some(&w.carl.token), q, json!({})).await;
        assert_eq!(error_code(&v), "FORBIDDEN", "{q}");
    }
}

#[tokio::test]
async fn a_session_nobody_uses_ends_idle_and_the_sweep_records_it() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    let used = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    let idle = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // One session is used every 6 minutes; the other not at all.
    app.clock.advance(chrono::Duration::minutes(6));
    let d = app
        .ok(
            Some(&used),
            "{ me { impersonation { lastActivityAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(at(&d["me"]["impersonation"]["lastActivityAt"]), now(&app));
    app.clock.advance(chrono::Duration::minutes(6));
    app.ok(Some(&used), ME, json!({})).await;
    let n = crm::services::impersonation::ending::sweep_expired(&app.state)
        .await
        .unwrap();
    assert_eq!(n, 1, "the idle session, not the used one");
    assert_eq!(
        app.err_code(Some(&idle), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let ended = "WHERE end_reason = 'IDLE_TIMEOUT' AND ended_at IS NOT NULL";
    assert_eq!(app.count("impersonations", ended).await, 1);
    // The used one goes idle too when left alone, noticed by its next request.
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(
        app.err_code(Some(&used), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(app.count("impersonations", ended).await, 2);
}

#[tokio::test]
async fn the_idle_timeout_can_be_turned_off() {
    let app = TestApp::with_config(|c| c.impersonation_idle = None).await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app
        .ok(
            Some(&admin.token),
            "{ impersonationSettings { idleMinutes } }",
            json!({}),
        )
        .await;
    assert_eq!(d["impersonationSettings"]["idleMinutes"], 0);
    app.clock.advance(chrono::Duration::minutes(25));
    app.ok(Some(&t), ME, json!({})).await;
}

#[tokio::test]
async fn an_admin_has_at_most_one_request_waiting_per_customer() {
    let w = world().await;
    let vars =
        json!({ "u": w.carl.user_id, "r": "Ticket 12: the invoice", "m": "READ_ONLY", "min": 30 });
    let mut refused = 0;
    for _ in 0..30 {
        let v = w.app.gql(Some(&w.admin.token), REQUEST, vars.clone()).await;
        if v.get("errors").is_some() {
            assert_eq!(error_code(&v), "BAD_USER_INPUT", "{v}");
            refused += 1;
        }
    }
    assert_eq!(refused, 29);
    let asked = "WHERE kind = 'SUPPORT_ACCESS_REQUESTED'";
    assert_eq!(w.app.count("notifications", asked).await, 1);
    assert_eq!(w.app.count("support_access_grants", "").await, 1);
    // Another admin may ask; and once Carl has answered, Ada may ask again.
    w.app.ok(Some(&w.sup.token), REQUEST, vars.clone()).await;
    let id = w
        .app
        .ok(
            Some(&w.admin.token),
            "{ supportAccessGrants(first: 10) { nodes { id requestedBy { email } status } } }",
            json!({}),
        )
        .await;
    let mine = id["supportAccessGrants"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["requestedBy"]["email"] == "ada@support.test")
        .unwrap()["id"]
        .clone();
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation($g: ID!) { denySupportAccess(grantId: $g) { id } }",
            json!({ "g": mine }),
        )
        .await;
    w.app.ok(Some(&w.admin.token), REQUEST, vars).await;
    assert_eq!(w.app.count("support_access_grants", "").await, 3);
}
