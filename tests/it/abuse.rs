//! GraphQL abuse: depth, complexity, directives, batches, GET, introspection, CORS.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use config_helpers::*;
use serde_json::{Value, json};
use tower::ServiceExt;

const REGISTER_X: &str = r#"
mutation RegisterX {
  register(input: { email: "x@example.com", password: "correct-horse-1", name: "X" }) {
    accessToken
  }
}
"#;

mod config_helpers {
    pub use crm::config::Environment;
}

#[tokio::test]
async fn deep_and_wide_queries_are_refused_before_any_work() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let deep =
        "{ me { currentTeam { owner { id } members { id } } teams { owner { id } } } }".to_string();
    app.ok(Some(&s.token), &deep, json!({})).await;
    let mut nested = String::from("id");
    for _ in 0..10 {
        nested = format!("currentTeam {{ owner {{ id }} members {{ {nested} }} }}");
    }
    let v = app
        .gql(
            Some(&s.token),
            &format!("{{ me {{ {nested} }} }}"),
            json!({}),
        )
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{v}"
    );
    assert!(v.get("data").map(|d| d.is_null()).unwrap_or(true));
    let aliases: String = (0..6000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let v = app
        .gql(Some(&s.token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{v}"
    );
    let directives: String = (0..30).map(|_| "@include(if: true) ").collect();
    let v = app
        .gql(
            Some(&s.token),
            &format!("{{ me {{ id {directives} }} }}"),
            json!({}),
        )
        .await;
    assert!(v["errors"].is_array(), "{v}");
}

#[tokio::test]
async fn batches_are_bounded() {
    let app = TestApp::new().await;
    let op = json!({ "query": REGISTER_X });
    let (_, v) = app.post_json(None, json!(vec![op.clone(); 11])).await;
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(
        app.count("users", "").await,
        0,
        "nothing in a refused batch ran"
    );
    let ok = json!({ "query": "{ __typename }" });
    let (_, v) = app.post_json(None, json!(vec![ok; 3])).await;
    assert_eq!(v.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn operations_over_get_are_refused() {
    let app = TestApp::new().await;
    let (status, _) = app
        .get("/graphql?query=mutation%20%7B%20register(input%3A%7Bemail%3A%22x%40example.com%22%2Cpassword%3A%22correct-horse-1%22%2Cname%3A%22X%22%7D)%20%7B%20accessToken%20%7D%20%7D")
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.count("users", "").await, 0);
}

#[tokio::test]
async fn production_hides_the_schema_from_all_but_2fa_admins() {
    let app = TestApp::with_config(|c| {
        c.environment = Environment::Production;
        c.graphiql = false;
    })
    .await;
    let s = app.register("ann@example.com", "Ann").await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let q = "{ __schema { queryType { name } } }";
    // Introspection switched off answers no schema.
    assert!(app.gql(None, q, json!({})).await["data"]["__schema"].is_null());
    assert!(app.gql(Some(&s.token), q, json!({})).await["data"]["__schema"].is_null());
    let d = app.ok(Some(&admin.token), q, json!({})).await;
    assert_eq!(d["__schema"]["queryType"]["name"], "Query");
    // No field suggestions for probing clients.
    let v = app
        .gql(Some(&s.token), "{ businesss { id } }", json!({}))
        .await;
    assert!(
        !v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{v}"
    );
    assert_eq!(app.get("/graphql").await.0, StatusCode::NOT_FOUND);

    let dev = TestApp::new().await;
    dev.ok(None, q, json!({})).await;
    let v = dev.gql(None, "{ businesss { id } }", json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{v}"
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        TestApp::with_config(|c| c.allowed_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/graphql")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let resp = app
        .router
        .clone()
        .oneshot(preflight("https://app.example.com"))
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let resp = app
        .router
        .clone()
        .oneshot(preflight("https://evil.example.com"))
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let none = TestApp::new().await;
    let resp = none
        .router
        .clone()
        .oneshot(preflight("https://app.example.com"))
        .await
        .unwrap();
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "nothing allowed by default"
    );
}

#[tokio::test]
async fn slow_requests_are_cut_by_the_request_timeout() {
    let app =
        TestApp::with_config(|c| c.request_timeout = std::time::Duration::from_millis(1)).await;
    // argon2 alone takes longer than a millisecond.
    let (status, _) = app
        .post_json(None, json!({ "query": "mutation { login(email: \"a@example.com\", password: \"whatever-123\") { accessToken } }" }))
        .await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_huge_password_logins_is_refused_and_others_are_still_answered() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let huge = "p".repeat(900 * 1024);
    let q =
        "mutation($p: String!) { login(email: \"ann@example.com\", password: $p) { accessToken } }";
    let flood =
        futures_util::future::join_all((0..4).map(|_| app.gql(None, q, json!({ "p": huge }))));
    let me = app.ok(Some(&s.token), "{ me { id } }", json!({}));
    let (results, me) = tokio::join!(flood, me);
    assert_eq!(me["me"]["id"], s.user_id.as_str());
    for v in results {
        assert_eq!(error_code(&v), "UNAUTHENTICATED");
    }
}

/// The named type under NON_NULL wrappers is a LIST.
fn is_list(t: &Value) -> bool {
    let mut t = t;
    while t["kind"] == "NON_NULL" {
        t = &t["ofType"];
    }
    t["kind"] == "LIST"
}

#[tokio::test]
async fn every_list_argument_has_a_documented_maximum_and_is_refused_past_it() {
    let app = TestApp::new().await;
    let (sam, _) = app.admin("sam@support.test", "SUPER_ADMIN").await;
    // Every list a client can send, in the schema: arguments and input fields.
    let d = app
        .ok(
            None,
            "{ __schema { types { name fields { name args { name description type { kind ofType { kind ofType { kind } } } } } inputFields { name description type { kind ofType { kind ofType { kind } } } } } } }",
            json!({}),
        )
        .await;
    let mut lists = vec![];
    for t in d["__schema"]["types"].as_array().unwrap() {
        let tname = t["name"].as_str().unwrap();
        if tname.starts_with("__") {
            continue;
        }
        for f in t["fields"].as_array().into_iter().flatten() {
            for a in f["args"].as_array().into_iter().flatten() {
                if is_list(&a["type"]) {
                    lists.push((
                        format!("{tname}.{}({})", f["name"], a["name"]),
                        a["description"].clone(),
                    ));
                }
            }
        }
        for f in t["inputFields"].as_array().into_iter().flatten() {
            if is_list(&f["type"]) {
                lists.push((format!("{tname}.{}", f["name"]), f["description"].clone()));
            }
        }
    }
    assert!(lists.len() >= 3, "{lists:?}");
    for (name, description) in &lists {
        assert!(
            description.as_str().is_some_and(|d| d.contains("At most")),
            "{name} has no documented maximum: {description}"
        );
    }
    // Past the maximum: BAD_USER_INPUT naming the argument, never INTERNAL, nothing changed.
    let carl = app.register("carl@customer.test", "Carl").await;
    let mark = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }";
    for n in [101, 32_766] {
        let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let v = app
            .gql(Some(&carl.token), mark, json!({ "ids": ids }))
            .await;
        assert_eq!(
            error_code(&v),
            "BAD_USER_INPUT",
            "{n}: {}",
            &v.to_string()[..200]
        );
        assert_eq!(v["errors"][0]["extensions"]["field"], "ids");
    }
    let ids: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    app.ok(Some(&carl.token), mark, json!({ "ids": ids })).await;
    let events: Vec<String> = (0..51).map(|_| "webhook.test".to_string()).collect();
    let v = app
        .gql(
            Some(&sam.token),
            "mutation($e: [String!]!) { createWebhookEndpoint(url: \"https://siem.example.com/h\", events: $e) { secret } }",
            json!({ "e": events }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    assert_eq!(v["errors"][0]["extensions"]["field"], "events");
    assert_eq!(app.count("webhook_endpoints", "").await, 0);
}
