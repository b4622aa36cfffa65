//! The README's walk-through, run as written: the operations of
//! `tests/operations/walkthrough.graphql`, in order, on the demo data, with each one also shown
//! verbatim in the README (so the README cannot drift from the server).

use crate::common::*;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../operations/walkthrough.graphql");
const README: &str = include_str!("../../README.md");

/// Runs one named operation of the walk-through document.
async fn run(app: &TestApp, token: Option<&str>, name: &str, variables: Value) -> Value {
    let body = json!({ "query": DOCUMENT, "operationName": name, "variables": variables });
    let (status, v) = app.post_json(token, body).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{name}: {v}");
    v
}

async fn data(app: &TestApp, token: Option<&str>, name: &str, variables: Value) -> Value {
    let v = run(app, token, name, variables).await;
    assert!(v.get("errors").is_none(), "{name}: {v}");
    v["data"].clone()
}

fn token(v: &Value) -> String {
    v["accessToken"].as_str().unwrap().to_string()
}

/// The operations of the document, each as written (comments and blank lines aside).
fn operations() -> Vec<String> {
    DOCUMENT
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|op| !op.trim().is_empty())
        .collect()
}

#[test]
fn the_readme_shows_every_operation_of_the_walkthrough_verbatim() {
    let ops = operations();
    assert_eq!(ops.len(), 15);
    for op in ops {
        assert!(README.contains(op.trim()), "README lacks:\n{op}");
    }
}

#[tokio::test]
async fn the_walkthrough_runs_as_the_readme_tells_it() {
    let app = TestApp::new().await;
    crm::seed::seed_demo(&app.state).await.unwrap();

    // 1–2. The admin signs in, then passes 2FA with the current code.
    let creds = json!({ "email": "admin@demo.test", "password": "demo-admin-1" });
    let d = data(&app, None, "SignIn", creds).await;
    assert_eq!(d["login"]["user"]["isTwoFactorAuthenticated"], false);
    let pre = token(&d["login"]);
    app.clock.advance(chrono::Duration::seconds(30));
    let code = crm::seed::demo_totp(&app.state, "admin@demo.test", false)
        .await
        .unwrap()
        .unwrap();
    let d = data(&app, Some(&pre), "SecondFactor", json!({ "code": code })).await;
    let admin = token(&d["authenticateTwoFactor"]);

    // 3. The Teams List says, for each owner, what the Impersonate button should.
    let d = data(&app, Some(&admin), "TeamsList", json!({})).await;
    let owners: Vec<&Value> = d["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["owner"])
        .collect();
    let olivia = owners.iter().find(|o| o["name"] == "Olivia Owner").unwrap();
    assert_eq!(olivia["impersonationCheck"]["allowed"], true);
    let paul = owners.iter().find(|o| o["name"] == "Paul Private").unwrap();
    assert_eq!(paul["impersonationCheck"]["reason"], "NOT_ALLOWED_BY_USER");

    // 4. Impersonate Olivia; see what she sees; comment as support; team creation is blocked.
    let vars = json!({ "userId": olivia["id"], "reason": "ticket #42" });
    let d = data(&app, Some(&admin), "Impersonate", vars).await;
    assert_eq!(
        d["impersonate"]["user"]["impersonatedBy"]["name"],
        "Ada Admin"
    );
    let as_olivia = token(&d["impersonate"]);
    let d = data(&app, Some(&as_olivia), "WhatTheCustomerSees", json!({})).await;
    assert_eq!(d["me"]["name"], "Olivia Owner");
    let business = d["businesses"][0]["id"].clone();
    let vars = json!({ "businessId": business, "text": "Fixed your invoice" });
    let d = data(&app, Some(&as_olivia), "CommentAsSupport", vars).await;
    assert_eq!(
        d["addBusinessComment"]["authorName"],
        "Support team (Ada Admin)"
    );
    let v = run(
        &app,
        Some(&as_olivia),
        "TryToCreateATeam",
        json!({ "name": "x" }),
    )
    .await;
    assert_eq!(error_code(&v), "BLOCKED_WHILE_IMPERSONATING");

    // 5. Come back: the admin's own account and team; the impersonation token is dead.
    let d = data(&app, Some(&as_olivia), "ComeBack", json!({})).await;
    assert_eq!(d["cancelImpersonation"]["user"]["name"], "Ada Admin");
    let admin = token(&d["cancelImpersonation"]);
    let v = run(&app, Some(&as_olivia), "WhatTheCustomerSees", json!({})).await;
    assert_eq!(error_code(&v), "UNAUTHENTICATED");

    // 6. The history and the audit trail.
    let d = data(&app, Some(&admin), "History", json!({})).await;
    let session = &d["impersonations"]["edges"][0]["node"];
    assert_eq!(session["impersonatedUser"]["name"], "Olivia Owner");
    assert!(session["endedAt"].is_string());
    let actions: Vec<&Value> = d["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["action"])
        .collect();
    assert!(
        actions.contains(&&json!("IMPERSONATION_ENDED")),
        "{actions:?}"
    );

    // 7. Customer approval. Quinn approves each support session: the Teams List offers
    // "Request access" instead of Impersonate.
    let d = data(&app, Some(&admin), "TeamsList", json!({})).await;
    let quinn = d["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["owner"].clone())
        .find(|o| o["name"] == "Quinn Careful")
        .unwrap();
    assert_eq!(quinn["impersonationCheck"]["reason"], "APPROVAL_REQUIRED");
    let vars =
        json!({ "userId": quinn["id"], "reason": "ticket #43: export fails", "minutes": 30 });
    let d = data(&app, Some(&admin), "RequestAccess", vars).await;
    assert_eq!(d["requestSupportAccess"]["status"], "PENDING");
    // Quinn signs in, sees the request, and approves it for 15 of the 30 minutes.
    let creds = json!({ "email": "quinn@demo.test", "password": "demo-owner-3" });
    let quinn_token = token(&data(&app, None, "SignIn", creds).await["login"]);
    let d = data(&app, Some(&quinn_token), "PendingRequests", json!({})).await;
    let request = &d["me"]["supportAccessGrants"][0];
    assert_eq!(request["requestedBy"]["name"], "Ada Admin");
    let vars = json!({ "grantId": request["id"], "minutes": 15 });
    let d = data(&app, Some(&quinn_token), "Approve", vars).await;
    assert_eq!(d["approveSupportAccess"]["status"], "APPROVED");
    // Ada enters, for no longer than the window.
    let vars = json!({ "userId": quinn["id"], "reason": "ticket #43" });
    let d = data(&app, Some(&admin), "Impersonate", vars).await;
    let as_quinn = token(&d["impersonate"]);
    let d = data(&app, Some(&as_quinn), "WhatTheCustomerSees", json!({})).await;
    assert_eq!(d["me"]["name"], "Quinn Careful");
    // Quinn revokes: Ada's session ends at once.
    let vars = json!({ "grantId": request["id"] });
    let d = data(&app, Some(&quinn_token), "Revoke", vars).await;
    assert_eq!(d["revokeSupportAccess"]["status"], "REVOKED");
    let v = run(&app, Some(&as_quinn), "WhatTheCustomerSees", json!({})).await;
    assert_eq!(error_code(&v), "UNAUTHENTICATED");

    // 8. Quinn's side: who entered, why, what they did, how it ended; and the notices.
    let d = data(&app, Some(&quinn_token), "MyAccessHistory", json!({})).await;
    let session = &d["me"]["accessHistory"]["edges"][0]["node"];
    assert_eq!(session["impersonator"]["name"], "Ada Admin");
    assert_eq!(session["reason"], "ticket #43");
    assert_eq!(session["endReason"], "REVOKED_BY_USER");
    // The first row is `impersonate`'s own answer, which read Quinn's data.
    assert_eq!(
        session["activity"]["edges"][0]["node"]["fields"],
        json!(["impersonate"])
    );
    let activity = &session["activity"]["edges"][1]["node"];
    assert_eq!(activity["operationName"], "WhatTheCustomerSees");
    assert_eq!(activity["fields"], json!(["me", "businesses"]));
    assert_eq!(activity["outcome"], "OK");
    let d = data(&app, Some(&quinn_token), "MyNotices", json!({})).await;
    let kinds: Vec<&Value> = d["me"]["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!("IMPERSONATION_ENDED"),
            &json!("IMPERSONATION_STARTED"),
            &json!("SUPPORT_ACCESS_REQUESTED")
        ]
    );
}
