//! The customer sees who entered their account, why, and what they did, and is told every
//! time: the activity ledger, the access history, notifications, and what each side sees.

use crate::common::*;
use serde_json::{Value, json};

const IMPERSONATE: &str = r#"
mutation Impersonate($u: ID!, $m: ImpersonationMode) {
  impersonate(userId: $u, reason: "ticket #42", mode: $m) {
    accessToken
    user { impersonation { id } }
  }
}"#;
const CANCEL: &str = "mutation ComeBack { cancelImpersonation { accessToken } }";
const HISTORY: &str = r#"
query History {
  me {
    accessHistory(first: 10) {
      edges { node {
        id reason mode startedAt endedAt endReason lastActivityAt
        impersonator { name }
        impersonatorTeam { name }
        grant { id }
        activity(first: 50) { edges { node { operationType operationName fields outcome } } }
        changes(first: 50) { edges { node { action actorName isImpersonated ipAddress details } } }
      } }
    }
  }
}"#;
const NOTIFICATIONS: &str = r#"
query Notices($unread: Boolean) {
  me { notifications(first: 20, unreadOnly: $unread) {
    edges { node { id kind message readAt impersonation { id } grant { id } } }
  } }
}"#;
const MARK: &str = "mutation Mark($ids: [ID!]) { markNotificationsRead(ids: $ids) }";

struct World {
    app: TestApp,
    admin: Session,
    carl: Session,
    business: Value,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&carl.token),
            "mutation { createBusiness(name: \"Cafe\") { id } }",
            json!({}),
        )
        .await;
    World {
        business: d["createBusiness"]["id"].clone(),
        app,
        admin,
        carl,
    }
}

async fn impersonate(w: &World, by: &Session, mode: Option<&str>) -> (String, String) {
    let d = w
        .app
        .ok(
            Some(&by.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": mode }),
        )
        .await;
    (
        d["impersonate"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string(),
        d["impersonate"]["user"]["impersonation"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn nodes(v: &Value) -> Vec<Value> {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// A whole session: reads, a write, refusals of three kinds, and leaving.
async fn a_busy_session(w: &World) -> String {
    let (t, id) = impersonate(w, &w.admin, None).await;
    w.app
        .ok(
            Some(&t),
            "query Look { me { name } businesses { id } }",
            json!({}),
        )
        .await;
    w.app
        .ok(
            Some(&t),
            "mutation($b: ID!, $text: String!) { addBusinessComment(businessId: $b, text: $text) { id } }",
            json!({ "b": w.business, "text": "SECRET-VALUE 4111 1111 1111 1111" }),
        )
        .await;
    let v = w
        .app
        .gql(
            Some(&t),
            "mutation Sneak { createTeam(name: \"Mine\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING");
    let v = w
        .app
        .gql(Some(&t), "query Typo { me { nope } }", json!({}))
        .await;
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED");
    let v = w.app.gql(Some(&t), MARK, json!({})).await;
    assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING");
    w.app.ok(Some(&t), CANCEL, json!({})).await;
    id
}

#[tokio::test]
async fn every_operation_of_a_session_is_in_its_ledger_refused_ones_too_never_values() {
    let w = world().await;
    let before = w.app.count("impersonation_activities", "").await;
    // Requests with normal tokens are not recorded.
    w.app
        .ok(Some(&w.carl.token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(w.app.count("impersonation_activities", "").await, before);
    let id = a_busy_session(&w).await;
    let d = w.app.ok(Some(&w.carl.token), HISTORY, json!({})).await;
    let session = &nodes(&d["me"]["accessHistory"])[0];
    assert_eq!(session["id"], json!(id));
    let activity: Vec<Value> = nodes(&session["activity"])
        .into_iter()
        .map(|a| {
            json!([
                a["operationType"],
                a["operationName"],
                a["fields"],
                a["outcome"]
            ])
        })
        .collect();
    assert_eq!(
        activity,
        [
            // `impersonate`'s own answer read the customer's data.
            json!(["mutation", "Impersonate", ["impersonate"], "OK"]),
            json!(["query", "Look", ["me", "businesses"], "OK"]),
            json!(["mutation", null, ["addBusinessComment"], "OK"]),
            json!([
                "mutation",
                "Sneak",
                ["createTeam"],
                "BLOCKED_WHILE_IMPERSONATING"
            ]),
            json!(["query", "Typo", ["me"], "GRAPHQL_VALIDATION_FAILED"]),
            json!([
                "mutation",
                "Mark",
                ["markNotificationsRead"],
                "BLOCKED_WHILE_IMPERSONATING"
            ]),
            json!(["mutation", "ComeBack", ["cancelImpersonation"], "OK"]),
        ]
    );
    // Neither variable values nor query text are kept anywhere in the ledger.
    let leaked =
        "WHERE fields LIKE '%SECRET%' OR operation_name LIKE '%SECRET%' OR fields LIKE '%4111%'";
    assert_eq!(w.app.count("impersonation_activities", leaked).await, 0);
    // The refused team creation changed nothing but the ledger and the audit trail.
    assert_eq!(w.app.count("teams", "WHERE name = 'Mine'").await, 0);
}

#[tokio::test]
async fn the_customer_sees_who_entered_why_what_they_did_and_not_supports_details() {
    let w = world().await;
    a_busy_session(&w).await;
    let d = w.app.ok(Some(&w.carl.token), HISTORY, json!({})).await;
    let s = &nodes(&d["me"]["accessHistory"])[0];
    assert_eq!(s["impersonator"]["name"], "Ada Admin");
    assert_eq!(s["reason"], "ticket #42");
    assert_eq!(s["mode"], "READ_WRITE");
    assert_eq!(s["endReason"], "CANCELLED");
    assert!(s["endedAt"].is_string());
    assert!(s["grant"].is_null());
    assert!(
        s["impersonatorTeam"].is_null(),
        "support's teams are not shown"
    );
    let changes = nodes(&s["changes"]);
    let actions: Vec<&str> = changes
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "IMPERSONATION_ENDED",
            "BLOCKED_WHILE_IMPERSONATING",
            "BLOCKED_WHILE_IMPERSONATING",
            "COMMENT_CREATED",
            "IMPERSONATION_STARTED"
        ]
    );
    let comment = &changes[3];
    assert_eq!(comment["actorName"], "Support team (Ada Admin)");
    assert_eq!(comment["isImpersonated"], true);
    assert!(
        changes
            .iter()
            .all(|c| c["ipAddress"].is_null() && c["details"].is_null())
    );
    // The start and the end are in the customer's team log too.
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ auditLogs(first: 50) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let team_log: Vec<Value> = nodes(&d["auditLogs"])
        .into_iter()
        .map(|n| n["action"].clone())
        .collect();
    for a in ["IMPERSONATION_STARTED", "IMPERSONATION_ENDED"] {
        assert!(team_log.contains(&json!(a)), "{a}: {team_log:?}");
    }
    // An admin sees the same session in full.
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "{ impersonations(first: 1) { edges { node { impersonatorTeam { name } changes(first: 1) { edges { node { action details } } } } } } }",
            json!({}),
        )
        .await;
    let s = &nodes(&d["impersonations"])[0];
    assert!(s["impersonatorTeam"]["name"].is_string());
    assert!(nodes(&s["changes"])[0]["details"].is_string());
    // Another customer cannot read this session's details through anything they hold.
    let dora = w.app.register("dora@customer.test", "Dora").await;
    let d = w.app.ok(Some(&dora.token), HISTORY, json!({})).await;
    assert_eq!(d["me"]["accessHistory"]["edges"], json!([]));
}

#[tokio::test]
async fn the_customer_is_told_when_support_enters_leaves_and_asks() {
    let w = world().await;
    let (t, id) = impersonate(&w, &w.admin, Some("READ_ONLY")).await;
    // Told at once, in the transaction of the start.
    let d = w
        .app
        .ok(Some(&w.carl.token), NOTIFICATIONS, json!({}))
        .await;
    let n = nodes(&d["me"]["notifications"]);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["kind"], "IMPERSONATION_STARTED");
    assert_eq!(
        n[0]["message"],
        "Ada Admin (support) entered your account (read-only): ticket #42."
    );
    assert_eq!(n[0]["impersonation"]["id"], json!(id));
    w.app.clock.advance(chrono::Duration::minutes(3));
    w.app.ok(Some(&t), CANCEL, json!({})).await;
    // Access asked for.
    w.app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"ticket #43\", minutes: 45) { id } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            NOTIFICATIONS,
            json!({ "unread": true }),
        )
        .await;
    let n = nodes(&d["me"]["notifications"]);
    let messages: Vec<&str> = n.iter().map(|x| x["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "Ada Admin (support) asks to enter your account for 45 minutes (read and write): ticket #43.",
            "Ada Admin (support) left your account: they signed out of it, after 3 minutes, with 0 changes.",
            "Ada Admin (support) entered your account (read-only): ticket #42.",
        ]
    );
    assert!(n[0]["grant"]["id"].is_string());
    // Marking read: some, then the rest; others' ids are ignored.
    let d = w
        .app
        .ok(Some(&w.carl.token), MARK, json!({ "ids": [n[2]["id"]] }))
        .await;
    assert_eq!(d["markNotificationsRead"], 1);
    let dora = w.app.register("dora@customer.test", "Dora").await;
    let d = w
        .app
        .ok(Some(&dora.token), MARK, json!({ "ids": [n[1]["id"]] }))
        .await;
    assert_eq!(d["markNotificationsRead"], 0);
    let d = w.app.ok(Some(&w.carl.token), MARK, json!({})).await;
    assert_eq!(d["markNotificationsRead"], 2);
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            NOTIFICATIONS,
            json!({ "unread": true }),
        )
        .await;
    assert_eq!(d["me"]["notifications"]["edges"], json!([]));
}

#[tokio::test]
async fn the_end_notice_counts_the_changes_made() {
    let w = world().await;
    let (t, _) = impersonate(&w, &w.admin, None).await;
    for text in ["one", "two"] {
        w.app
            .ok(
                Some(&t),
                "mutation($b: ID!, $t: String!) { addBusinessComment(businessId: $b, text: $t) { id } }",
                json!({ "b": w.business, "t": text }),
            )
            .await;
    }
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
            json!({}),
        )
        .await;
    let d = w
        .app
        .ok(Some(&w.carl.token), NOTIFICATIONS, json!({}))
        .await;
    assert_eq!(
        nodes(&d["me"]["notifications"])[0]["message"],
        "Ada Admin (support) left your account: you withdrew access, after less than a minute, with 2 changes."
    );
}

#[tokio::test]
async fn nothing_an_admin_holds_suppresses_a_notice_or_an_activity_record() {
    let w = world().await;
    // A super admin is recorded and announced like anyone.
    let (sup, _) = w.app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (t, id) = impersonate(&w, &sup, None).await;
    w.app.ok(Some(&t), "{ me { id } }", json!({})).await;
    // Inside the account, support cannot mark the notice read or turn anything off.
    for (q, vars) in [
        (MARK, json!({})),
        (
            "mutation { updateProfile(input: { impersonationAllowed: true }) { id } }",
            json!({}),
        ),
    ] {
        let v = w.app.gql(Some(&t), q, vars).await;
        assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING", "{q}");
    }
    // Nor as themselves: the API has no operation that removes or hides a notice or a
    // ledger row; the only one touching notices is the customer's own markNotificationsRead.
    let d = w
        .app
        .ok(
            Some(&sup.token),
            "{ __type(name: \"Mutation\") { fields { name } } }",
            json!({}),
        )
        .await;
    let touching: Vec<String> = d["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .filter(|n| {
            let n = n.to_lowercase();
            n.contains("notification") || n.contains("activit") || n.contains("ledger")
        })
        .collect();
    assert_eq!(touching, ["markNotificationsRead"]);
    w.app.ok(Some(&t), CANCEL, json!({})).await;
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            NOTIFICATIONS,
            json!({ "unread": true }),
        )
        .await;
    let kinds: Vec<Value> = nodes(&d["me"]["notifications"])
        .into_iter()
        .map(|n| n["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("IMPERSONATION_ENDED"), json!("IMPERSONATION_STARTED")]
    );
    let recorded = format!("WHERE impersonation_id = '{id}'");
    // `impersonate`'s own answer, and four operations made with the token.
    assert_eq!(w.app.count("impersonation_activities", &recorded).await, 5);
}

#[tokio::test]
async fn a_session_nobody_ends_is_closed_by_the_sweep_with_the_customer_told() {
    let w = world().await;
    let b = w.app.second_server().await;
    let (_t, _) = impersonate(&w, &w.admin, None).await;
    w.app.clock.advance(chrono::Duration::minutes(31));
    // Both servers sweep at once: one end, one notice.
    let (x, y) = tokio::join!(
        crm::services::impersonation::ending::sweep_expired(&w.app.state),
        crm::services::impersonation::ending::sweep_expired(&b.state),
    );
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    let carl = w.app.login("carl@customer.test", "correct-horse-1").await;
    let token = carl["accessToken"].as_str().unwrap();
    let d = w.app.ok(Some(token), HISTORY, json!({})).await;
    let s = &nodes(&d["me"]["accessHistory"])[0];
    assert_eq!(s["endReason"], "EXPIRED");
    let d = w.app.ok(Some(token), NOTIFICATIONS, json!({})).await;
    let n = nodes(&d["me"]["notifications"]);
    assert_eq!(n.len(), 2);
    assert!(
        n[0]["message"]
            .as_str()
            .unwrap()
            .contains("the session's time ran out, after 30 minutes")
    );
}
