//! Every operation answers for itself, on every transport (issue 22): the nesting bound before
//! any parser, the operation gate per batch entry and per socket message, the ledger over the
//! socket, the socket's message rules and caps, idle time counted by operations only.

use crate::common::ws::*;
use crate::common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const IMPERSONATE: &str = r#"
mutation Impersonate($u: ID!) {
  impersonate(userId: $u, reason: "ticket 7", mode: READ_WRITE) {
    accessToken
    user { impersonation { id } }
  }
}"#;
const COMMENT: &str =
    "mutation Note($b: ID!) { addBusinessComment(businessId: $b, text: \"hi\") { id } }";

struct World {
    app: TestApp,
    admin: Session,
    carl: Session,
    business: Value,
}

async fn world_with(tweak: impl FnOnce(&mut crm::config::Config)) -> World {
    let app = TestApp::with_config(tweak).await;
    let (admin, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let d = app
        .ok(
            Some(&carl.token),
            "mutation { createBusiness(name: \"Cafe\") { id } }",
            json!({}),
        )
        .await;
    World {
        business: d["createBusiness"]["id"].clone(),
        app,
        admin,
        carl,
    }
}

async fn world() -> World {
    world_with(|_| {}).await
}

/// Starts a session into Carl's account: its token and id.
async fn impersonate(w: &World) -> (String, String) {
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            IMPERSONATE,
            json!({ "u": w.carl.user_id }),
        )
        .await;
    (
        d["impersonate"]["accessToken"].as_str().unwrap().into(),
        d["impersonate"]["user"]["impersonation"]["id"]
            .as_str()
            .unwrap()
            .into(),
    )
}

async fn ledger_rows(app: &TestApp, session: &str, filter: &str) -> i64 {
    app.count(
        "impersonation_activities",
        &format!("WHERE impersonation_id = '{session}' {filter}"),
    )
    .await
}

fn nested(open: &str, close: &str, n: usize) -> String {
    format!("{}1{}", open.repeat(n), close.repeat(n))
}

#[tokio::test]
async fn values_nested_thousands_deep_are_refused_on_http_and_the_socket_and_the_server_lives() {
    let app = TestApp::new().await;
    let url = serve(&app).await;
    let list = format!("{{ __typename(x: {}) }}", nested("[", "]", 2000));
    let object = format!("{{ __typename(x: {}) }}", nested("{a: ", "}", 2000));
    for q in [&list, &object] {
        let v = app.gql(None, q, json!({})).await;
        assert_eq!(error_code(&v), "GRAPHQL_PARSE_FAILED", "{v}");
    }
    // A batch: each entry answers for itself.
    let (_, v) = app
        .post_json(
            None,
            json!([{ "query": list }, { "query": "{ __typename }" }]),
        )
        .await;
    assert_eq!(error_code(&v[0]), "GRAPHQL_PARSE_FAILED");
    assert_eq!(v[1]["data"]["__typename"], "Query");

    let mut s = init(&url, None).await;
    send(
        &mut s,
        json!({ "id": "deep", "type": "subscribe", "payload": { "query": object } }),
    )
    .await;
    let m = next(&mut s, 5).await.expect("an answer, not a close");
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    subscribe(&mut s, "after", "{ __typename }").await;
    assert_eq!(data(&mut s, "after", 5).await["__typename"], "Query");
    let d = app.ok(None, "{ __typename }", json!({})).await;
    assert_eq!(d["__typename"], "Query");
}

#[tokio::test]
async fn a_batch_stops_writing_and_reading_after_its_own_cancel() {
    let w = world().await;
    let (token, _) = impersonate(&w).await;
    let batch = json!([
        { "query": "mutation { cancelImpersonation { accessToken } }" },
        { "query": COMMENT, "variables": { "b": w.business } },
        { "query": "{ businesses { id } }" },
    ]);
    let (_, v) = w.app.post_json(Some(&token), batch).await;
    assert!(v[0]["errors"].is_null(), "{v}");
    assert_eq!(error_code(&v[1]), "UNAUTHENTICATED", "{v}");
    assert_eq!(error_code(&v[2]), "UNAUTHENTICATED", "{v}");
    assert!(v[2]["data"]["businesses"].is_null());
    assert_eq!(w.app.count("comments", "").await, 0);
}

#[tokio::test]
async fn an_end_committed_on_another_server_refuses_the_next_write_at_once() {
    let w = world().await;
    let other = w.app.second_server().await;
    let (token, _) = impersonate(&w).await;
    other
        .ok(
            Some(&token),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    let code = w
        .app
        .err_code(Some(&token), COMMENT, json!({ "b": w.business }))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    assert_eq!(w.app.count("comments", "").await, 0);
}

#[tokio::test]
async fn socket_operations_with_an_impersonation_token_are_in_the_ledger() {
    let w = world().await;
    let url = serve(&w.app).await;
    let (token, session) = impersonate(&w).await;
    // The `impersonate` answer read Carl's data: that is recorded in the new session.
    assert_eq!(
        ledger_rows(&w.app, &session, "AND operation_name = 'Impersonate'").await,
        1
    );
    let mut s = init(&url, Some(&token)).await;
    subscribe(&mut s, "q", "query Peek { businesses { id name } }").await;
    assert!(data(&mut s, "q", 5).await["businesses"].is_array());
    subscribe(
        &mut s,
        "sub",
        "subscription Watch { currentImpersonation { kind } }",
    )
    .await;
    subscribe(&mut s, "bad", "query Broken { businesses { id ").await;
    let m = next(&mut s, 5).await.unwrap();
    // `q`'s complete may come first.
    let m = match m["type"].as_str() {
        Some("complete") => next(&mut s, 5).await.unwrap(),
        _ => m,
    };
    assert_eq!(
        (&m["id"], &m["type"]),
        (&json!("bad"), &json!("error")),
        "{m}"
    );
    subscribe(&mut s, "mine", "subscription { myAccountEvents { kind } }").await;
    let m = next(&mut s, 5).await.unwrap();
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "BLOCKED_WHILE_IMPERSONATING"
    );
    for _ in 0..50 {
        if ledger_rows(&w.app, &session, "").await >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows = |f: &'static str| ledger_rows(&w.app, &session, f);
    assert_eq!(
        rows("AND operation_name = 'Peek' AND outcome = 'OK'").await,
        1
    );
    assert_eq!(
        rows("AND operation_name = 'Watch' AND operation_type = 'subscription'").await,
        1
    );
    assert_eq!(rows("AND operation_type = 'unknown'").await, 1);
    assert_eq!(rows("AND outcome = 'BLOCKED_WHILE_IMPERSONATING'").await, 1);
}

#[tokio::test]
async fn fragments_nested_deep_and_failed_parses_are_recorded_over_http() {
    let w = world().await;
    let (token, session) = impersonate(&w).await;
    let mut q = String::from("query Innocent { ...F0 }");
    for i in 0..12 {
        q.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    q.push_str(" fragment F12 on Query { businesses { id } }");
    w.app.ok(Some(&token), &q, json!({})).await;
    let filter = "AND operation_name = 'Innocent' AND fields LIKE '%businesses%'";
    assert_eq!(ledger_rows(&w.app, &session, filter).await, 1);
    let v = w
        .app
        .gql(Some(&token), "query Oops { me { id ", json!({}))
        .await;
    assert_eq!(error_code(&v), "GRAPHQL_PARSE_FAILED");
    let filter = "AND operation_type = 'unknown' AND outcome = 'GRAPHQL_PARSE_FAILED'";
    assert_eq!(ledger_rows(&w.app, &session, filter).await, 1);
}

#[tokio::test]
async fn a_socket_operation_after_the_cancel_is_refused_at_once() {
    let w = world().await;
    let url = serve(&w.app).await;
    let (token, _) = impersonate(&w).await;
    let mut s = init(&url, Some(&token)).await;
    w.app
        .ok(
            Some(&token),
            "mutation { cancelImpersonation { accessToken } }",
            json!({}),
        )
        .await;
    send(
        &mut s,
        json!({ "id": "w", "type": "subscribe",
                "payload": { "query": COMMENT, "variables": { "b": w.business } } }),
    )
    .await;
    let m = next(&mut s, 5).await.expect("an answer before any close");
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(w.app.count("comments", "").await, 0);
}

#[tokio::test]
async fn an_open_socket_does_not_keep_a_session_alive() {
    let w = world_with(|c| c.impersonation_idle = Some(chrono::Duration::minutes(5))).await;
    let url = serve(&w.app).await;
    let (token, _) = impersonate(&w).await;
    let mut s = init(&url, Some(&token)).await;
    subscribe(
        &mut s,
        "watch",
        "subscription { currentImpersonation { kind } }",
    )
    .await;
    // The subscription is an operation: it counts when it starts, before the clock moves.
    subscribed(&w.app, 1).await;
    w.app.clock.advance(chrono::Duration::minutes(3));
    // Long enough for the socket's re-check (every 2 s) to run.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    w.app.clock.advance(chrono::Duration::minutes(3));
    let code = w
        .app
        .err_code(Some(&token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    let reason = w
        .app
        .count("impersonations", "WHERE end_reason = 'IDLE_TIMEOUT'")
        .await;
    assert_eq!(reason, 1);
}

#[tokio::test]
async fn only_graphql_transport_ws_messages_pass_and_legacy_start_closes_4400() {
    let w = world_with(|c| c.ws.subscriptions_per_connection = 2).await;
    let url = serve(&w.app).await;
    let mut s = init(&url, Some(&w.carl.token)).await;
    send(
        &mut s,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    assert_eq!(next(&mut s, 5).await, Err(4400));
    let mut s = init(&url, Some(&w.carl.token)).await;
    subscribe(&mut s, "a", "subscription { myAccountEvents { kind } }").await;
    subscribe(&mut s, "a", "subscription { myAccountEvents { kind } }").await;
    assert_eq!(next(&mut s, 5).await, Err(4409));
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_the_socket_with_1009() {
    let app = TestApp::with_config(|c| c.body_limit_bytes = 4096).await;
    let url = serve(&app).await;
    let mut s = init(&url, None).await;
    let big = format!("{{ __typename # {} }}", "x".repeat(10_000));
    s.send_big(json!({ "id": "1", "type": "subscribe", "payload": { "query": big } }))
        .await;
    assert_eq!(next(&mut s, 5).await, Err(1009));
}

#[tokio::test]
async fn sockets_that_are_nobodys_are_capped_per_address() {
    let app = TestApp::with_config(|c| c.ws.connections_per_ip = 2).await;
    let url = serve(&app).await;
    let _a = connect(&url).await;
    let _b = connect(&url).await;
    let third = try_connect(&url).await;
    assert_eq!(third.err(), Some(429));
    // A signed-in socket leaves its address's count.
    let carl = app.register("carl@customer.test", "Carl").await;
    drop(_a);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _c = init(&url, Some(&carl.token)).await;
    let _d = connect(&url).await;
}

#[tokio::test]
async fn connection_init_with_a_bad_token_under_any_key_case_or_shape_closes_4401() {
    let app = TestApp::new().await;
    let url = serve(&app).await;
    for payload in [
        json!({ "authorization": "Bearer not-a-token" }),
        json!({ "AUTHORIZATION": "Bearer not-a-token" }),
        json!({ "Authorization": 12 }),
        json!({ "Authorization": ["Bearer x"] }),
        json!({ "Authorization": "Basic abc" }),
    ] {
        let mut s = connect(&url).await;
        send(
            &mut s,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        assert_eq!(next(&mut s, 5).await, Err(4401), "{payload}");
    }
}

#[tokio::test]
async fn a_missing_or_unknown_operation_name_is_a_request_error_with_a_bounded_echo() {
    let app = TestApp::new().await;
    let doc = "query A { __typename } query B { __typename }";
    let name = "N".repeat(100_000);
    for body in [
        json!({ "query": doc }),
        json!({ "query": doc, "operationName": name }),
    ] {
        let (status, v) = app.post_json(None, body).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
        assert!(v.get("data").is_none(), "{v}");
        assert!(v.to_string().len() < 1000);
    }
}

trait SendBig {
    async fn send_big(&mut self, v: Value);
}

impl SendBig for Socket {
    /// Sends without unwrapping: the server may close while the message is still going.
    async fn send_big(&mut self, v: Value) {
        use futures_util::SinkExt;
        let _ = self.send(Message::Text(v.to_string().into())).await;
    }
}

/// Connects, or the HTTP status the upgrade was refused with.
async fn try_connect(url: &str) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((s, _)) => Ok(s),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn demoting_the_impersonating_admin_ends_the_session_as_the_change_commits() {
    let w = world().await;
    let (sam, _) = w.app.admin("sam@support.test", "SUPER_ADMIN").await;
    let (token, session) = impersonate(&w).await;
    w.app
        .ok(
            Some(&sam.token),
            "mutation($u: ID!) { setUserRole(userId: $u, role: USER) { id } }",
            json!({ "u": w.admin.user_id }),
        )
        .await;
    let filter = format!(
        "WHERE id = '{session}' AND ended_at IS NOT NULL AND end_reason = 'POLICY_CHANGED'"
    );
    assert_eq!(w.app.count("impersonations", &filter).await, 1);
    let code = w
        .app
        .err_code(Some(&token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
}

#[tokio::test]
async fn reasons_with_line_breaks_or_bidi_controls_are_refused_and_change_nothing() {
    let w = world().await;
    for reason in ["ticket\r\nFrom: CEO", "ticket \u{202E}txt.exe", "nul\0"] {
        let v = w
            .app
            .gql(
                Some(&w.admin.token),
                "mutation($u: ID!, $r: String) { impersonate(userId: $u, reason: $r) { accessToken } }",
                json!({ "u": w.carl.user_id, "r": reason }),
            )
            .await;
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{reason:?}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "reason", "{v}");
    }
    assert_eq!(w.app.count("impersonations", "").await, 0);
    let v = w
        .app
        .gql(
            Some(&w.carl.token),
            "mutation($b: ID!, $t: String!) { addBusinessComment(businessId: $b, text: $t) { id } }",
            json!({ "b": w.business, "t": "evil\u{202E}gnp.exe" }),
        )
        .await;
    assert_eq!(error_code(&v), "BAD_USER_INPUT");
    let d = w
        .app
        .ok(
            Some(&w.carl.token),
            "mutation($b: ID!, $t: String!) { addBusinessComment(businessId: $b, text: $t) { text } }",
            json!({ "b": w.business, "t": "line 1\nline 2" }),
        )
        .await;
    assert_eq!(d["addBusinessComment"]["text"], "line 1\nline 2");
}

#[tokio::test]
async fn a_token_issued_in_the_same_second_before_a_password_change_is_refused() {
    let app = TestApp::new().await;
    let url = serve(&app).await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let other = app.login("carl@customer.test", "correct-horse-1").await;
    let other = other["accessToken"].as_str().unwrap().to_string();
    let mut socket = init(&url, Some(&other)).await;
    // A millisecond later, the same second: `iat` alone cannot tell them apart.
    app.clock.advance(chrono::Duration::milliseconds(1));
    app.ok(
        Some(&carl.token),
        "mutation { changePassword(currentPassword: \"correct-horse-1\", newPassword: \"battery-staple-2\") }",
        json!({}),
    )
    .await;
    for token in [&carl.token, &other] {
        let code = app.err_code(Some(token), "{ me { id } }", json!({})).await;
        assert_eq!(code, "UNAUTHENTICATED");
    }
    subscribe(&mut socket, "me", "{ me { id } }").await;
    let m = next(&mut socket, 5).await.expect("an answer");
    assert_eq!(
        m["payload"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{m}"
    );
    // Signing in again afterwards works, at the same instant.
    let fresh = app.login("carl@customer.test", "battery-staple-2").await;
    let fresh = fresh["accessToken"].as_str().unwrap();
    app.ok(Some(fresh), "{ me { id } }", json!({})).await;
}

#[tokio::test]
async fn a_failed_non_null_field_nulls_its_parent_and_keys_keep_the_selection_order() {
    let w = world().await;
    // `me` is non-null: refused anonymously, it nulls the whole answer (not a dropped key).
    let (status, text) = w
        .app
        .post_raw(None, json!({ "query": "{ __typename me { id } }" }))
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"], Value::Null, "{text}");
    assert!(v.as_object().unwrap().contains_key("data"), "{text}");
    assert_eq!(error_code(&v), "UNAUTHENTICATED");
    assert_eq!(v["errors"][0]["path"], json!(["me"]));
    // Keys in the order they were selected, aliases and fragments included.
    let query = "query { zeta: __typename me { name ...Who } alpha: __typename } \
                 fragment Who on CurrentUser { id email }";
    let (_, text) = w
        .app
        .post_raw(Some(&w.carl.token), json!({ "query": query }))
        .await;
    let expected = format!(
        r#"{{"data":{{"zeta":"Query","me":{{"name":"Carl","id":"{}","email":"carl@customer.test"}},"alpha":"Query"}}}}"#,
        w.carl.user_id
    );
    assert_eq!(text, expected);
    // The same over the socket.
    let url = serve(&w.app).await;
    let mut s = init(&url, None).await;
    subscribe(&mut s, "1", "{ __typename me { id } }").await;
    // Nothing came of it: the socket's `error` message, as for any refused operation.
    let m: Value = serde_json::from_str(&next_text(&mut s, 5).await).unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["payload"][0]["path"], json!(["me"]), "{m}");
    let mut s = init(&url, Some(&w.carl.token)).await;
    subscribe(&mut s, "2", query).await;
    let text = next_text(&mut s, 5).await;
    let data = text.split(r#""data":"#).nth(1).unwrap();
    assert!(
        data.starts_with(&format!(
            r#"{{"zeta":"Query","me":{{"name":"Carl","id":"{}","email""#,
            w.carl.user_id
        )),
        "{text}"
    );
}

#[tokio::test]
async fn customers_see_support_staff_by_name_and_teammates_and_admins_see_more() {
    let w = world().await;
    let (token, _) = impersonate(&w).await;
    w.app
        .ok(Some(&token), COMMENT, json!({ "b": w.business }))
        .await;
    // The admin behind the session reads their own contact.
    let d = w
        .app
        .ok(
            Some(&token),
            "{ me { impersonatedBy { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["me"]["impersonatedBy"]["email"], "ada@support.test");
    let carl = Some(w.carl.token.as_str());
    // Carl sees who entered and who wrote, by name.
    let d = w
        .app
        .ok(
            carl,
            "query($b: ID!) { me { accessHistory { edges { node { impersonator { name } } } } }
                              business(id: $b) { comments { authorName author { name } } } }",
            json!({ "b": w.business }),
        )
        .await;
    assert_eq!(
        d["me"]["accessHistory"]["edges"][0]["node"]["impersonator"]["name"],
        "Ada Admin"
    );
    assert_eq!(d["business"]["comments"][0]["author"]["name"], "Ada Admin");
    // Not their address, role or 2FA state.
    for (query, path) in [
        (
            "{ me { accessHistory { edges { node { impersonator { email } } } } } }",
            json!([
                "me",
                "accessHistory",
                "edges",
                0,
                "node",
                "impersonator",
                "email"
            ]),
        ),
        (
            "query($b: ID!) { business(id: $b) { comments { author { role } } } }",
            json!(["business", "comments", 0, "author", "role"]),
        ),
        (
            "query($b: ID!) { business(id: $b) { comments { author { isTwoFactorEnabled } } } }",
            json!(["business", "comments", 0, "author", "isTwoFactorEnabled"]),
        ),
    ] {
        let v = w.app.gql(carl, query, json!({ "b": w.business })).await;
        assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
        assert_eq!(v["errors"][0]["path"], path, "{v}");
        assert!(!v.to_string().contains("ada@support.test"), "{v}");
    }
    // A 2FA admin sees support staff's and customers' contact.
    let d = w
        .app
        .ok(
            Some(&w.admin.token),
            "{ impersonations(first: 5) { edges { node {
                 impersonator { email role } impersonatedUser { email isTwoFactorEnabled } } } } }",
            json!({}),
        )
        .await;
    let node = &d["impersonations"]["edges"][0]["node"];
    assert_eq!(node["impersonator"]["email"], "ada@support.test");
    assert_eq!(node["impersonatedUser"]["email"], "carl@customer.test");
    // A member of Carl's team sees Carl's contact, not support's.
    let dana = w.app.register("dana@customer.test", "Dana").await;
    let team = w
        .app
        .ok(carl, "{ me { currentTeam { id } } }", json!({}))
        .await["me"]["currentTeam"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    use sea_orm::ConnectionTrait;
    w.app
        .state
        .db
        .execute_unprepared(&format!(
            "INSERT INTO team_members (id, team_id, user_id, role, created_at) \
             VALUES ('tm-dana', '{team}', '{}', 'MEMBER', CURRENT_TIMESTAMP)",
            dana.user_id
        ))
        .await
        .unwrap();
    let d = w
        .app
        .ok(
            Some(&dana.token),
            "mutation($t: ID!) { switchTeam(teamId: $t) { accessToken } }",
            json!({ "t": team }),
        )
        .await;
    let dana_token = d["switchTeam"]["accessToken"].as_str().unwrap().to_string();
    let d = w
        .app
        .ok(
            Some(&dana_token),
            "{ me { currentTeam { members { name email role } } } }",
            json!({}),
        )
        .await;
    let members = d["me"]["currentTeam"]["members"].as_array().unwrap();
    assert!(
        members
            .iter()
            .any(|m| m["email"] == "carl@customer.test" && m["role"] == "USER"),
        "{d}"
    );
    let v = w
        .app
        .gql(
            Some(&dana_token),
            "query($b: ID!) { business(id: $b) { comments { author { email } } } }",
            json!({ "b": w.business }),
        )
        .await;
    assert_eq!(error_code(&v), "FORBIDDEN", "{v}");
}

/// Makes the database refuse writes to `table` (as a full disk would refuse them), or takes
/// the refusal away: a trigger on SQLite, a trigger function on PostgreSQL.
async fn refuse_writes(app: &TestApp, table: &str, on: bool) {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let sql: Vec<String> = match (is_postgres(), on) {
        (false, true) => ["INSERT", "UPDATE"]
            .iter()
            .map(|op| {
                format!(
                    "CREATE TRIGGER refuse_{table}_{op} BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
                )
            })
            .collect(),
        (false, false) => ["INSERT", "UPDATE"]
            .iter()
            .map(|op| format!("DROP TRIGGER refuse_{table}_{op}"))
            .collect(),
        (true, true) => vec![
            "CREATE OR REPLACE FUNCTION refuse_write() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$ LANGUAGE plpgsql".into(),
            format!("CREATE TRIGGER refuse_{table} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_write()"),
        ],
        (true, false) => vec![format!("DROP TRIGGER refuse_{table} ON {table}")],
    };
    for s in sql {
        db.execute_unprepared(&s).await.unwrap();
    }
}

#[tokio::test]
async fn an_operation_the_ledger_cannot_record_is_refused_and_has_no_effect() {
    let w = world().await;
    let (token, session) = impersonate(&w).await;
    let before = ledger_rows(&w.app, &session, "").await;
    let comments = w.app.count("comments", "").await;
    refuse_writes(&w.app, "impersonation_activities", true).await;
    // Reads are refused, not answered unrecorded.
    for _ in 0..3 {
        let v = w
            .app
            .gql(Some(&token), "{ businesses { id name } }", json!({}))
            .await;
        assert_eq!(error_code(&v), "INTERNAL", "{v}");
        assert!(!v.to_string().contains("Cafe"), "answered unrecorded: {v}");
    }
    // A change is refused before it runs: nothing is written.
    let v = w
        .app
        .gql(Some(&token), COMMENT, json!({ "b": w.business }))
        .await;
    assert_eq!(error_code(&v), "INTERNAL", "{v}");
    assert_eq!(w.app.count("comments", "").await, comments);
    // The customer's own operations (no session) do not depend on the ledger.
    w.app
        .ok(Some(&w.carl.token), "{ businesses { id } }", json!({}))
        .await;
    refuse_writes(&w.app, "impersonation_activities", false).await;
    // Back: recorded first, then settled with the outcome.
    w.app
        .ok(Some(&token), "{ businesses { id name } }", json!({}))
        .await;
    assert_eq!(ledger_rows(&w.app, &session, "").await, before + 1);
    assert_eq!(
        ledger_rows(&w.app, &session, "AND outcome = 'PENDING'").await,
        0
    );
    assert_eq!(
        ledger_rows(&w.app, &session, "AND outcome = 'OK'").await,
        before + 1
    );
}

#[tokio::test]
async fn ready_answers_503_while_the_database_refuses_writes() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/ready").await.0, axum::http::StatusCode::OK);
    refuse_writes(&app, "readiness_probes", true).await;
    let (status, body) = app.get("/ready").await;
    assert_eq!(
        status,
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "{body}"
    );
    assert!(!body.contains("disk") && !body.contains("space"), "{body}");
    refuse_writes(&app, "readiness_probes", false).await;
    assert_eq!(app.get("/ready").await.0, axum::http::StatusCode::OK);
}
