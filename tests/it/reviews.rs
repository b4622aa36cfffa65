//! Four-eyes review over GraphQL: super admins mark accounts; a session that can change a
//! marked account needs a second admin's approved review, used once, lasting at most its
//! minutes; the reviewer's rules, races, lapses, withdrawal; both the customer's consent and
//! the review; live events, watching a session, and the customer's history.

use crate::common::ws::*;
use crate::common::*;
use serde_json::{Value, json};

const MARK: &str = "mutation($u: ID!, $r: Boolean!) { setImpersonationReviewRequired(userId: $u, required: $r) { id impersonationReviewRequired } }";
const ASK: &str = r#"mutation($u: ID!, $m: ImpersonationMode, $min: Int) {
  requestImpersonationReview(userId: $u, reason: "Fix the payout account", mode: $m, minutes: $min, ticket: "T-1") {
    id status mode minutes expiresAt requester { id } target { id }
  }
}"#;
const APPROVE: &str = "mutation($id: ID!, $n: String) { approveImpersonationReview(id: $id, note: $n) { id status note expiresAt reviewer { id } } }";
const DENY: &str = "mutation($id: ID!, $n: String!) { denyImpersonationReview(id: $id, note: $n) { id status note } }";
const WITHDRAW: &str = "mutation($id: ID!) { withdrawImpersonationReview(id: $id) { id status } }";
const IMPERSONATE: &str = r#"mutation($u: ID!, $m: ImpersonationMode) {
  impersonate(userId: $u, reason: "Payout", mode: $m) { accessToken user { impersonation { id expiresAt startedAt review { id status } } } }
}"#;
const CHECK: &str = "{ teams(first: 50) { edges { node { owner { id impersonationCheck { allowed reason modes } } } } } }";

struct World {
    app: TestApp,
    sue: Session,
    ada: Session,
    ada_secret: String,
    bob: Session,
    carl: Session,
}

async fn world_with(tweak: impl FnOnce(&mut crm::config::Config)) -> World {
    let app = TestApp::with_config(|c| {
        c.access_token_ttl = chrono::Duration::days(1);
        tweak(c)
    })
    .await;
    let (sue, _) = app.admin("sue@support.test", "SUPER_ADMIN").await;
    let (ada, ada_secret) = app.admin("ada@support.test", "ADMIN").await;
    let (bob, _) = app.admin("bob@support.test", "ADMIN").await;
    app.ok(
        Some(&bob.token),
        "mutation { updateProfile(input: { name: \"Bob Second\" }) { id } }",
        json!({}),
    )
    .await;
    let carl = app.register("carl@customer.test", "Carl").await;
    World {
        app,
        sue,
        ada,
        ada_secret,
        bob,
        carl,
    }
}

async fn marked() -> World {
    marked_with(|_| {}).await
}

async fn marked_with(tweak: impl FnOnce(&mut crm::config::Config)) -> World {
    let w = world_with(tweak).await;
    let d = w
        .app
        .ok(
            Some(&w.sue.token),
            MARK,
            json!({ "u": w.carl.user_id, "r": true }),
        )
        .await;
    assert_eq!(
        d["setImpersonationReviewRequired"]["impersonationReviewRequired"],
        true
    );
    w
}

async fn ask(w: &World, by: &Session, mode: &str, minutes: i32) -> Value {
    let d = w
        .app
        .ok(
            Some(&by.token),
            ASK,
            json!({ "u": w.carl.user_id, "m": mode, "min": minutes }),
        )
        .await;
    d["requestImpersonationReview"].clone()
}

fn reason(v: &Value) -> Value {
    v["errors"][0]["extensions"]["reason"].clone()
}

async fn check(w: &World, by: &Session) -> Value {
    let d = w.app.ok(Some(&by.token), CHECK, json!({})).await;
    d["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["owner"].clone())
        .find(|o| o["id"] == w.carl.user_id.as_str())
        .unwrap()["impersonationCheck"]
        .clone()
}

#[tokio::test]
async fn only_a_super_admin_marks_an_account_and_it_is_audited() {
    let w = world_with(|_| {}).await;
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            MARK,
            json!({ "u": w.carl.user_id, "r": true }),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    w.app
        .ok(
            Some(&w.sue.token),
            MARK,
            json!({ "u": w.carl.user_id, "r": true }),
        )
        .await;
    let rows = format!(
        "WHERE action = 'IMPERSONATION_REVIEW_REQUIRED_SET' AND actor_id = '{}' AND entity_id = '{}'",
        w.sue.user_id, w.carl.user_id
    );
    assert_eq!(w.app.count("audit_logs", &rows).await, 1);
}

#[tokio::test]
async fn a_read_write_session_into_a_marked_account_needs_a_review_and_read_only_cannot_be_elevated()
 {
    let w = marked().await;
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    assert_eq!(error_code(&v), "IMPERSONATION_DENIED");
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    let c = check(&w, &w.ada).await;
    assert_eq!(
        (&c["allowed"], &c["reason"], &c["modes"]),
        (
            &json!(false),
            &json!("REVIEW_REQUIRED"),
            &json!(["READ_ONLY"])
        )
    );
    // Read-only needs no review by default, but cannot be turned into read-write.
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_ONLY" }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = w.app.code(&w.ada_secret);
    let v = w
        .app
        .gql(
            Some(&t),
            "mutation($c: String!) { elevateImpersonation(code: $c, reason: \"need to fix\") { mode } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    assert_eq!(
        w.app
            .count("impersonations", "WHERE mode = 'READ_WRITE'")
            .await,
        0
    );
}

#[tokio::test]
async fn read_only_sessions_need_a_review_when_configured() {
    let w = marked_with(|c| c.review_read_only = true).await;
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_ONLY" }),
        )
        .await;
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    let r = ask(&w, &w.ada, "READ_ONLY", 10).await;
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": null }),
        )
        .await;
    // Without a mode asked, the review gives its own.
    assert_eq!(
        w.app
            .count(
                "impersonations",
                "WHERE mode = 'READ_ONLY' AND review_id IS NOT NULL"
            )
            .await,
        1
    );
    assert!(d["impersonate"]["accessToken"].is_string());
}

#[tokio::test]
async fn a_second_admin_approves_and_one_review_is_good_for_one_session_of_its_minutes() {
    let w = marked().await;
    // An account that is not marked needs no review.
    let dora = w.app.register("dora@customer.test", "Dora").await;
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            ASK,
            json!({ "u": dora.user_id, "m": "READ_WRITE", "min": 10 }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");

    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    assert_eq!(r["status"], "PENDING");
    let id = r["id"].clone();
    // Never the requester.
    let v = w
        .app
        .gql(Some(&w.ada.token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
    // A denial needs a note.
    let v = w
        .app
        .gql(Some(&w.bob.token), DENY, json!({ "id": id, "n": "  " }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let d = w
        .app
        .ok(
            Some(&w.bob.token),
            APPROVE,
            json!({ "id": id, "n": "Ok for the payout fix" }),
        )
        .await;
    assert_eq!(d["approveImpersonationReview"]["status"], "APPROVED");
    assert_eq!(
        d["approveImpersonationReview"]["reviewer"]["id"],
        w.bob.user_id.as_str()
    );
    // Decided: a second decision is refused.
    let v = w
        .app
        .gql(Some(&w.sue.token), DENY, json!({ "id": id, "n": "no" }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // The requester is told.
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            "{ me { notifications(first: 5) { edges { node { kind message } } } } }",
            json!({}),
        )
        .await;
    let n = &d["me"]["notifications"]["edges"][0]["node"];
    assert_eq!(n["kind"], "REVIEW_DECIDED");
    assert!(
        n["message"]
            .as_str()
            .unwrap()
            .starts_with("Bob Second approved your session into Carl's account"),
        "{n}"
    );

    assert_eq!(
        check(&w, &w.ada).await["modes"],
        json!(["READ_ONLY", "READ_WRITE"])
    );
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    let imp = &d["impersonate"]["user"]["impersonation"];
    assert_eq!(imp["review"]["status"], "USED");
    let started = chrono::DateTime::parse_from_rfc3339(imp["startedAt"].as_str().unwrap()).unwrap();
    let ends = chrono::DateTime::parse_from_rfc3339(imp["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        (ends - started).num_minutes(),
        10,
        "the session lasts the review's minutes"
    );
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    w.app
        .ok(
            Some(&t),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    // Used: the next session needs a new review.
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    // Bob's review does not let Bob in either: it was Ada's.
    let v = w
        .app
        .gql(
            Some(&w.bob.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    // Audited: asked, approved.
    for action in [
        "IMPERSONATION_REVIEW_REQUESTED",
        "IMPERSONATION_REVIEW_APPROVED",
    ] {
        let rows = format!(
            "WHERE action = '{action}' AND entity_id = '{}'",
            id.as_str().unwrap()
        );
        assert_eq!(w.app.count("audit_logs", &rows).await, 1, "{action}");
    }
    // The customer's history says who approved it.
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ me { accessHistory(first: 5) { edges { node { summary review { id } } } } } }",
            json!({}),
        )
        .await;
    let s = &d["me"]["accessHistory"]["edges"][0]["node"];
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("read and write, approved by a second admin, Bob Second"),
        "{s}"
    );
    assert_eq!(s["review"], Value::Null, "the review itself is the admins'");
}

#[tokio::test]
async fn racing_reviewers_get_one_decision_and_racing_sessions_one_review() {
    let w = marked().await;
    let (dan, _) = w.app.admin("dan@support.test", "ADMIN").await;
    for _ in 0..3 {
        let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
        let (a, b) = tokio::join!(
            w.app
                .gql(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] })),
            w.app.gql(
                Some(&dan.token),
                DENY,
                json!({ "id": r["id"], "n": "not now" })
            ),
        );
        let won = [&a, &b].iter().filter(|v| v["errors"].is_null()).count();
        assert_eq!(won, 1, "{a} {b}");
        let lost = if a["errors"].is_null() { &b } else { &a };
        assert_eq!(error_code(lost), "BAD_USER_INPUT");
        let decided = format!(
            "WHERE entity_id = '{}' AND action IN ('IMPERSONATION_REVIEW_APPROVED', 'IMPERSONATION_REVIEW_DENIED')",
            r["id"].as_str().unwrap()
        );
        assert_eq!(w.app.count("audit_logs", &decided).await, 1);
        // An approval that won is taken back, so the race below has one review to use.
        if a["errors"].is_null() {
            w.app
                .ok(Some(&w.ada.token), WITHDRAW, json!({ "id": r["id"] }))
                .await;
        }
    }
    // One approved review, two sessions at once: one starts, the other is refused.
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    let vars = json!({ "u": w.carl.user_id, "m": "READ_WRITE" });
    let (a, b) = tokio::join!(
        w.app.gql(Some(&w.ada.token), IMPERSONATE, vars.clone()),
        w.app.gql(Some(&w.ada.token), IMPERSONATE, vars.clone()),
    );
    let started = [&a, &b].iter().filter(|v| v["errors"].is_null()).count();
    assert_eq!(started, 1, "{a} {b}");
    assert_eq!(w.app.count("impersonations", "").await, 1);
}

#[tokio::test]
async fn consent_and_review_are_both_needed_where_both_apply() {
    let w = marked().await;
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationRequiresApproval: true }) { id } }",
            json!({}),
        )
        .await;
    let vars = json!({ "u": w.carl.user_id, "m": "READ_WRITE" });
    // The review alone.
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    let v = w
        .app
        .gql(Some(&w.ada.token), IMPERSONATE, vars.clone())
        .await;
    assert_eq!(reason(&v), "APPROVAL_REQUIRED");
    assert_eq!(check(&w, &w.ada).await["reason"], "APPROVAL_REQUIRED");
    w.app
        .ok(Some(&w.ada.token), WITHDRAW, json!({ "id": r["id"] }))
        .await;
    // The customer's approval alone.
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            "mutation($u: ID!) { requestSupportAccess(userId: $u, reason: \"Payout\") { id } }",
            json!({ "u": w.carl.user_id }),
        )
        .await;
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation($g: ID!) { approveSupportAccess(grantId: $g) { id } }",
            json!({ "g": d["requestSupportAccess"]["id"] }),
        )
        .await;
    let v = w
        .app
        .gql(Some(&w.ada.token), IMPERSONATE, vars.clone())
        .await;
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
    // Both.
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    let d = w.app.ok(Some(&w.ada.token), IMPERSONATE, vars).await;
    assert!(d["impersonate"]["accessToken"].is_string());
}

#[tokio::test]
async fn reviews_lapse_and_are_withdrawn_by_their_requester_only() {
    let w = marked().await;
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    // Someone else's review is not theirs to withdraw.
    let v = w
        .app
        .gql(Some(&w.bob.token), WITHDRAW, json!({ "id": r["id"] }))
        .await;
    assert_eq!(error_code(&v), "NOT_FOUND");
    let d = w
        .app
        .ok(Some(&w.ada.token), WITHDRAW, json!({ "id": r["id"] }))
        .await;
    assert_eq!(d["withdrawImpersonationReview"]["status"], "WITHDRAWN");
    let v = w
        .app
        .gql(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // A pending review lapses after IMPERSONATION_REVIEW_TTL_MINUTES (60).
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    w.app.clock.advance(chrono::Duration::minutes(61));
    let v = w
        .app
        .gql(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let d = w
        .app
        .ok(
            Some(&w.bob.token),
            "{ impersonationReviews(status: EXPIRED, first: 10) { edges { node { id status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["impersonationReviews"]["edges"][0]["node"]["id"], r["id"]);
    // An approved review must be used within 15 minutes.
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    w.app.clock.advance(chrono::Duration::minutes(16));
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    assert_eq!(reason(&v), "REVIEW_REQUIRED");
}

#[tokio::test]
async fn reviews_are_live_for_admins_and_the_reviewer_watches_and_ends_the_session() {
    let w = marked().await;
    let url = serve(&w.app).await;
    let mut feed = init(&url, Some(&w.bob.token)).await;
    subscribe(
        &mut feed,
        "feed",
        "subscription { impersonationEvents { kind impersonation { id } review { id status requester { id } } } }",
    )
    .await;
    subscribed(&w.app, 1).await;
    let r = ask(&w, &w.ada, "READ_WRITE", 10).await;
    let e = data(&mut feed, "feed", 5).await["impersonationEvents"].clone();
    assert_eq!(
        (&e["kind"], &e["review"]["id"], &e["impersonation"]),
        (&json!("REVIEW_REQUESTED"), &r["id"], &Value::Null)
    );
    w.app
        .ok(Some(&w.bob.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    let e = data(&mut feed, "feed", 5).await["impersonationEvents"].clone();
    assert_eq!(
        (&e["kind"], &e["review"]["status"]),
        (&json!("REVIEW_DECIDED"), &json!("APPROVED"))
    );
    let d = w
        .app
        .ok(
            Some(&w.ada.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id, "m": "READ_WRITE" }),
        )
        .await;
    let t = d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let session = d["impersonate"]["user"]["impersonation"]["id"].clone();
    let e = data(&mut feed, "feed", 5).await["impersonationEvents"].clone();
    assert_eq!(
        (&e["kind"], &e["impersonation"]["id"]),
        (&json!("STARTED"), &session)
    );
    w.app
        .ok(Some(&t), "query Look { businesses { id } }", json!({}))
        .await;
    const WATCH: &str = "subscription($id: ID!) { sessionActivity(impersonationId: $id) { operationName summary } }";
    // Another admin who is not its reviewer may not watch.
    let (dan, _) = w.app.admin("dan@support.test", "ADMIN").await;
    let mut other = init(&url, Some(&dan.token)).await;
    send(
        &mut other,
        json!({ "id": "w", "type": "subscribe", "payload": { "query": WATCH, "variables": { "id": session } } }),
    )
    .await;
    let refused = next(&mut other, 5).await.unwrap();
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "FORBIDDEN");
    // The reviewer follows it: what was done already, then what is done now.
    send(
        &mut feed,
        json!({ "id": "w", "type": "subscribe", "payload": { "query": WATCH, "variables": { "id": session } } }),
    )
    .await;
    let mut seen = vec![];
    while seen.len() < 2 {
        let d = data(&mut feed, "w", 5).await;
        seen.push(
            d["sessionActivity"]["summary"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The reviewer is staff: the customer is named, not "your" (issue 37).
    assert_eq!(seen, ["Entered Carl's account", "Viewed Carl's businesses"]);
    w.app
        .ok(Some(&t), "query Again { leads { id } }", json!({}))
        .await;
    let d = data(&mut feed, "w", 5).await;
    assert_eq!(d["sessionActivity"]["summary"], "Viewed Carl's leads");
    // The reviewer may end it.
    w.app
        .ok(
            Some(&w.bob.token),
            "mutation($id: ID!) { endImpersonation(id: $id, reason: \"Seen enough\") { endReason } }",
            json!({ "id": session }),
        )
        .await;
    let v = w.app.gql(Some(&t), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&v), "UNAUTHENTICATED");
}

#[tokio::test]
async fn only_an_admin_who_could_enter_the_account_may_review_a_session_into_it() {
    let w = world_with(|_| {}).await;
    // An admin's account: only super admins may enter it, so only they may review.
    let (eve, _) = w.app.admin("eve@support.test", "ADMIN").await;
    w.app
        .ok(
            Some(&w.sue.token),
            MARK,
            json!({ "u": eve.user_id, "r": true }),
        )
        .await;
    let v = w
        .app
        .gql(
            Some(&w.ada.token),
            ASK,
            json!({ "u": eve.user_id, "m": "READ_WRITE", "min": 10 }),
        )
        .await;
    assert_eq!(
        (error_code(&v), reason(&v)),
        ("IMPERSONATION_DENIED".to_string(), json!("TARGET_IS_ADMIN"))
    );
    let (sam, _) = w.app.admin("sam@support.test", "SUPER_ADMIN").await;
    let d = w
        .app
        .ok(
            Some(&w.sue.token),
            ASK,
            json!({ "u": eve.user_id, "m": "READ_WRITE", "min": 10 }),
        )
        .await;
    let id = d["requestImpersonationReview"]["id"].clone();
    let v = w
        .app
        .gql(Some(&w.bob.token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(
        error_code(&v),
        "FORBIDDEN",
        "Bob could not enter Eve's account himself"
    );
    let d = w
        .app
        .ok(Some(&sam.token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(d["approveImpersonationReview"]["status"], "APPROVED");
    // A customer is refused every review operation.
    let v = w
        .app
        .gql(Some(&w.carl.token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN");
}

const ROLE: &str = "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }";

#[tokio::test]
async fn a_super_admin_cannot_approve_their_own_review_with_an_account_they_promoted() {
    let w = marked().await;
    // Sue's second account, promoted by Sue herself, with 2FA.
    let sock = w.app.register("sock@support.test", "Sock Puppet").await;
    w.app
        .ok(
            Some(&w.sue.token),
            ROLE,
            json!({ "u": sock.user_id, "r": "ADMIN" }),
        )
        .await;
    let (sock, _) = w.app.enable_2fa(&sock).await;
    let r = ask(&w, &w.sue, "READ_WRITE", 30).await;
    let v = w
        .app
        .gql(Some(&sock.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
    // Nor an admin promoted after the review was asked, even by someone else.
    let late = w.app.register("late@support.test", "Late Comer").await;
    let (tom, _) = w.app.admin("tom@support.test", "SUPER_ADMIN").await;
    w.app
        .ok(
            Some(&tom.token),
            ROLE,
            json!({ "u": late.user_id, "r": "ADMIN" }),
        )
        .await;
    let (late, _) = w.app.enable_2fa(&late).await;
    let v = w
        .app
        .gql(Some(&late.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
    assert_eq!(
        w.app
            .count("impersonation_reviews", "WHERE status = 'PENDING'")
            .await,
        1
    );
    // An admin who held the rights before, set by nobody in the requester's power, counts.
    let d = w
        .app
        .ok(Some(&w.ada.token), APPROVE, json!({ "id": r["id"] }))
        .await;
    assert_eq!(d["approveImpersonationReview"]["status"], "APPROVED");
}

const ASK_UNMARK: &str = "mutation($u: ID!) { requestReviewRequirementChange(userId: $u, reason: \"The payout dispute is settled\") { id status } }";
const APPROVE_UNMARK: &str =
    "mutation($id: ID!) { approveReviewRequirementChange(id: $id) { id status reviewer { id } } }";
const DENY_UNMARK: &str = "mutation($id: ID!, $n: String!) { denyReviewRequirementChange(id: $id, note: $n) { id status note } }";

#[tokio::test]
async fn unmarking_an_account_needs_a_second_super_admin_and_everyone_is_told() {
    let w = world_with(|_| {}).await;
    let (tom, _) = w.app.admin("tom@support.test", "SUPER_ADMIN").await;
    w.app
        .ok(
            Some(&w.sue.token),
            r#"mutation { createWebhookEndpoint(url: "https://siem.example.com/hook", events: ["user.review_requirement_changed", "user.role_changed"]) { secret } }"#,
            json!({}),
        )
        .await;
    w.app
        .ok(
            Some(&w.sue.token),
            MARK,
            json!({ "u": w.carl.user_id, "r": true }),
        )
        .await;
    // Tom is told; the customer's team log shows it.
    let told = w
        .app
        .ok(
            Some(&tom.token),
            "{ me { notifications(first: 20) { nodes { kind message } } } }",
            json!({}),
        )
        .await;
    assert!(
        told.to_string().contains("marked the account of Carl"),
        "{told}"
    );
    let log = w
        .app
        .ok(
            Some(&w.carl.token),
            "{ auditLogs(first: 50) { nodes { action summary } } }",
            json!({}),
        )
        .await;
    assert!(
        log.to_string()
            .contains("IMPERSONATION_REVIEW_REQUIRED_SET"),
        "{log}"
    );
    // Sue alone cannot unmark it.
    let v = w
        .app
        .gql(
            Some(&w.sue.token),
            MARK,
            json!({ "u": w.carl.user_id, "r": false }),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
    let d = w
        .app
        .ok(
            Some(&w.sue.token),
            ASK_UNMARK,
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let id = d["requestReviewRequirementChange"]["id"].clone();
    assert_eq!(d["requestReviewRequirementChange"]["status"], "PENDING");
    let v = w
        .app
        .gql(Some(&w.sue.token), APPROVE_UNMARK, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
    // A plain admin cannot decide it either.
    let v = w
        .app
        .gql(Some(&w.ada.token), APPROVE_UNMARK, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
    let marked_now = "WHERE email = 'carl@customer.test' AND impersonation_review_required = true";
    assert_eq!(w.app.count("users", marked_now).await, 1);
    // Tom denies (a note is required), Sue asks again, Tom approves: unmarked at once.
    let v = w
        .app
        .gql(Some(&tom.token), DENY_UNMARK, json!({ "id": id, "n": "" }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let d = w
        .app
        .ok(
            Some(&tom.token),
            DENY_UNMARK,
            json!({ "id": id, "n": "Not yet" }),
        )
        .await;
    assert_eq!(d["denyReviewRequirementChange"]["status"], "DENIED");
    assert_eq!(w.app.count("users", marked_now).await, 1);
    let d = w
        .app
        .ok(
            Some(&w.sue.token),
            ASK_UNMARK,
            json!({ "u": w.carl.user_id }),
        )
        .await;
    let id = d["requestReviewRequirementChange"]["id"].clone();
    let d = w
        .app
        .ok(Some(&tom.token), APPROVE_UNMARK, json!({ "id": id }))
        .await;
    assert_eq!(d["approveReviewRequirementChange"]["status"], "APPROVED");
    assert_eq!(w.app.count("users", marked_now).await, 0);
    // A decided request cannot be decided again.
    let v = w
        .app
        .gql(Some(&tom.token), APPROVE_UNMARK, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    // The SIEM heard the marking and the unmarking; Sue was told Tom approved it.
    let hooks = "WHERE event_type = 'user.review_requirement_changed'";
    assert_eq!(w.app.count("webhook_deliveries", hooks).await, 2);
    let unmarked = "WHERE event_type = 'user.review_requirement_changed' AND payload LIKE '%\"reviewRequired\":false%' AND payload LIKE '%approvedBy%'";
    assert_eq!(w.app.count("webhook_deliveries", unmarked).await, 1);
    let told = w
        .app
        .ok(
            Some(&w.sue.token),
            "{ me { notifications(first: 20) { nodes { kind message } } } }",
            json!({}),
        )
        .await;
    assert!(
        told.to_string().contains("unmarked the account of Carl"),
        "{told}"
    );
    // Role changes reach the SIEM too.
    let sock = w.app.register("sock@support.test", "Sock").await;
    w.app
        .ok(
            Some(&w.sue.token),
            ROLE,
            json!({ "u": sock.user_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(
        w.app
            .count(
                "webhook_deliveries",
                "WHERE event_type = 'user.role_changed'"
            )
            .await,
        1
    );
    let told = w
        .app
        .ok(
            Some(&tom.token),
            "{ me { notifications(first: 20) { nodes { kind message } } } }",
            json!({}),
        )
        .await;
    assert!(
        told.to_string()
            .contains("changed the role of Sock from USER to ADMIN"),
        "{told}"
    );
}
