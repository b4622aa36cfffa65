//! GraphQL over HTTP as tools expect it: media types, status codes, error codes on every
//! error, introspection whatever the limits, and one `DateTime` format.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The introspection query graphql-js (and so GraphiQL and graphql-codegen) sends.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description
  type { ...TypeRef }
  defaultValue
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

/// POSTs raw bytes with the given headers.
async fn post(app: &TestApp, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = Request::post("/graphql");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer {
        status,
        content_type,
        body,
    }
}

fn query(q: &str) -> String {
    json!({ "query": q }).to_string()
}

const JSON_BODY: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn the_answer_has_the_media_type_the_client_accepts() {
    let app = TestApp::new().await;
    let q = query("{ __typename }");
    let a = post(&app, &[JSON_BODY, ("accept", "application/json")], &q).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    let a = post(&app, &[JSON_BODY], &q).await;
    assert!(a.content_type.starts_with("application/json"));
    let a = post(&app, &[JSON_BODY, ("accept", GRAPHQL_RESPONSE_JSON)], &q).await;
    assert!(
        a.content_type.starts_with(GRAPHQL_RESPONSE_JSON),
        "{}",
        a.content_type
    );
    assert_eq!(a.body["data"]["__typename"], "Query");
    let a = post(&app, &[JSON_BODY, ("accept", "text/html")], &q).await;
    assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_before_anything_runs() {
    let app = TestApp::new().await;
    let login = query(
        "mutation { register(input: { email: \"x@example.com\", password: \"correct-horse-1\", name: \"X\" }) { accessToken } }",
    );
    for headers in [
        vec![("content-type", "text/plain")],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![],
    ] {
        let a = post(&app, &headers, &login).await;
        assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{headers:?}");
    }
    assert_eq!(
        app.count("users", "").await,
        0,
        "a cross-site form cannot register"
    );
    let a = post(&app, &[JSON_BODY], "{\"query\": ").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.content_type.starts_with("application/json"));
    assert_eq!(error_code(&a.body), "GRAPHQL_PARSE_FAILED");
    assert!(!a.body.to_string().contains("InvalidRequest"), "{}", a.body);
}

#[tokio::test]
async fn parse_and_validation_failures_have_codes_no_data_and_400_when_asked() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let bearer = format!("Bearer {}", s.token);
    let cases = [
        ("{ me { id }", "GRAPHQL_PARSE_FAILED"),
        ("{ me { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($n: Int) { teams(first: $n) { edges { cursor } } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (q, code) in cases {
        let body = json!({ "query": q, "variables": { "n": "ten" } }).to_string();
        let auth = ("authorization", bearer.as_str());
        let a = post(
            &app,
            &[JSON_BODY, auth, ("accept", GRAPHQL_RESPONSE_JSON)],
            &body,
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}: {}", a.body);
        assert_eq!(error_code(&a.body), code, "{q}");
        assert!(a.body.get("data").is_none(), "{q}: {}", a.body);
        let a = post(
            &app,
            &[JSON_BODY, auth, ("accept", "application/json")],
            &body,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{q}");
        assert_eq!(error_code(&a.body), code, "{q}");
        assert!(a.body.get("data").is_none(), "{q}: {}", a.body);
    }
}

#[tokio::test]
async fn limit_errors_carry_the_validation_code() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let mut nested = String::from("id");
    for _ in 0..10 {
        nested = format!("currentTeam {{ owner {{ id }} members {{ {nested} }} }}");
    }
    let deep = format!("{{ me {{ {nested} }} }}");
    let wide: String = (0..6000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    for q in [deep, format!("{{ {wide} }}")] {
        let v = app.gql(Some(&s.token), &q, json!({})).await;
        assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
    }
}

#[tokio::test]
async fn the_standard_introspection_query_is_answered_whatever_the_limits() {
    let app = TestApp::with_config(|c| {
        c.max_depth = 5;
        c.max_complexity = 50;
    })
    .await;
    let d = app.ok(None, INTROSPECTION, json!({})).await;
    let types = d["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Impersonation"));
    // Ordinary queries still meet the limits.
    let s = app.register("ann@example.com", "Ann").await;
    let v = app
        .gql(
            Some(&s.token),
            "{ me { currentTeam { owner { teams { owner { id } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED");
    // Aliases cannot multiply the whole schema under the introspection limits.
    let many: String = (0..20)
        .map(|i| format!("s{i}: __schema {{ types {{ name }} }} "))
        .collect();
    let v = app.gql(None, &format!("{{ {many} }}"), json!({})).await;
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
}

#[tokio::test]
async fn production_introspection_is_still_only_for_two_factor_admins() {
    let app = TestApp::with_config(|c| c.environment = crm::config::Environment::Production).await;
    let v = app.gql(None, INTROSPECTION, json!({})).await;
    assert!(v["data"]["__schema"].is_null(), "{v}");
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let d = app.ok(Some(&admin.token), INTROSPECTION, json!({})).await;
    assert!(d["__schema"]["types"].is_array());
}

#[tokio::test]
async fn denials_name_their_reason_as_the_contract_does() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let v = app
        .gql(
            Some(&admin.token),
            "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }",
            json!({ "u": admin.user_id }),
        )
        .await;
    assert_eq!(v["errors"][0]["message"], "impersonation denied: SELF");
}

#[tokio::test]
async fn every_date_time_is_utc_with_z_and_milliseconds() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    let d = app
        .ok(
            Some(&s.token),
            "{ me { currentTeam { createdAt } } auditLogs(first: 3) { edges { node { createdAt } } } }",
            json!({}),
        )
        .await;
    let mut times = vec![d["me"]["currentTeam"]["createdAt"].clone()];
    times.extend(
        d["auditLogs"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["createdAt"].clone()),
    );
    for t in times {
        let t = t.as_str().unwrap();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
    }
    let login = app.login("ann@example.com", "correct-horse-1").await;
    assert!(login["expiresAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_argument_value_the_server_cannot_take_is_the_clients_error_not_internal() {
    let app = TestApp::new().await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    // A nullable variable, left out, for an argument that is non-null with a default: the
    // document validates, the value fails when the field runs.
    let v = app
        .gql(
            Some(&admin.token),
            "query($a: Boolean) { impersonations(activeOnly: $a) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Boolean")
    );
}

#[tokio::test]
async fn a_subscription_sent_over_http_is_pointed_to_the_socket() {
    let app = TestApp::new().await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let v = app
        .gql(
            Some(&carl.token),
            "subscription { myAccountEvents { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/graphql/ws"),
        "{v}"
    );
}
