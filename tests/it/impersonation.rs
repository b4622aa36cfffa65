//! Impersonation end to end: the rules, the token, the context in every resolver, the
//! support-team attribution, the return, revocation and expiry.

use crate::common::*;
use serde_json::{Value, json};

const IMPERSONATE: &str = r#"
mutation Impersonate($u: ID!, $r: String) {
  impersonate(userId: $u, reason: $r) {
    accessToken refreshToken expiresAt
    user {
      id
      currentTeam { id }
      impersonatedBy { id name }
      impersonation {
        id reason startedAt expiresAt endedAt
        impersonator { id }
        impersonatedUser { id }
        impersonatorTeam { id }
      }
    }
  }
}
"#;

const CANCEL: &str = r#"
mutation Cancel {
  cancelImpersonation {
    accessToken refreshToken
    user { id isTwoFactorAuthenticated currentTeam { id } impersonatedBy { id } }
  }
}
"#;

const STARTS: &str = r#"
query Starts {
  auditLogs(filter: { action: "IMPERSONATION_STARTED" }) {
    edges { node { actor { id } onBehalfOf { id } entityType } }
  }
}
"#;

const COMMENT_ON_BUSINESS: &str = r#"
mutation CommentOnBusiness($b: ID!, $x: String!) {
  addBusinessComment(businessId: $b, text: $x) { ...CommentFields }
}
fragment CommentFields on Comment {
  id text author { id } authorName isImpersonated onBehalfOf { id }
}
"#;

const COMMENT_ON_LEAD: &str = r#"
mutation CommentOnLead($l: ID!) {
  addLeadComment(leadId: $l, text: "Called") { ...CommentFields }
}
fragment CommentFields on Comment {
  id text author { id } authorName isImpersonated onBehalfOf { id }
}
"#;

const SUPPORT_COMMENTS: &str = r#"
query SupportComments {
  auditLogs(filter: { action: "COMMENT_CREATED", isImpersonated: true }) {
    edges { node { actor { id } actorName onBehalfOf { id } isImpersonated team { id } } }
  }
}
"#;

const SWITCH_TEAM: &str = r#"
mutation SwitchTeam($t: ID!) {
  switchTeam(teamId: $t) { accessToken refreshToken user { id currentTeam { id } } }
}
"#;

struct World {
    app: TestApp,
    admin: Session,
    customer: Session,
}

/// An admin with 2FA, and a customer with a business and a lead.
async fn world() -> World {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl Customer").await;
    app.ok(
        Some(&customer.token),
        "mutation { createBusiness(name: \"Carl's Cafe\") { id } }",
        json!({}),
    )
    .await;
    World {
        app,
        admin,
        customer,
    }
}

async fn impersonate(app: &TestApp, admin: &Session, target: &str) -> Value {
    app.ok(
        Some(&admin.token),
        IMPERSONATE,
        json!({ "u": target, "r": "ticket #42" }),
    )
    .await["impersonate"]
        .clone()
}

fn denial(v: &Value) -> (String, String) {
    (
        error_code(v),
        v["errors"][0]["extensions"]["reason"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[tokio::test]
async fn impersonation_acts_as_the_target_with_the_design_claims() {
    let w = world().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    assert!(
        p["refreshToken"].is_null(),
        "impersonation tokens cannot be refreshed"
    );
    assert_eq!(p["user"]["id"], w.customer.user_id.as_str());
    assert_eq!(
        p["user"]["currentTeam"]["id"],
        w.customer.team_id.clone().unwrap().as_str()
    );
    assert_eq!(p["user"]["impersonatedBy"]["id"], w.admin.user_id.as_str());
    let imp = &p["user"]["impersonation"];
    assert_eq!(imp["reason"], "ticket #42");
    assert_eq!(
        imp["impersonatorTeam"]["id"],
        w.admin.team_id.clone().unwrap().as_str()
    );
    assert!(imp["endedAt"].is_null());

    let token = p["accessToken"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["sub"], w.customer.user_id.as_str());
    assert_eq!(c["impersonatedBy"], w.admin.user_id.as_str());
    assert_eq!(
        c["act"]["sub"],
        w.admin.user_id.as_str(),
        "RFC 8693 actor claim"
    );
    assert_eq!(
        c["impersonatorTeamId"],
        w.admin.team_id.clone().unwrap().as_str()
    );
    assert_eq!(c["isTwoFactorEnable"], false);
    assert_eq!(c["isTwoFactorAuthenticated"], false);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        30 * 60
    );
    let code = c["impersonationCode"].as_str().unwrap();
    assert_eq!(code.len(), 24);
    assert!(code.chars().all(|ch| ch.is_ascii_alphanumeric()));
    let started = chrono::DateTime::parse_from_rfc3339(imp["startedAt"].as_str().unwrap()).unwrap();
    assert_eq!(c["impersonatedAt"].as_i64().unwrap(), started.timestamp());

    // Every resolver sees the same context: the admin sees what the customer sees.
    let me = w
        .app
        .ok(
            Some(token),
            "{ me { id impersonatedBy { id } impersonation { id } } businesses { name } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["id"], w.customer.user_id.as_str());
    assert_eq!(me["me"]["impersonatedBy"]["id"], w.admin.user_id.as_str());
    assert_eq!(me["businesses"][0]["name"], "Carl's Cafe");

    // The record and its audit row were written together.
    assert_eq!(w.app.count("impersonations", "").await, 1);
    let logs = w.app.ok(Some(&w.admin.token), STARTS, json!({})).await;
    let node = &logs["auditLogs"]["edges"][0]["node"];
    assert_eq!(node["actor"]["id"], w.admin.user_id.as_str());
    assert_eq!(node["onBehalfOf"]["id"], w.customer.user_id.as_str());
    assert_eq!(node["entityType"], "Impersonation");
    // Each impersonation gets its own code.
    let p2 = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    assert_ne!(
        claims(p2["accessToken"].as_str().unwrap())["impersonationCode"],
        c["impersonationCode"]
    );
}

#[tokio::test]
async fn every_rule_of_the_policy_is_enforced() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let (other_admin, _) = app.admin("alan@support.test", "ADMIN").await;
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    let private = app.register("pat@customer.test", "Pat").await;
    app.ok(
        Some(&private.token),
        "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
        json!({}),
    )
    .await;
    let q = IMPERSONATE;
    let deny = |v: Value| denial(&v);

    assert_eq!(
        deny(
            app.gql(Some(&admin.token), q, json!({ "u": admin.user_id }))
                .await
        ),
        ("IMPERSONATION_DENIED".into(), "SELF".into())
    );
    assert_eq!(
        deny(
            app.gql(Some(&admin.token), q, json!({ "u": sup.user_id }))
                .await
        )
        .1,
        "TARGET_IS_SUPER_ADMIN"
    );
    assert_eq!(
        deny(
            app.gql(Some(&admin.token), q, json!({ "u": other_admin.user_id }))
                .await
        )
        .1,
        "TARGET_IS_ADMIN"
    );
    assert_eq!(
        deny(
            app.gql(Some(&admin.token), q, json!({ "u": private.user_id }))
                .await
        )
        .1,
        "NOT_ALLOWED_BY_USER"
    );
    // A super admin may impersonate an admin.
    app.ok(Some(&sup.token), q, json!({ "u": other_admin.user_id }))
        .await;
    // Already impersonating.
    let p = impersonate(&app, &admin, &customer.user_id).await;
    let imp_token = p["accessToken"].as_str().unwrap();
    assert_eq!(
        deny(
            app.gql(Some(imp_token), q, json!({ "u": private.user_id }))
                .await
        )
        .1,
        "ALREADY_IMPERSONATING"
    );
    // An admin with 2FA off.
    let no2fa = app.register("nick@support.test", "Nick").await;
    app.set_role(&no2fa.user_id, "ADMIN").await;
    assert_eq!(
        deny(
            app.gql(Some(&no2fa.token), q, json!({ "u": customer.user_id }))
                .await
        )
        .1,
        "TWO_FACTOR_DISABLED"
    );
    // Not an admin at all; not signed in; a pre-2FA token; unknown target.
    assert_eq!(
        app.err_code(Some(&customer.token), q, json!({ "u": private.user_id }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err_code(None, q, json!({ "u": private.user_id })).await,
        "UNAUTHENTICATED"
    );
    let pre = app.login("ada@support.test", "correct-horse-1").await;
    assert_eq!(
        app.err_code(
            pre["accessToken"].as_str(),
            q,
            json!({ "u": customer.user_id })
        )
        .await,
        "TWO_FACTOR_REQUIRED"
    );
    assert_eq!(
        app.err_code(
            Some(&admin.token),
            q,
            json!({ "u": "01a1feb8-7151-7059-a8ba-26c2068d7c64" })
        )
        .await,
        "NOT_FOUND"
    );
    // Refusals wrote nothing: two sessions (sup->admin, admin->customer) exist.
    assert_eq!(app.count("impersonations", "").await, 2);
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'IMPERSONATION_STARTED'")
            .await,
        2
    );
}

#[tokio::test]
async fn teams_list_shows_the_policy_for_each_owner() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    let private = app.register("pat@customer.test", "Pat").await;
    app.ok(
        Some(&private.token),
        "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
        json!({}),
    )
    .await;
    let q = "{ teams(first: 50) { edges { node { name owner { id impersonationCheck { allowed reason } } } } } }";
    let d = app.ok(Some(&admin.token), q, json!({})).await;
    let check = |id: &str| {
        d["teams"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"]["owner"]["id"] == id)
            .unwrap()["node"]["owner"]["impersonationCheck"]
            .clone()
    };
    assert_eq!(
        check(&customer.user_id),
        json!({ "allowed": true, "reason": null })
    );
    assert_eq!(
        check(&private.user_id),
        json!({ "allowed": false, "reason": "NOT_ALLOWED_BY_USER" })
    );
    assert_eq!(
        check(&admin.user_id),
        json!({ "allowed": false, "reason": "SELF" })
    );
    assert_eq!(
        check(&sup.user_id),
        json!({ "allowed": false, "reason": "TARGET_IS_SUPER_ADMIN" })
    );
}

#[tokio::test]
async fn security_and_team_operations_are_blocked_while_impersonating() {
    let w = world().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap();
    let team = w.customer.team_id.clone().unwrap();
    let blocked = [
        ("mutation { createTeam(name: \"Nope\") { id } }".to_string(), json!({})),
        ("mutation($t: ID!) { switchTeam(teamId: $t) { accessToken } }".into(), json!({ "t": team })),
        ("mutation { changePassword(currentPassword: \"correct-horse-1\", newPassword: \"another-pass-2\") }".into(), json!({})),
        ("mutation { generateTwoFactorSecret { otpauthUrl } }".into(), json!({})),
        ("mutation { turnOnTwoFactor(code: \"123456\", password: \"correct-horse-1\") { accessToken } }".into(), json!({})),
        ("mutation { authenticateTwoFactor(code: \"123456\") { accessToken } }".into(), json!({})),
        ("mutation { turnOffTwoFactor(code: \"123456\") }".into(), json!({})),
        ("mutation { updateProfile(input: { impersonationAllowed: false }) { id } }".into(), json!({})),
        ("mutation { refreshToken(refreshToken: \"x\") { accessToken } }".into(), json!({})),
        ("mutation { logout(refreshToken: \"x\") }".into(), json!({})),
        ("mutation($u: ID!) { setUserRole(userId: $u, role: ADMIN) { id } }".into(), json!({ "u": w.customer.user_id })),
    ];
    let teams_before = w.app.count("teams", "").await;
    let audit_before = w.app.count("audit_logs", "").await;
    for (q, vars) in blocked {
        assert_eq!(
            w.app.err_code(Some(t), &q, vars).await,
            "BLOCKED_WHILE_IMPERSONATING",
            "{q}"
        );
    }
    assert_eq!(w.app.count("teams", "").await, teams_before);
    // Refusals change nothing but leave their trace: one audit row each, under the admin.
    assert_eq!(
        w.app.count("audit_logs", "").await,
        audit_before + 11,
        "refusals write only their audit rows"
    );
    let blocked_rows = format!(
        "WHERE action = 'BLOCKED_WHILE_IMPERSONATING' AND actor_id = '{}' AND on_behalf_of_id = '{}' AND is_impersonated = true",
        w.admin.user_id, w.customer.user_id
    );
    assert_eq!(w.app.count("audit_logs", &blocked_rows).await, 11);
    // The target's consent setting is unchanged; the name may still be edited.
    let d = w.app.ok(Some(t), "mutation { updateProfile(input: { name: \"Carl C.\" }) { name impersonationAllowed } }", json!({})).await;
    assert_eq!(d["updateProfile"]["impersonationAllowed"], true);
}

#[tokio::test]
async fn comments_and_audit_rows_are_attributed_to_the_support_team() {
    let w = world().await;
    let biz = w
        .app
        .ok(Some(&w.customer.token), "{ businesses { id } }", json!({}))
        .await["businesses"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lead = w
        .app
        .ok(
            Some(&w.customer.token),
            "mutation($b: ID) { createLead(name: \"Lena\", businessId: $b) { id } }",
            json!({ "b": biz }),
        )
        .await["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap();
    let text = "  Fixed the invoice <b>for you</b>  ";
    let c = w
        .app
        .ok(Some(t), COMMENT_ON_BUSINESS, json!({ "b": biz, "x": text }))
        .await["addBusinessComment"]
        .clone();
    assert_eq!(c["text"], text, "stored exactly as written");
    assert_eq!(c["author"]["id"], w.admin.user_id.as_str());
    assert_eq!(c["authorName"], "Support team (Ada Admin)");
    assert_eq!(c["isImpersonated"], true);
    assert_eq!(c["onBehalfOf"]["id"], w.customer.user_id.as_str());
    let lc = w
        .app
        .ok(Some(t), COMMENT_ON_LEAD, json!({ "l": lead }))
        .await["addLeadComment"]
        .clone();
    assert_eq!(lc["authorName"], "Support team (Ada Admin)");
    assert_eq!(lc["author"]["id"], w.admin.user_id.as_str());

    // The customer's own comment is theirs.
    let own = w
        .app
        .ok(
            Some(&w.customer.token),
            COMMENT_ON_BUSINESS,
            json!({ "b": biz, "x": "Thanks" }),
        )
        .await["addBusinessComment"]
        .clone();
    assert_eq!(own["authorName"], "Carl Customer");
    assert_eq!(own["isImpersonated"], false);
    assert!(own["onBehalfOf"].is_null());

    // The customer sees the support comment in their business.
    let seen = w
        .app
        .ok(
            Some(&w.customer.token),
            "query($b: ID!) { business(id: $b) { comments { authorName text } } }",
            json!({ "b": biz }),
        )
        .await;
    assert_eq!(
        seen["business"]["comments"][0]["authorName"],
        "Support team (Ada Admin)"
    );

    // Audit rows written while impersonating: under the admin, on behalf of the customer.
    let logs = w
        .app
        .ok(Some(&w.admin.token), SUPPORT_COMMENTS, json!({}))
        .await;
    let edges = logs["auditLogs"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    for e in edges {
        assert_eq!(e["node"]["actor"]["id"], w.admin.user_id.as_str());
        assert_eq!(e["node"]["actorName"], "Support team (Ada Admin)");
        assert_eq!(e["node"]["onBehalfOf"]["id"], w.customer.user_id.as_str());
        assert_eq!(
            e["node"]["team"]["id"],
            w.customer.team_id.clone().unwrap().as_str()
        );
    }
}

#[tokio::test]
async fn cancel_returns_the_admin_to_their_team_and_ends_the_session() {
    let w = world().await;
    // The admin works in a second team, and impersonates from there.
    let second = w
        .app
        .ok(
            Some(&w.admin.token),
            "mutation { createTeam(name: \"Support EU\") { id } }",
            json!({}),
        )
        .await["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let switched = w
        .app
        .ok(Some(&w.admin.token), SWITCH_TEAM, json!({ "t": second }))
        .await;
    let admin = Session::from_payload(&switched["switchTeam"]);
    assert_eq!(admin.team_id.as_deref(), Some(second.as_str()));
    assert_eq!(claims(&admin.token)["isTwoFactorAuthenticated"], true);

    let p = impersonate(&w.app, &admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap().to_string();
    // The timestamp precision the JWT carries is whole seconds; let time pass within the second.
    w.app.clock.advance(chrono::Duration::milliseconds(700));
    let back = w.app.ok(Some(&t), CANCEL, json!({})).await["cancelImpersonation"].clone();
    assert_eq!(back["user"]["id"], w.admin.user_id.as_str());
    assert_eq!(
        back["user"]["currentTeam"]["id"],
        second.as_str(),
        "back in the team it impersonated from"
    );
    assert_eq!(back["user"]["isTwoFactorAuthenticated"], true);
    assert!(back["user"]["impersonatedBy"].is_null());
    assert!(back["refreshToken"].is_string());
    let c = claims(back["accessToken"].as_str().unwrap());
    assert!(c.get("impersonatedBy").is_none() && c.get("act").is_none());
    assert_eq!(c["teamId"], second.as_str());

    // The old token is refused everywhere now; the session shows as ended.
    assert_eq!(
        w.app.err_code(Some(&t), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        w.app.err_code(Some(&t), CANCEL, json!({})).await,
        "UNAUTHENTICATED"
    );
    let admin_token = back["accessToken"].as_str().unwrap();
    let h = w
        .app
        .ok(
            Some(admin_token),
            "{ impersonations { edges { node { endedAt impersonator { id } } } } }",
            json!({}),
        )
        .await;
    assert!(h["impersonations"]["edges"][0]["node"]["endedAt"].is_string());
    assert_eq!(
        w.app
            .count("audit_logs", "WHERE action = 'IMPERSONATION_ENDED'")
            .await,
        1
    );
    // A normal token cannot cancel.
    assert_eq!(
        w.app.err_code(Some(admin_token), CANCEL, json!({})).await,
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn the_impersonation_token_expires_after_its_ttl() {
    let w = world().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap();
    // A request every 9 minutes keeps the session from going idle (10 minutes), up to 29.
    for step in [9, 9, 9, 2] {
        w.app.clock.advance(chrono::Duration::minutes(step));
        w.app.ok(Some(t), "{ me { id } }", json!({})).await;
    }
    w.app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        w.app.err_code(Some(t), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    let h = w.app.ok(None, "mutation { login(email: \"ada@support.test\", password: \"correct-horse-1\") { accessToken } }", json!({})).await;
    assert!(h["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn the_ttl_is_configurable() {
    let app = TestApp::with_config(|c| c.impersonation_ttl = chrono::Duration::minutes(5)).await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    let p = impersonate(&app, &admin, &customer.user_id).await;
    let c = claims(p["accessToken"].as_str().unwrap());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        5 * 60
    );
}

/// Each change that makes the policy refuse ends a live session at once.
/// A live session for each policy-change test: a super admin, an admin (with its TOTP
/// secret), a customer, and the admin's impersonation token for the customer, checked live.
struct LiveSession {
    app: TestApp,
    sup: Session,
    admin: Session,
    admin_secret: String,
    customer: Session,
    token: String,
}

async fn live_session() -> LiveSession {
    let app = TestApp::new().await;
    let (sup, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    let token = impersonate(&app, &admin, &customer.user_id).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(Some(&token), ME, json!({})).await;
    LiveSession {
        app,
        sup,
        admin,
        admin_secret,
        customer,
        token,
    }
}

impl LiveSession {
    /// The token is refused now, and the session's end was recorded with `reason`.
    async fn assert_ended(&self, reason: &str) {
        assert_eq!(
            self.app.err_code(Some(&self.token), ME, json!({})).await,
            "UNAUTHENTICATED"
        );
        let ended = format!("WHERE ended_at IS NOT NULL AND end_reason = '{reason}'");
        assert_eq!(self.app.count("impersonations", &ended).await, 1);
    }
}

const ME: &str = "{ me { id } }";
const WITHDRAW_CONSENT: &str =
    "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }";
const SET_ROLE: &str = "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id } }";
const TURN_OFF_2FA: &str = "mutation($c: String!) { turnOffTwoFactor(code: $c) }";
const CHANGE_PASSWORD: &str = "mutation { changePassword(currentPassword: \"correct-horse-1\", newPassword: \"another-pass-2\") }";

#[tokio::test]
async fn a_live_session_ends_when_the_target_withdraws_consent() {
    let w = live_session().await;
    w.app
        .ok(Some(&w.customer.token), WITHDRAW_CONSENT, json!({}))
        .await;
    w.assert_ended("REVOKED_BY_USER").await;
}

#[tokio::test]
async fn a_live_session_ends_when_the_target_becomes_an_admin() {
    let w = live_session().await;
    let vars = json!({ "u": w.customer.user_id, "r": "ADMIN" });
    w.app.ok(Some(&w.sup.token), SET_ROLE, vars).await;
    w.assert_ended("POLICY_CHANGED").await;
}

#[tokio::test]
async fn a_live_session_ends_when_the_impersonator_turns_two_factor_off() {
    let w = live_session().await;
    let vars = json!({ "c": w.app.code(&w.admin_secret) });
    w.app.ok(Some(&w.admin.token), TURN_OFF_2FA, vars).await;
    w.assert_ended("POLICY_CHANGED").await;
}

#[tokio::test]
async fn a_live_session_ends_when_the_impersonator_loses_the_admin_role() {
    let w = live_session().await;
    let vars = json!({ "u": w.admin.user_id, "r": "USER" });
    w.app.ok(Some(&w.sup.token), SET_ROLE, vars).await;
    w.assert_ended("POLICY_CHANGED").await;
}

#[tokio::test]
async fn a_live_session_ends_when_the_impersonator_changes_their_password() {
    let w = live_session().await;
    w.app.clock.advance(chrono::Duration::seconds(1));
    w.app
        .ok(Some(&w.admin.token), CHANGE_PASSWORD, json!({}))
        .await;
    w.assert_ended("POLICY_CHANGED").await;
}

#[tokio::test]
async fn a_forged_impersonation_claim_is_refused() {
    let w = world().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let real = claims(p["accessToken"].as_str().unwrap());
    // Re-signed with the server's key but naming another code or start time: no such record.
    let config = w.app.state.config.clone();
    for (field, value) in [
        ("impersonationCode", json!("AAAAAAAAAAAAAAAAAAAAAAAA")),
        (
            "impersonatedAt",
            json!(real["impersonatedAt"].as_i64().unwrap() - 5),
        ),
    ] {
        let mut c = real.clone();
        c[field] = value;
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&config.jwt_secret),
        )
        .unwrap();
        assert_eq!(
            w.app
                .err_code(Some(&forged), "{ me { id } }", json!({}))
                .await,
            "UNAUTHENTICATED",
            "{field}"
        );
    }
}

#[tokio::test]
async fn history_lists_sessions_for_admins() {
    let w = world().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap().to_string();
    impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    w.app.ok(Some(&t), CANCEL, json!({})).await;
    let q = "query($a: Boolean) { impersonations(first: 10, activeOnly: $a) { edges { node { id endedAt reason impersonatedUser { id } } } } }";
    let all = w
        .app
        .ok(Some(&w.admin.token), q, json!({ "a": false }))
        .await;
    assert_eq!(all["impersonations"]["edges"].as_array().unwrap().len(), 2);
    let active = w
        .app
        .ok(Some(&w.admin.token), q, json!({ "a": true }))
        .await;
    assert_eq!(
        active["impersonations"]["edges"].as_array().unwrap().len(),
        1
    );
    assert!(active["impersonations"]["edges"][0]["node"]["endedAt"].is_null());
    assert_eq!(
        w.app
            .err_code(Some(&w.customer.token), q, json!({ "a": false }))
            .await,
        "FORBIDDEN"
    );
}

/// Two server processes on one database: start on one, cancel on the other; the old token is
/// refused by both.
#[tokio::test]
async fn revocation_holds_across_servers_sharing_the_database() {
    let w = world().await;
    let other = w.app.second_server().await;
    let p = impersonate(&w.app, &w.admin, &w.customer.user_id).await;
    let t = p["accessToken"].as_str().unwrap().to_string();
    other.ok(Some(&t), "{ me { id } }", json!({})).await;
    other.ok(Some(&t), CANCEL, json!({})).await;
    assert_eq!(
        w.app.err_code(Some(&t), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        other.err_code(Some(&t), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
}
