//! Races and load: parallel impersonations and cancels, and 200 concurrent comments.

use crate::common::*;
use futures_util::future::join_all;
use serde_json::json;

const IMPERSONATE: &str = "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }";
const CANCEL: &str = "mutation { cancelImpersonation { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_impersonations_each_get_their_own_code_and_only_one_cancel_wins() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;

    let started = join_all((0..20).map(|_| {
        app.gql(
            Some(&admin.token),
            IMPERSONATE,
            json!({ "u": customer.user_id }),
        )
    }))
    .await;
    let tokens: Vec<String> = started
        .iter()
        .map(|v| {
            v["data"]["impersonate"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string()
        })
        .collect();
    let mut codes: Vec<String> = tokens
        .iter()
        .map(|t| claims(t)["impersonationCode"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 20, "each impersonation has its own code");
    assert_eq!(app.count("impersonations", "").await, 20);
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'IMPERSONATION_STARTED'")
            .await,
        20
    );

    let t = tokens[0].clone();
    let cancels = join_all((0..20).map(|_| app.gql(Some(&t), CANCEL, json!({})))).await;
    let won = cancels.iter().filter(|v| v.get("errors").is_none()).count();
    assert_eq!(won, 1, "exactly one cancel succeeds");
    for v in cancels.iter().filter(|v| v.get("errors").is_some()) {
        assert_eq!(error_code(v), "UNAUTHENTICATED");
    }
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'IMPERSONATION_ENDED'")
            .await,
        1
    );
    assert_eq!(
        app.count("impersonations", "WHERE ended_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_comments_interleaved_with_impersonations() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let customer = app.register("carl@customer.test", "Carl").await;
    let lead = app
        .ok(
            Some(&customer.token),
            "mutation { createLead(name: \"Lena\") { id } }",
            json!({}),
        )
        .await["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let audit_before = app
        .count("audit_logs", "WHERE action = 'COMMENT_CREATED'")
        .await;

    let comments = (0..200).map(|i| {
        let (app, token, lead) = (&app, customer.token.clone(), lead.clone());
        async move {
            app.gql(
                Some(&token),
                "mutation($l: ID!, $t: String!) { addLeadComment(leadId: $l, text: $t) { id } }",
                json!({ "l": lead, "t": format!("comment {i}") }),
            )
            .await
        }
    });
    let pairs = (0..10).map(|_| {
        let (app, admin, target) = (&app, admin.token.clone(), customer.user_id.clone());
        async move {
            let v = app
                .gql(Some(&admin), IMPERSONATE, json!({ "u": target }))
                .await;
            let t = v["data"]["impersonate"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_string();
            app.gql(Some(&t), CANCEL, json!({})).await
        }
    });
    let (c, p) = tokio::join!(join_all(comments), join_all(pairs));
    for v in c.iter().chain(p.iter()) {
        assert!(v.get("errors").is_none(), "no error under load: {v}");
    }
    assert_eq!(
        app.count("comments", "WHERE lead_id IS NOT NULL").await,
        200
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'COMMENT_CREATED'")
            .await
            - audit_before,
        200
    );
    assert_eq!(
        app.count("impersonations", "WHERE ended_at IS NOT NULL")
            .await,
        10
    );
}
