//! The customer's history, in words: every operation, audit row and session reads as a
//! sentence with records named, the change count agrees everywhere, tickets, the team a
//! session starts in, the team owner's history, and the requesting admin told of decisions.

use crate::common::*;
use serde_json::{Value, json};

const HISTORY: &str = r#"
query History {
  me {
    accessHistory(first: 10) {
      edges { node {
        id summary mode initialMode elevatedAt elevationReason changeCount ticket ticketUrl
        activity(first: 50) { edges { node { outcome summary } } }
        story { count summary }
        changes(first: 50) { edges { node { action summary } } }
      } }
    }
  }
}"#;
const ELEVATE: &str = r#"mutation Elevate($c: String!) {
  elevateImpersonation(code: $c, reason: "Fix the invoice comment") { mode }
}"#;

struct World {
    app: TestApp,
    admin: Session,
    admin_secret: String,
    carl: Session,
    business: String,
    lead: String,
}

async fn world_with(tweak: impl FnOnce(&mut crm::config::Config)) -> World {
    let app = TestApp::with_config(tweak).await;
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&carl.token),
            "mutation { createBusiness(name: \"Olivia's Bakery\") { id } }",
            json!({}),
        )
        .await;
    let business = d["createBusiness"]["id"].as_str().unwrap().to_string();
    let d = app
        .ok(
            Some(&carl.token),
            "mutation($b: ID) { createLead(name: \"Spring order\", businessId: $b) { id } }",
            json!({ "b": business }),
        )
        .await;
    let lead = d["createLead"]["id"].as_str().unwrap().to_string();
    World {
        app,
        admin,
        admin_secret,
        carl,
        business,
        lead,
    }
}

fn nodes(v: &Value) -> Vec<Value> {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn texts(list: &[Value], field: &str) -> Vec<String> {
    list.iter()
        .map(|n| n[field].as_str().unwrap().to_string())
        .collect()
}

/// No GraphQL words, error codes or ids in what the customer reads.
fn reads_as_words(text: &str, ids: &[&str]) {
    for word in [
        "query",
        "mutation",
        "subscription",
        "addBusinessComment",
        "addLeadComment",
        "businesses {",
        "BLOCKED",
        "READ_ONLY",
        "READ_WRITE",
        "FORBIDDEN",
        "NOT_FOUND",
        "OK",
        "COMMENT_CREATED",
        "IMPERSONATION_",
    ] {
        assert!(!text.contains(word), "{text:?} contains {word:?}");
    }
    for id in ids {
        assert!(!text.contains(id), "{text:?} contains an id");
    }
}

#[tokio::test]
async fn the_customer_reads_what_support_did_in_sentences_with_one_change_count() {
    let w = world_with(|c| {
        c.ticket_url = Some("https://help.example.com/t/{ticket}".into());
    })
    .await;
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            r#"mutation($u: ID!) { impersonate(userId: $u, reason: "Invoice", mode: READ_ONLY, ticket: "4521 A") { accessToken } }"#,
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        w.app
            .ok(
                Some(&t),
                "query Work { businesses { id } leads { id } }",
                json!({}),
            )
            .await;
    }
    w.app
        .ok(
            Some(&t),
            "query One($l: ID!) { lead(id: $l) { name } }",
            json!({ "l": w.lead }),
        )
        .await;
    let refused = w
        .app
        .gql(
            Some(&t),
            "mutation AddBusinessComment($b: ID!) { addBusinessComment(businessId: $b, text: \"hi\") { id } }",
            json!({ "b": w.business }),
        )
        .await;
    assert_eq!(error_code(&refused), "BLOCKED_WHILE_IMPERSONATING");
    let code = w.app.code(&w.admin_secret);
    w.app.ok(Some(&t), ELEVATE, json!({ "c": code })).await;
    w.app
        .ok(
            Some(&t),
            "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"Corrected the invoice\") { id } }",
            json!({ "l": w.lead }),
        )
        .await;
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;

    let d = w.app.ok(Some(&w.carl.token), HISTORY, json!({})).await;
    let s = &nodes(&d["me"]["accessHistory"])[0];
    let ids = [
        w.lead.as_str(),
        w.business.as_str(),
        s["id"].as_str().unwrap(),
    ];
    assert_eq!(s["initialMode"], "READ_ONLY");
    assert_eq!(s["mode"], "READ_WRITE");
    assert_eq!(s["elevationReason"], "Fix the invoice comment");
    assert!(s["elevatedAt"].is_string());
    assert_eq!(s["ticket"], "4521 A");
    assert_eq!(s["ticketUrl"], "https://help.example.com/t/4521%20A");
    // One change to the customer's data: the comment; not the start, end, elevation or the
    // refusal.
    assert_eq!(s["changeCount"], 1);
    let summary = s["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Ada Admin (support), read-only, then allowed to make changes at "),
        "{summary}"
    );
    assert!(
        summary.contains("(“Fix the invoice comment”)")
            && summary.contains("; 1 change; they signed out of it; ticket 4521 A"),
        "{summary}"
    );
    reads_as_words(summary, &ids);

    let activity = texts(&nodes(&s["activity"]), "summary");
    assert_eq!(
        activity,
        [
            "Entered your account",
            "Viewed your businesses and leads",
            "Viewed your businesses and leads",
            "Viewed the lead “Spring order”",
            "Tried to add a comment on “Olivia's Bakery”: refused, the session was read-only",
            "Was allowed to make changes",
            "Added a comment on the lead “Spring order”",
            "Left your account",
        ]
    );
    let story = s["story"].as_array().unwrap();
    assert_eq!(
        story[1]["summary"],
        "Viewed your businesses and leads, and the lead “Spring order” (3 views)"
    );
    assert_eq!(story[1]["count"], 3);
    assert_eq!(story.len(), 6);
    for line in activity.iter().chain(texts(story, "summary").iter()) {
        reads_as_words(line, &ids);
    }
    let changes = texts(&nodes(&s["changes"]), "summary");
    assert!(changes.contains(&"Added a comment on the lead “Spring order”".to_string()));
    assert!(
        changes.contains(
            &"Support was allowed to make changes: “Fix the invoice comment”".to_string()
        )
    );
    for line in &changes {
        reads_as_words(line, &ids);
    }

    // The notice says the same number of changes, and the same end words.
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ me { notifications(first: 10) { edges { node { kind message } } } } }",
            json!({}),
        )
        .await;
    let ended: Vec<String> = nodes(&d["me"]["notifications"])
        .into_iter()
        .filter(|n| n["kind"] == "IMPERSONATION_ENDED")
        .map(|n| n["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ended.len(), 1);
    assert!(
        ended[0].contains("they signed out of it") && ended[0].ends_with("with 1 change."),
        "{}",
        ended[0]
    );
    // The customer's audit log reads in the same sentences.
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ auditLogs(first: 50) { edges { node { summary } } } }",
            json!({}),
        )
        .await;
    let log = texts(&nodes(&d["auditLogs"]), "summary");
    assert!(log.contains(&"Added a comment on the lead “Spring order”".to_string()));
    assert!(
        log.contains(&"Added the lead “Spring order”".to_string()),
        "{log:?}"
    );
}

#[tokio::test]
async fn records_of_other_teams_are_never_named() {
    let w = world_with(|_| {}).await;
    // Another customer's lead: support tries it from inside Carl's account.
    let dora = w.app.register("dora@customer.test", "Dora").await;
    let d = w
        .app
        .ok(
            Some(&dora.token),
            "mutation { createLead(name: \"Dora's secret deal\") { id } }",
            json!({}),
        )
        .await;
    let other = d["createLead"]["id"].as_str().unwrap().to_string();
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!) { impersonate(userId: $u, reason: \"Look\") { accessToken } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let v = w
        .app
        .gql(
            Some(&t),
            "query($l: ID!) { lead(id: $l) { name } }",
            json!({ "l": other }),
        )
        .await;
    assert_eq!(error_code(&v), "NOT_FOUND");
    let d = w.app.ok(Some(&w.carl.token), HISTORY, json!({})).await;
    let s = &nodes(&d["me"]["accessHistory"])[0];
    let activity = texts(&nodes(&s["activity"]), "summary");
    assert!(
        activity.contains(&"Tried to view a lead: it was not found".to_string()),
        "{activity:?}"
    );
    assert!(!format!("{activity:?}").contains("Dora"));
}

#[tokio::test]
async fn a_session_starts_in_the_team_it_was_started_from() {
    let w = world_with(|_| {}).await;
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "mutation { createTeam(name: \"Second shop\") { id } }",
            json!({}),
        )
        .await;
    let second = d["createTeam"]["id"].as_str().unwrap().to_string();
    const START: &str = r#"mutation($u: ID!, $t: ID) {
      impersonate(userId: $u, reason: "Second shop", teamId: $t) { accessToken user { currentTeam { id name } } }
    }"#;
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            START,
            json!({ "u": w.carl.user_id, "t": second }),
        )
        .await;
    assert_eq!(
        d["impersonate"]["user"]["currentTeam"]["id"],
        second.as_str()
    );
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&t)["teamId"], second.as_str());
    // Work happens there.
    let d = w
        .app
        .ok(
            Some(&t),
            "{ me { currentTeam { name } } businesses { name } }",
            json!({}),
        )
        .await;
    assert_eq!(d["me"]["currentTeam"]["name"], "Second shop");
    assert_eq!(d["businesses"], json!([]));
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    // A team that is not the customer's: NOT_FOUND, and no session starts.
    let admins_team = w.admin.team_id.clone();
    let v = w
        .app
        .gql(
            Some(&w.admin.token),
            START,
            json!({ "u": w.carl.user_id, "t": admins_team }),
        )
        .await;
    assert_eq!(error_code(&v), "NOT_FOUND");
    assert_eq!(w.app.count("impersonations", "").await, 1);
}

#[tokio::test]
async fn a_ticket_is_required_when_configured_and_carried_by_requests() {
    let w = world_with(|c| c.require_ticket = true).await;
    let v = w
        .app
        .gql(
            Some(&w.admin.token),
            "mutation($u: ID!) { impersonate(userId: $u, reason: \"x\") { accessToken } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let long = "T".repeat(101);
    let v = w
        .app
        .gql(
            Some(&w.admin.token),
            "mutation($u: ID!, $t: String) { requestSupportAccess(userId: $u, reason: \"x\", ticket: $t) { id } }",
            json!({ "u": w.carl.user_id, "t": long }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(w.app.count("impersonations", "").await, 0);
    assert_eq!(w.app.count("support_access_grants", "").await, 0);
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"Invoice\", ticket: \"T-9\") { ticket } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    assert_eq!(d["requestSupportAccess"]["ticket"], "T-9");
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ me { notifications(first: 5) { edges { node { message } } } } }",
            json!({}),
        )
        .await;
    let m = nodes(&d["me"]["notifications"])[0]["message"].clone();
    assert!(
        m.as_str().unwrap().ends_with("Invoice (ticket T-9)."),
        "{m}"
    );
}

#[tokio::test]
async fn the_team_owner_reads_sessions_into_members_accounts_and_others_may_not() {
    let w = world_with(|_| {}).await;
    w.app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!) { impersonate(userId: $u, reason: \"Invoice\") { accessToken } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    const TEAM: &str = "{ me { currentTeam { accessHistory(first: 5) { edges { node { summary impersonatedUser { name } } } } } } }";
    let d = w.app.ok(Some(&w.carl.token), TEAM, json!({})).await;
    let list = nodes(&d["me"]["currentTeam"]["accessHistory"]);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["impersonatedUser"]["name"], "Carl");
    assert!(
        list[0]["summary"]
            .as_str()
            .unwrap()
            .ends_with("still running")
    );
    // The admin's own team is theirs; Carl's team is not the admin's to read.
    let v = w
        .app
        .gql(
            Some(&w.admin.token),
            "{ teams(first: 50) { edges { node { name accessHistory(first: 1) { edges { node { id } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
}

#[tokio::test]
async fn the_requesting_admin_is_told_when_the_customer_decides() {
    let w = world_with(|_| {}).await;
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationRequiresApproval: true }) { id } }",
            json!({}),
        )
        .await;
    const ASK: &str =
        "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"Invoice\") { id } }";
    let notices = |token: String| {
        let app = &w.app;
        async move {
            let d = app
                .ok(
                    Some(&token),
                    "{ me { notifications(first: 10) { edges { node { kind message grant { id status } } } } } }",
                    json!({}),
                )
                .await;
            nodes(&d["me"]["notifications"])
        }
    };
    let d = w
        .app
        .ok(Some(&w.admin.token), ASK, json!({ "u": w.carl.user_id }))
        .await;
    let first = d["requestSupportAccess"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation($g: ID!) { approveSupportAccess(grantId: $g, minutes: 30) { id } }",
            json!({ "g": first }),
        )
        .await;
    let d = w
        .app
        .ok(Some(&w.admin.token), ASK, json!({ "u": w.carl.user_id }))
        .await;
    let second = d["requestSupportAccess"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation($g: ID!) { denySupportAccess(grantId: $g) { id } }",
            json!({ "g": second }),
        )
        .await;
    let told = notices(w.admin.token.clone()).await;
    let kinds: Vec<&str> = told
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .filter(|k| *k != "FACTOR_CHANGED") // her own TOTP, turned on when she joined
        .collect();
    assert_eq!(kinds, ["SUPPORT_ACCESS_DENIED", "SUPPORT_ACCESS_APPROVED"]);
    assert_eq!(
        told[0]["message"],
        "Carl denied your request to enter their account."
    );
    assert!(
        told[1]["message"].as_str().unwrap().starts_with(
            "Carl approved your request: you may enter their account (read and write) until "
        ),
        "{}",
        told[1]["message"]
    );
    assert_eq!(told[1]["grant"]["status"], "APPROVED");
}

#[tokio::test]
async fn the_check_offers_only_the_modes_the_customers_approval_allows_and_until_when() {
    let w = world_with(|_| {}).await;
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationRequiresApproval: true }) { id } }",
            json!({}),
        )
        .await;
    const CHECK: &str = "{ teams(first: 50) { edges { node { owner { id impersonationCheck { allowed reason modes grantExpiresAt } } } } } }";
    let check = || async {
        let d = w.app.ok(Some(&w.admin.token), CHECK, json!({})).await;
        nodes(&d["teams"])
            .into_iter()
            .map(|t| t["owner"].clone())
            .find(|o| o["id"] == w.carl.user_id.as_str())
            .unwrap()["impersonationCheck"]
            .clone()
    };
    let c = check().await;
    assert_eq!(
        (
            c["allowed"].clone(),
            c["reason"].clone(),
            c["modes"].clone()
        ),
        (json!(false), json!("APPROVAL_REQUIRED"), json!([]))
    );
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"Look\", mode: READ_ONLY) { id } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let g = d["requestSupportAccess"]["id"].clone();
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "mutation($g: ID!) { approveSupportAccess(grantId: $g) { expiresAt } }",
            json!({ "g": g }),
        )
        .await;
    let c = check().await;
    assert_eq!(c["allowed"], true);
    assert_eq!(c["modes"], json!(["READ_ONLY"]));
    assert_eq!(c["grantExpiresAt"], d["approveSupportAccess"]["expiresAt"]);
}
