//! The HTTP surface: routes, status codes, headers.

use crate::common::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn health_ready_and_graphiql() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/health").await.0, StatusCode::OK);
    assert_eq!(app.get("/ready").await.0, StatusCode::OK);
    let (status, html) = app.get("/graphql").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.to_lowercase().contains("graphiql"), "GraphiQL page");
    assert_eq!(app.get("/nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ready_answers_503_when_the_database_is_gone() {
    let app = TestApp::new().await;
    app.close_database().await;
    assert_eq!(app.get("/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/health").await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthenticated() {
    let app = TestApp::new().await;
    for header in ["Basic abc", "Bearer", "Bearer  ", "token"] {
        let req = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", header)
            .body(axum::body::Body::from(
                json!({ "query": "{ me { id } }" }).to_string(),
            ))
            .unwrap();
        let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
            .await
            .unwrap();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(error_code(&v), "UNAUTHENTICATED", "{header}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = TestApp::new().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, _) = app
        .post_json(
            None,
            json!({ "query": format!("{{ me {{ id }} }} #{big}") }),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length (streamed), reading stops at the limit and nothing runs.
    let stream =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(stream))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
}

#[tokio::test]
async fn internal_errors_reveal_nothing() {
    let app = TestApp::new().await;
    let s = app.register("ann@example.com", "Ann").await;
    app.close_database().await;
    let v = app.gql(None, "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }", json!({})).await;
    assert_eq!(error_code(&v), "INTERNAL");
    assert_eq!(v["errors"][0]["message"], "internal error");
    let _ = s;
}

#[tokio::test]
async fn audit_rows_record_the_client_address_behind_a_trusted_proxy() {
    let send = |app: &TestApp| {
        let req = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .body(axum::body::Body::from(
                json!({ "query": "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }" }).to_string(),
            ))
            .unwrap();
        tower::ServiceExt::oneshot(app.router.clone(), req)
    };
    // Two trusted proxies: the client is the second entry from the right.
    let trusting = TestApp::with_config(|c| {
        c.trust_proxy = true;
        c.trusted_proxy_hops = 2;
    })
    .await;
    trusting.register("ann@example.com", "Ann").await;
    send(&trusting).await.unwrap();
    assert_eq!(
        trusting
            .count(
                "audit_logs",
                "WHERE action = 'LOGIN' AND ip_address = '203.0.113.7'"
            )
            .await,
        1
    );
    // Without TRUST_PROXY the header is ignored: a client cannot choose its logged address.
    let plain = TestApp::new().await;
    plain.register("ann@example.com", "Ann").await;
    send(&plain).await.unwrap();
    assert_eq!(
        plain
            .count(
                "audit_logs",
                "WHERE action = 'LOGIN' AND ip_address IS NULL"
            )
            .await,
        1
    );
}

/// One trusted proxy appends the address it saw: that rightmost entry is the client; what
/// the client wrote to the left of it is ignored.
#[tokio::test]
async fn the_address_appended_by_the_trusted_proxy_is_recorded() {
    let app = TestApp::with_config(|c| c.trust_proxy = true).await;
    app.register("ann@example.com", "Ann").await;
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
        .body(axum::body::Body::from(
            json!({ "query": "mutation { login(email: \"ann@example.com\", password: \"correct-horse-1\") { accessToken } }" }).to_string(),
        ))
        .unwrap();
    tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    let logged = |ip: &'static str| {
        let app = &app;
        async move {
            app.count(
                "audit_logs",
                &format!("WHERE action = 'LOGIN' AND ip_address = '{ip}'"),
            )
            .await
        }
    };
    assert_eq!(logged("203.0.113.7").await, 1);
    assert_eq!(logged("6.6.6.6").await, 0);
}

/// GraphiQL comes entirely from this server: the page names only its own assets, each is
/// served with its media type, and a Content-Security-Policy keeps other origins' scripts out.
#[tokio::test]
async fn graphiql_is_served_offline_from_this_server() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let resp = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get("/graphql")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//unpkg"),
        "{html}"
    );
    let mut assets = 0;
    for src in html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphiql/"))
    {
        let (status, body) = app.get(src).await;
        assert_eq!(status, StatusCode::OK, "{src}");
        assert!(body.len() > 50, "{src}");
        assets += 1;
    }
    assert_eq!(
        assets, 6,
        "react, react-dom, graphiql (js and css), the page's script and css"
    );
    assert_eq!(
        app.get("/graphiql/../Cargo.toml").await.0,
        StatusCode::NOT_FOUND
    );
    let off = TestApp::with_config(|c| c.graphiql = false).await;
    assert_eq!(
        off.get("/graphiql/graphiql.min.js").await.0,
        StatusCode::NOT_FOUND
    );
}

/// The web console is served at `/` by the server itself, with no asset from elsewhere: the
/// page under a policy that allows scripts and connections only from this origin, and its
/// bundle (content-hashed names, cached for good) from `/assets/`.
#[tokio::test]
async fn the_web_console_is_served_at_the_root() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let resp = app
        .router
        .clone()
        .oneshot(axum::http::Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let header = |name: &str| resp.headers()[name].to_str().unwrap().to_string();
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains(r#"<div id="root">"#), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{html}"
    );
    for src in assets {
        let resp = app
            .router
            .clone()
            .oneshot(axum::http::Request::get(src).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{src}");
        let media = resp.headers()["content-type"].to_str().unwrap();
        assert!(
            media.contains("javascript") || media.contains("css"),
            "{src}: {media}"
        );
        assert!(
            resp.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
    assert_eq!(app.get("/assets/missing.js").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/assets/..%2F..%2FCargo.toml").await.0,
        StatusCode::NOT_FOUND
    );
}
