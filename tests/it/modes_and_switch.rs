//! Read-only sessions, elevation, ending a session as an admin, and the kill switch.

use crate::common::*;
use crm::entities::impersonation::Mode;
use serde_json::{Value, json};

const IMPERSONATE: &str = r#"
mutation Impersonate($u: ID!, $m: ImpersonationMode) {
  impersonate(userId: $u, reason: "ticket #7", mode: $m) {
    accessToken
    user { impersonation { id mode } }
  }
}"#;
const ELEVATE: &str = r#"
mutation Elevate($c: String!) {
  elevateImpersonation(code: $c, reason: "the customer asked for a fix") { mode endReason }
}"#;
const END: &str = r#"
mutation End($id: ID!, $r: String) {
  endImpersonation(id: $id, reason: $r) { endedAt endReason }
}"#;
const SWITCH: &str = "mutation KillSwitch($on: Boolean!) { setImpersonationEnabled(enabled: $on) }";
const ME: &str = "{ me { id } }";

struct World {
    app: TestApp,
    sup: Session,
    admin: Session,
    admin_secret: String,
    carl: Session,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    app.ok(
        Some(&carl.token),
        "mutation { createBusiness(name: \"Cafe\") { id } }",
        json!({}),
    )
    .await;
    World {
        app,
        sup,
        admin,
        admin_secret,
        carl,
    }
}

/// Starts a session; returns (token, session id, mode).
async fn impersonate(w: &World, by: &Session, mode: Option<&str>) -> (String, String, String) {
    let d = w
        .app
        .ok(
            Some(&by.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": mode }),
        )
        .await;
    let p = &d["impersonate"];
    let imp = &p["user"]["impersonation"];
    (
        p["accessToken"].as_str().unwrap().to_string(),
        imp["id"].as_str().unwrap().to_string(),
        imp["mode"].as_str().unwrap().to_string(),
    )
}

fn reason(v: &Value) -> &Value {
    &v["errors"][0]["extensions"]["reason"]
}

#[tokio::test]
async fn sessions_are_read_write_by_default_as_the_design_has_them() {
    let w = world().await;
    let (_, _, mode) = impersonate(&w, &w.admin, None).await;
    assert_eq!(mode, "READ_WRITE");
}

#[tokio::test]
async fn the_default_mode_is_configurable() {
    let app = TestApp::with_config(|c| c.impersonation_default_mode = Mode::ReadOnly).await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": carl.user_id }),
        )
        .await;
    assert_eq!(
        d["impersonate"]["user"]["impersonation"]["mode"],
        "READ_ONLY"
    );
}

#[tokio::test]
async fn a_read_only_session_is_refused_every_mutation_but_leaving_and_elevating() {
    let w = world().await;
    let (t, id, mode) = impersonate(&w, &w.admin, Some("READ_ONLY")).await;
    assert_eq!(mode, "READ_ONLY");
    // Reading works.
    let d = w
        .app
        .ok(Some(&t), "{ me { name } businesses { id } }", json!({}))
        .await;
    let biz = d["businesses"][0]["id"].clone();
    let businesses = w.app.count("businesses", "").await;
    let comments = w.app.count("comments", "").await;
    let blocked: [(&str, Value); 12] = [
        ("mutation { createBusiness(name: \"X\") { id } }", json!({})),
        (
            "mutation($b: ID!) { addBusinessComment(businessId: $b, text: \"hi\") { id } }",
            json!({ "b": biz }),
        ),
        ("mutation { createLead(name: \"L\") { id } }", json!({})),
        (
            "mutation { updateProfile(input: { name: \"C\" }) { id } }",
            json!({}),
        ),
        ("mutation { createTeam(name: \"T\") { id } }", json!({})),
        // Mutations added with read-only sessions are covered too.
        (END, json!({ "id": id })),
        (SWITCH, json!({ "on": false })),
        (
            "mutation { login(email: \"carl@customer.test\", password: \"correct-horse-1\") { accessToken } }",
            json!({}),
        ),
        // And the support access ones, added after read-only sessions.
        (
            "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"more\") { id } }",
            json!({ "u": w.carl.user_id }),
        ),
        (
            "mutation { grantSupportAccess(reason: \"me\") { id } }",
            json!({}),
        ),
        (
            "mutation { approveSupportAccess(grantId: \"x\") { id } }",
            json!({}),
        ),
        (
            "mutation { revokeSupportAccess(grantId: \"x\") { id } }",
            json!({}),
        ),
    ];
    for (q, vars) in blocked {
        let v = w.app.gql(Some(&t), q, vars).await;
        assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING", "{q}: {v}");
        assert_eq!(reason(&v), "READ_ONLY", "{q}");
    }
    assert_eq!(w.app.count("businesses", "").await, businesses);
    assert_eq!(w.app.count("comments", "").await, comments);
    let audited = "WHERE action = 'BLOCKED_WHILE_IMPERSONATING' AND is_impersonated = true";
    assert_eq!(w.app.count("audit_logs", audited).await, 12);
    // Leaving works.
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
}

#[tokio::test]
async fn elevation_needs_the_impersonators_own_fresh_code() {
    let w = world().await;
    let (t, _, _) = impersonate(&w, &w.admin, Some("READ_ONLY")).await;
    let v = w.app.gql(Some(&t), ELEVATE, json!({ "c": "000000" })).await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let code = w.app.code(&w.admin_secret);
    let d = w.app.ok(Some(&t), ELEVATE, json!({ "c": code })).await;
    assert_eq!(d["elevateImpersonation"]["mode"], "READ_WRITE");
    w.app
        .ok(
            Some(&t),
            "mutation { createBusiness(name: \"Fixed\") { id } }",
            json!({}),
        )
        .await;
    let elevated = format!(
        "WHERE action = 'IMPERSONATION_ELEVATED' AND actor_id = '{}' AND on_behalf_of_id = '{}'",
        w.admin.user_id, w.carl.user_id
    );
    assert_eq!(w.app.count("audit_logs", &elevated).await, 1);
    // The same code cannot elevate a second session: each time step counts once.
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    let (t2, _, _) = impersonate(&w, &w.admin, Some("READ_ONLY")).await;
    let v = w.app.gql(Some(&t2), ELEVATE, json!({ "c": code })).await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // A normal token has no session to elevate.
    let v = w
        .app
        .gql(Some(&w.admin.token), ELEVATE, json!({ "c": "123456" }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
}

#[tokio::test]
async fn admins_end_their_own_sessions_and_super_admins_any() {
    let w = world().await;
    let (t, id, _) = impersonate(&w, &w.admin, None).await;
    let (other, _) = w.app.admin("alan@support.test", "ADMIN").await;
    let vars = json!({ "id": id, "r": "wrong customer" });
    let v = w.app.gql(Some(&other.token), END, vars.clone()).await;
    assert_eq!(error_code(&v), "NOT_FOUND", "another admin's session");
    let d = w.app.ok(Some(&w.admin.token), END, vars.clone()).await;
    assert_eq!(d["endImpersonation"]["endReason"], "ENDED_BY_ADMIN");
    assert!(d["endImpersonation"]["endedAt"].is_string());
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let v = w.app.gql(Some(&w.admin.token), END, vars).await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT", "already ended");
    let noted = "WHERE action = 'IMPERSONATION_ENDED' AND details LIKE '%wrong customer%'";
    assert_eq!(w.app.count("audit_logs", noted).await, 1);
    // A super admin ends anyone's.
    let (t, id, _) = impersonate(&w, &other, None).await;
    w.app.ok(Some(&w.sup.token), END, json!({ "id": id })).await;
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn the_kill_switch_ends_sessions_and_refuses_new_ones_on_every_server() {
    let w = world().await;
    let b = w.app.second_server().await;
    let (t, _, _) = impersonate(&w, &w.admin, None).await;
    b.ok(Some(&t), ME, json!({})).await;
    // Only a super admin may pull it.
    let v = w
        .app
        .gql(Some(&w.admin.token), SWITCH, json!({ "on": false }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    let d = b
        .ok(Some(&w.sup.token), SWITCH, json!({ "on": false }))
        .await;
    assert_eq!(d["setImpersonationEnabled"], false);
    // The running session ended at once, on both servers, on record.
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(b.err_code(Some(&t), ME, json!({})).await, "UNAUTHENTICATED");
    let ended = "WHERE end_reason = 'ENDED_BY_ADMIN' AND ended_at IS NOT NULL";
    assert_eq!(w.app.count("impersonations", ended).await, 1);
    // New sessions are refused everywhere, and the Teams List says why.
    for server in [&w.app, &b] {
        let v = server
            .gql(
                Some(&w.admin.token),
                IMPERSONATE,
                json!({ "u": w.carl.user_id }),
            )
            .await;
        assert_eq!(reason(&v), "IMPERSONATION_DISABLED");
    }
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "{ teams(first: 10) { edges { node { owner { impersonationCheck { reason } } } } } }",
            json!({}),
        )
        .await;
    let reasons: Vec<&Value> = d["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["owner"]["impersonationCheck"]["reason"])
        .collect();
    assert!(
        reasons.contains(&&json!("IMPERSONATION_DISABLED")),
        "{reasons:?}"
    );
    // Switched back on, support may enter again.
    w.app
        .ok(Some(&w.sup.token), SWITCH, json!({ "on": true }))
        .await;
    impersonate(&w, &w.admin, None).await;
    assert_eq!(
        w.app
            .count(
                "audit_logs",
                "WHERE action IN ('IMPERSONATION_DISABLED', 'IMPERSONATION_ENABLED')"
            )
            .await,
        2
    );
}

#[tokio::test]
async fn withdrawing_consent_ends_running_sessions_at_once_on_record() {
    let w = world().await;
    let (t, _, _) = impersonate(&w, &w.admin, None).await;
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
            json!({}),
        )
        .await;
    // Ended in the same transaction, before anyone uses the token again.
    let revoked = "WHERE end_reason = 'REVOKED_BY_USER' AND ended_at IS NOT NULL";
    assert_eq!(w.app.count("impersonations", revoked).await, 1);
    assert_eq!(
        w.app.err_code(Some(&t), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        w.app
            .count("audit_logs", "WHERE action = 'IMPERSONATION_ENDED'")
            .await,
        1,
        "ended once"
    );
}
