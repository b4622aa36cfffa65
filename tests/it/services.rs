//! Service-level tests: the rules the services own, called as the resolvers call them, on a
//! migrated database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

use crate::common::*;
use crm::auth::AuthContext;
use crm::auth::context::RequestMeta;
use crm::auth::proof::MayWrite;
use crm::services::accounts::throttle::{self, Scope};
use crm::services::pagination::PageArgs;
use crm::services::work::comments::{self, CommentTarget, CommentWindow};
use crm::services::{accounts::bearer, history, impersonation::ending, work::businesses};
use serde_json::json;

async fn context(app: &TestApp, token: &str) -> AuthContext {
    bearer::authenticate(&app.state, token).await.unwrap()
}

#[tokio::test]
async fn the_throttle_takes_at_most_max_guesses_per_window_and_a_right_one_releases() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        throttle::take(&app.state, Scope::Login, "ann@example.com")
            .await
            .unwrap()
            .failed();
    }
    let e = throttle::take(&app.state, Scope::Login, "ann@example.com")
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), "RATE_LIMITED");
    // Another subject and another scope are counted apart.
    throttle::take(&app.state, Scope::Login, "bob@example.com")
        .await
        .unwrap()
        .failed();
    throttle::take(&app.state, Scope::Totp, "ann@example.com")
        .await
        .unwrap()
        .failed();
    // After the window, a right guess starts the count again.
    app.clock.advance(chrono::Duration::minutes(16));
    let attempt = throttle::take(&app.state, Scope::Login, "ann@example.com")
        .await
        .unwrap();
    attempt.succeeded().await.unwrap();
    for _ in 0..5 {
        throttle::take(&app.state, Scope::Login, "ann@example.com")
            .await
            .unwrap()
            .failed();
    }
}

#[tokio::test]
async fn comments_are_one_list_per_target_paged_or_latest() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let ann = context(&app, &s.token).await;
    let meta = RequestMeta::default();
    let b = businesses::create_business(&app.state, MayWrite::check(&ann).unwrap(), "Acme", &meta)
        .await
        .unwrap();
    for i in 0..3 {
        let text = format!(" note {i} ");
        let c = comments::add(
            &app.state,
            MayWrite::check(&ann).unwrap(),
            CommentTarget::Business(&b.id),
            &text,
            &meta,
        )
        .await
        .unwrap();
        assert_eq!(c.text, text, "kept exactly as written");
        assert_eq!(c.business_id.as_deref(), Some(b.id.as_str()));
        assert!(!c.is_impersonated);
    }
    let blank = comments::add(
        &app.state,
        MayWrite::check(&ann).unwrap(),
        CommentTarget::Business(&b.id),
        "  ",
        &meta,
    )
    .await;
    assert_eq!(blank.unwrap_err().code(), "BAD_USER_INPUT");
    let other_team_lead = comments::add(
        &app.state,
        MayWrite::check(&ann).unwrap(),
        CommentTarget::Lead("01a1feb8-7151-7059-a8ba-26c2068d7c64"),
        "x",
        &meta,
    )
    .await;
    assert_eq!(other_team_lead.unwrap_err().code(), "NOT_FOUND");

    let db = &app.state.db;
    let latest = comments::list(db, CommentTarget::Business(&b.id), CommentWindow::Latest(2))
        .await
        .unwrap();
    let texts: Vec<_> = latest.items.iter().map(|c| c.text.trim()).collect();
    assert_eq!(texts, ["note 1", "note 2"], "the latest, oldest first");
    let args = PageArgs::parse(Some(2), None).unwrap();
    let page = comments::list(
        db,
        CommentTarget::Business(&b.id),
        CommentWindow::Page(&args),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.has_next_page);
}

#[tokio::test]
async fn the_audit_service_hides_support_details_from_customers() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let imp = app
        .ok(
            Some(&admin.token),
            "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }",
            json!({ "u": carl.user_id }),
        )
        .await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let support = context(&app, &imp).await;
    let meta = RequestMeta {
        ip: Some("198.51.100.9".into()),
    };
    businesses::create_business(
        &app.state,
        MayWrite::check(&support).unwrap(),
        "By support",
        &meta,
    )
    .await
    .unwrap();
    let args = PageArgs::parse(Some(100), None).unwrap();
    let filter = history::log::Filter {
        is_impersonated: Some(true),
        ..Default::default()
    };
    let db = &app.state.db;
    let customer = context(&app, &carl.token).await;
    let seen = history::log::list_for(db, &customer, &filter, &args)
        .await
        .unwrap();
    assert_eq!(seen.items.len(), 1);
    assert_eq!(seen.items[0].row.ip_address, None);
    let admin_ctx = context(&app, &admin.token).await;
    let seen = history::log::list_for(db, &admin_ctx, &filter, &args)
        .await
        .unwrap();
    assert_eq!(
        seen.items[0].row.ip_address.as_deref(),
        Some("198.51.100.9")
    );
}

#[tokio::test]
async fn a_session_ends_once_whoever_notices_first() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let imp = app
        .ok(
            Some(&admin.token),
            "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }",
            json!({ "u": carl.user_id }),
        )
        .await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let record = context(&app, &imp).await.impersonation.unwrap().record;
    let cause = "test";
    let first = ending::end_now(&app.state, &record, ending::EndReason::EndedByAdmin, cause);
    let second = ending::end_now(&app.state, &record, ending::EndReason::Expired, cause);
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        [first.unwrap(), second.unwrap()]
            .iter()
            .filter(|e| **e)
            .count(),
        1
    );
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'IMPERSONATION_ENDED'")
            .await,
        1
    );
    assert_eq!(
        app.err_code(Some(&imp), "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED"
    );
}
