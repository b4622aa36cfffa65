//! What the console of issue 37 needs from the server to stay true: a window is not opened
//! while support access is off; a session's story has a reader ("your profile" for the
//! customer, "Carl's profile" for staff) and leaves out background status reads; the audit
//! log's actions come from the server, in words; the Teams row knows an approved review (its
//! mode, until when); the dialogs know which proofs this deployment accepts; and a busy port
//! stops the server before it says it is listening, naming the setting.

use crate::common::ws::*;
use crate::common::*;
use serde_json::{Value, json};

const GRANT: &str =
    r#"mutation { grantSupportAccess(reason: "look", mode: READ_ONLY, minutes: 30) { id } }"#;
const CONSENT: &str = "mutation($a: Boolean, $r: Boolean) { updateProfile(input: { impersonationAllowed: $a, impersonationRequiresApproval: $r }) { id impersonationAllowed } }";

fn field_of(v: &Value) -> String {
    v["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_window_is_not_opened_or_approved_while_support_access_is_off() {
    let app = TestApp::new().await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    // Carl approves each session; Ada asks; then Carl turns support access off.
    app.ok(Some(&carl.token), CONSENT, json!({ "r": true }))
        .await;
    let d = app
        .ok(
            Some(&ada.token),
            r#"mutation($u: ID!) { requestSupportAccess(userId: $u, reason: "Invoice", minutes: 30) { id } }"#,
            json!({ "u": carl.user_id }),
        )
        .await;
    let asked = d["requestSupportAccess"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(Some(&carl.token), CONSENT, json!({ "a": false }))
        .await;
    let before = app
        .count("support_access_grants", "WHERE status = 'APPROVED'")
        .await;

    let r = app.gql(Some(&carl.token), GRANT, json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(field_of(&r), "impersonationAllowed");
    let message = r["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("Support access is off"), "{message}");
    let r = app
        .gql(
            Some(&carl.token),
            "mutation($id: ID!) { approveSupportAccess(grantId: $id) { id } }",
            json!({ "id": asked }),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(field_of(&r), "impersonationAllowed");
    // Nothing was opened: no window is listed, the request still waits.
    assert_eq!(
        app.count("support_access_grants", "WHERE status = 'APPROVED'")
            .await,
        before
    );
    let d = app
        .ok(
            Some(&carl.token),
            "{ me { supportAccessGrants { id status } } }",
            json!({}),
        )
        .await;
    let statuses: Vec<&str> = d["me"]["supportAccessGrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["PENDING"]);
    // With access on again, the same window opens.
    app.ok(Some(&carl.token), CONSENT, json!({ "a": true }))
        .await;
    app.ok(Some(&carl.token), GRANT, json!({})).await;
}

#[tokio::test]
async fn staff_read_the_customers_name_and_background_reads_are_not_steps_of_the_story() {
    let app = TestApp::with_config(|c| c.access_token_ttl = chrono::Duration::days(1)).await;
    let url = serve(&app).await;
    let (sue, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl Customer").await;
    let d = app
        .ok(
            Some(&sue.token),
            r#"mutation($u: ID!) { impersonate(userId: $u, reason: "Invoice", mode: READ_ONLY) { accessToken user { impersonation { id } } } }"#,
            json!({ "u": carl.user_id }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let id = d["impersonate"]["user"]["impersonation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The banner's status subscription, as the console opens it, then a page.
    let mut banner = init(&url, Some(&t)).await;
    subscribe(
        &mut banner,
        "status",
        "subscription { currentImpersonation { kind } }",
    )
    .await;
    subscribed(&app, 1).await;
    app.ok(Some(&t), "query Profile { me { name } }", json!({}))
        .await;
    drop(banner);
    app.ok(
        Some(&t),
        "mutation { cancelImpersonation { accessToken } }",
        json!({}),
    )
    .await;

    let story = |v: &Value| -> Vec<String> {
        v["story"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["summary"].as_str().unwrap().to_string())
            .collect()
    };
    let d = app
        .ok(
            Some(&carl.token),
            "{ me { accessHistory(first: 5) { nodes { story { summary } } } } }",
            json!({}),
        )
        .await;
    let theirs = story(&d["me"]["accessHistory"]["nodes"][0]);
    assert_eq!(
        theirs,
        [
            "Entered your account",
            "Viewed your profile",
            "Left your account"
        ]
    );
    let d = app
        .ok(
            Some(&sue.token),
            "{ impersonations(first: 5) { nodes { id story { summary } activity(first: 20) { nodes { summary } } } } }",
            json!({}),
        )
        .await;
    let session = d["impersonations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()
        .clone();
    let staffs = story(&session);
    assert_eq!(
        staffs,
        [
            "Entered Carl's account",
            "Viewed Carl's profile",
            "Left Carl's account"
        ]
    );
    // The operations themselves are all still in the ledger (the status read included).
    let all = session["activity"]["nodes"].as_array().unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
}

#[tokio::test]
async fn the_audit_logs_actions_come_from_the_server_in_words_for_each_reader() {
    let app = TestApp::new().await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    const ACTIONS: &str = "{ auditActions { action label } }";
    let staff = app.ok(Some(&ada.token), ACTIONS, json!({})).await;
    let theirs = app.ok(Some(&carl.token), ACTIONS, json!({})).await;
    let codes = |v: &Value| -> Vec<String> {
        v["auditActions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect()
    };
    let (staff_codes, their_codes) = (codes(&staff), codes(&theirs));
    for code in [
        "IMPERSONATION_REVIEW_APPROVED",
        "PASSKEY_ADDED",
        "WEBHOOK_ENDPOINT_CREATED",
        "REVIEW_REQUIREMENT_CHANGE_REQUESTED",
    ] {
        assert!(staff_codes.iter().any(|c| c == code), "{code}");
    }
    assert!(staff_codes.len() >= 55, "{}", staff_codes.len());
    assert!(their_codes.iter().any(|c| c == "PASSKEY_ADDED"));
    assert!(!their_codes.iter().any(|c| c == "WEBHOOK_ENDPOINT_CREATED"));
    // Every label is words for people, never the code.
    for a in theirs["auditActions"].as_array().unwrap() {
        let label = a["label"].as_str().unwrap();
        assert!(!label.contains('_') && !label.is_empty(), "{label}");
    }
    let label = |code: &str| {
        theirs["auditActions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == code)
            .map(|a| a["label"].as_str().unwrap().to_string())
    };
    assert_eq!(
        label("REFRESH_TOKEN_REUSED").as_deref(),
        Some("An old sign-in was reused and refused")
    );
    // Every action this test's own traffic recorded is one the list offers.
    let d = app
        .ok(
            Some(&ada.token),
            "{ auditLogs(first: 100) { nodes { action } } }",
            json!({}),
        )
        .await;
    for row in d["auditLogs"]["nodes"].as_array().unwrap() {
        let action = row["action"].as_str().unwrap();
        assert!(staff_codes.iter().any(|c| c == action), "{action}");
    }
}

#[tokio::test]
async fn the_check_names_the_approved_review_and_the_proofs_this_deployment_accepts() {
    let app = TestApp::new().await;
    let (sue, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let (bob, _) = app.admin("bob@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    app.ok(
        Some(&sue.token),
        "mutation($u: ID!) { setImpersonationReviewRequired(userId: $u, required: true) { id } }",
        json!({ "u": carl.user_id }),
    )
    .await;
    let d = app
        .ok(
            Some(&ada.token),
            r#"mutation($u: ID!) { requestImpersonationReview(userId: $u, reason: "Payout", mode: READ_WRITE, minutes: 5) { id } }"#,
            json!({ "u": carl.user_id }),
        )
        .await;
    let review = d["requestImpersonationReview"]["id"].clone();
    const CHECK: &str = "{ teams(first: 50) { nodes { owner { id impersonationCheck { allowed modes approvedReview { id mode minutes expiresAt } } } } } }";
    let check = |d: &Value, who: &str| -> Value {
        d["teams"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["owner"]["id"] == who)
            .unwrap()["owner"]["impersonationCheck"]
            .clone()
    };
    let d = app.ok(Some(&ada.token), CHECK, json!({})).await;
    assert!(check(&d, &carl.user_id)["approvedReview"].is_null());
    app.ok(
        Some(&bob.token),
        "mutation($id: ID!) { approveImpersonationReview(id: $id) { id } }",
        json!({ "id": review }),
    )
    .await;
    let d = app.ok(Some(&ada.token), CHECK, json!({})).await;
    let c = check(&d, &carl.user_id);
    assert_eq!(c["approvedReview"]["id"], review);
    assert_eq!(c["approvedReview"]["mode"], "READ_WRITE");
    assert_eq!(c["approvedReview"]["minutes"], 5);
    assert!(c["approvedReview"]["expiresAt"].is_string());
    // Bob approved it for Ada: his own row shows no review of his.
    let d = app.ok(Some(&bob.token), CHECK, json!({})).await;
    assert!(check(&d, &carl.user_id)["approvedReview"].is_null());

    // IMPERSONATION_STEP_UP=passkey: starting and elevating take a passkey only.
    let app = TestApp::with_config(|c| c.step_up = crm::config::StepUp::Passkey).await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let d = app
        .ok(
            Some(&ada.token),
            "{ impersonationSettings { startProofs elevateProofs } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["impersonationSettings"],
        json!({ "startProofs": ["PASSKEY"], "elevateProofs": ["PASSKEY"] })
    );
}

#[tokio::test]
async fn without_a_step_up_rule_starting_needs_no_proof_and_elevating_takes_either() {
    let app = TestApp::new().await;
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&ada.token),
            "{ impersonationSettings { startProofs elevateProofs } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["impersonationSettings"],
        json!({ "startProofs": [], "elevateProofs": ["PASSKEY", "TOTP"] })
    );
    // The banner reads the same from the session it is in.
    let d = app
        .ok(
            Some(&ada.token),
            r#"mutation($u: ID!) { impersonate(userId: $u, reason: "Invoice", mode: READ_ONLY) { user { impersonation { elevateProofs } } } }"#,
            json!({ "u": carl.user_id }),
        )
        .await;
    assert_eq!(
        d["impersonate"]["user"]["impersonation"]["elevateProofs"],
        json!(["PASSKEY", "TOTP"])
    );
}

/// A busy metrics port stops the server before it prints that it is listening (or any demo
/// login), with the setting named and what to do.
#[test]
fn a_busy_port_stops_the_server_before_it_says_it_is_listening_naming_the_setting() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut cmd = server_command(dir.path());
    cmd.env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server kept running on a busy metrics port");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(!out.contains("listening"), "{out}");
    assert!(!out.contains("demo"), "{out}");
    assert!(err.contains("METRICS_ADDR"), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("METRICS_ADDR=off"), "{err}");
    drop(taken);
}

#[tokio::test]
async fn a_wrong_password_is_refused_before_the_passkey_ceremony_starts() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    const START: &str = "mutation($p: String!) { startPasskeyRegistrationWithPassword(password: $p) { id options } }";
    let r = app
        .gql(Some(&carl.token), START, json!({ "p": "not-my-password" }))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(field_of(&r), "password");
    // No challenge was handed out, so the browser never creates a passkey.
    assert!(r["data"].is_null());
    assert_eq!(app.count("webauthn_challenges", "").await, 0);
    let d = app
        .ok(Some(&carl.token), START, json!({ "p": "correct-horse-1" }))
        .await;
    assert!(d["startPasskeyRegistrationWithPassword"]["id"].is_string());
}
