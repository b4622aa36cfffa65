//! GraphQL over WebSocket (`graphql-transport-ws`) on a real socket, with a real client
//! (tokio-tungstenite): authentication by `connection_init`, the same limits as HTTP,
//! `currentImpersonation`, and the socket closed when its token dies.

use crate::common::ws::*;
use crate::common::*;
use serde_json::json;

const CURRENT: &str =
    "subscription { currentImpersonation { kind at impersonation { id mode endReason } } }";

struct World {
    app: TestApp,
    url: String,
    admin: Session,
    admin_secret: String,
    carl: Session,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let url = serve(&app).await;
    let (admin, admin_secret) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    World {
        app,
        url,
        admin,
        admin_secret,
        carl,
    }
}

async fn impersonate(w: &World, mode: &str) -> String {
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "mutation($u: ID!, $m: ImpersonationMode) { impersonate(userId: $u, reason: \"ticket\", mode: $m) { accessToken } }",
            json!({ "u": w.carl.user_id, "m": mode }),
        )
        .await;
    d["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_bad_token_closes_the_socket_with_4401_before_any_ack() {
    let w = world().await;
    let mut s = connect(&w.url).await;
    send(
        &mut s,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } }),
    )
    .await;
    assert_eq!(next(&mut s, 5).await, Err(4401));
}

#[tokio::test]
async fn anonymous_and_wrong_callers_get_errors_with_the_contracts_codes_and_keep_the_socket() {
    let w = world().await;
    let mut s = init(&w.url, None).await;
    subscribe(&mut s, "1", CURRENT).await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(m["type"], "error");
    assert_eq!(m["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // A normal token may not watch an impersonation; queries work over the socket.
    let mut s = init(&w.url, Some(&w.carl.token)).await;
    subscribe(&mut s, "1", CURRENT).await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "FORBIDDEN");
    subscribe(&mut s, "2", "{ me { name } }").await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(m["type"], "next");
    assert_eq!(m["payload"]["data"]["me"]["name"], "Carl");
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!((&m["type"], &m["id"]), (&json!("complete"), &json!("2")));
    // The same limits as HTTP.
    let deep = format!(
        "{{ me {} }}",
        "{ teams { owner ".repeat(10) + "{ id }" + &"} } ".repeat(10)
    );
    subscribe(&mut s, "3", &deep).await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test]
async fn the_agent_sees_elevation_then_the_end_then_the_socket_closes() {
    let w = world().await;
    let t = impersonate(&w, "READ_ONLY").await;
    let mut s = init(&w.url, Some(&t)).await;
    subscribe(&mut s, "cur", CURRENT).await;
    // No acknowledgement in the protocol: act once the subscription listens.
    subscribed(&w.app, 1).await;
    let code = w.app.code(&w.admin_secret);
    w.app
        .ok(
            Some(&t),
            "mutation($c: String!) { elevateImpersonation(code: $c, reason: \"fix\") { mode } }",
            json!({ "c": code }),
        )
        .await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(
        m["payload"]["data"]["currentImpersonation"]["kind"],
        "ELEVATED"
    );
    assert_eq!(
        m["payload"]["data"]["currentImpersonation"]["impersonation"]["mode"],
        "READ_WRITE"
    );
    // The customer withdraws consent: ENDED with the reason, complete, then 4401.
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { updateProfile(input: { impersonationAllowed: false }) { id } }",
            json!({}),
        )
        .await;
    let m = next(&mut s, 5).await.unwrap();
    let event = &m["payload"]["data"]["currentImpersonation"];
    assert_eq!(event["kind"], "ENDED");
    assert_eq!(event["impersonation"]["endReason"], "REVOKED_BY_USER");
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(m["type"], "complete");
    assert_eq!(m["id"], "cur");
    // The socket closes at its next re-check (every 2 s) plus its last words (1.5 s): up to
    // 3.5 s, and the tests share two cores.
    assert_eq!(next(&mut s, 8).await, Err(4401));
}

#[tokio::test]
async fn the_last_minutes_are_announced() {
    let w = world().await;
    let t = impersonate(&w, "READ_WRITE").await;
    let mut s = init(&w.url, Some(&t)).await;
    subscribe(&mut s, "cur", CURRENT).await;
    // No acknowledgement in the protocol: act once the subscription listens.
    subscribed(&w.app, 1).await;
    // 26 of 30 minutes pass (with a request every 9, so the session does not go idle).
    for step in [9, 9, 8] {
        w.app.clock.advance(chrono::Duration::minutes(step));
        w.app.ok(Some(&t), "{ me { id } }", json!({})).await;
    }
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(
        m["payload"]["data"]["currentImpersonation"]["kind"],
        "EXPIRING"
    );
}

#[tokio::test]
async fn a_password_change_closes_the_users_sockets_within_seconds() {
    let w = world().await;
    let mut s = init(&w.url, Some(&w.carl.token)).await;
    w.app.clock.advance(chrono::Duration::seconds(2));
    w.app
        .ok(
            Some(&w.carl.token),
            "mutation { changePassword(currentPassword: \"correct-horse-1\", newPassword: \"battery-staple-2\") }",
            json!({}),
        )
        .await;
    assert_eq!(next(&mut s, 6).await, Err(4401));
}

#[tokio::test]
async fn production_introspection_rules_hold_over_the_socket() {
    let app = TestApp::with_config(|c| c.environment = crm::config::Environment::Production).await;
    let url = serve(&app).await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let mut s = init(&url, Some(&carl.token)).await;
    subscribe(&mut s, "1", "{ __schema { queryType { name } } }").await;
    // As over HTTP: the schema is not shown to a customer.
    let m = next(&mut s, 5).await.unwrap();
    assert!(m["payload"]["data"]["__schema"].is_null(), "{m}");
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let mut s = init(&url, Some(&admin.token)).await;
    subscribe(&mut s, "1", "{ __schema { queryType { name } } }").await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(
        m["payload"]["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
}

#[tokio::test]
async fn losing_the_admin_role_completes_the_subscriptions_and_closes_with_4403() {
    let w = world().await;
    let mut s = init(&w.url, Some(&w.admin.token)).await;
    subscribe(
        &mut s,
        "feed",
        "subscription { impersonationEvents { kind } }",
    )
    .await;
    subscribed(&w.app, 1).await;
    w.app.set_role(&w.admin.user_id, "USER").await;
    let m = next(&mut s, 6).await.unwrap();
    assert_eq!(
        (&m["type"], &m["id"]),
        (&json!("complete"), &json!("feed")),
        "{m}"
    );
    assert_eq!(next(&mut s, 5).await, Err(4403));
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_and_one_that_does_not_is_closed() {
    let app = TestApp::with_config(|c| c.ws.ping = std::time::Duration::from_secs(1)).await;
    let url = serve(&app).await;
    let carl = app.register("carl@customer.test", "Carl").await;
    // Reading answers pings (tungstenite replies to each ping it reads).
    let mut alive = init(&url, Some(&carl.token)).await;
    let mut silent = init(&url, Some(&carl.token)).await;
    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(3500);
    let mut pings = 0;
    while let Ok(frame) =
        tokio::time::timeout_at(until, futures_util::StreamExt::next(&mut alive)).await
    {
        match frame {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_))) => pings += 1,
            other => panic!("only pings while idle, got {other:?}"),
        }
    }
    assert!(pings >= 2, "{pings} pings");
    subscribe(&mut alive, "1", "{ __typename }").await;
    assert_eq!(data(&mut alive, "1", 5).await["__typename"], "Query");
    // The one that read nothing for those seconds answered no ping: closed.
    assert_eq!(next(&mut silent, 5).await, Err(1001));
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let app = TestApp::with_config(|c| c.ws.init_within = std::time::Duration::from_secs(1)).await;
    let url = serve(&app).await;
    let mut s = connect(&url).await;
    assert_eq!(next(&mut s, 5).await, Err(4408));
}

#[tokio::test]
async fn a_subscribe_before_connection_init_closes_with_4401() {
    let w = world().await;
    let mut s = connect(&w.url).await;
    subscribe(&mut s, "early", CURRENT).await;
    assert_eq!(next(&mut s, 5).await, Err(4401));
    // A subscribe sent right behind connection_init waits for it, as the protocol allows.
    let mut s = connect(&w.url).await;
    send_init(&mut s, Some(&w.carl.token)).await;
    subscribe(&mut s, "mine", "subscription { myAccountEvents { kind } }").await;
    let ack = next(&mut s, 5).await.expect("an ack");
    assert_eq!(ack["type"], "connection_ack");
}

#[tokio::test]
async fn sockets_from_a_foreign_origin_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let w = world().await;
    let open = |origin: Option<&'static str>| {
        let url = w.url.clone();
        async move {
            let mut req = url.as_str().into_client_request().unwrap();
            req.headers_mut().insert(
                "sec-websocket-protocol",
                "graphql-transport-ws".parse().unwrap(),
            );
            if let Some(o) = origin {
                req.headers_mut().insert("origin", o.parse().unwrap());
            }
            match tokio_tungstenite::connect_async(req).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(open(Some("https://evil.example")).await, 403);
    assert_eq!(open(Some("null")).await, 403);
    // No Origin (not a browser), and the server's own.
    assert_eq!(open(None).await, 101);
    let host = w
        .url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let own: &'static str = Box::leak(format!("http://{host}").into_boxed_str());
    assert_eq!(open(Some(own)).await, 101);
}

#[tokio::test]
async fn an_origin_in_allowed_origins_may_open_a_socket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app =
        TestApp::with_config(|c| c.allowed_origins = vec!["https://crm.example.com".into()]).await;
    let url = serve(&app).await;
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    req.headers_mut()
        .insert("origin", "https://crm.example.com".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}
