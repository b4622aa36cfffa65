//! Webhooks over GraphQL and a real receiver on 127.0.0.1: deliveries signed per the Standard
//! Webhooks spec (checked here with the spec's own algorithm, HMAC-SHA256 of
//! "id.timestamp.body"), carrying no token, code or secret; retries until the receiver
//! answers; redirects not followed; two signatures for a day after a rotation; an endpoint
//! failing for the limit disabled and its owner told; a delivery whose server died is sent by
//! another (in process, and with a real server process killed mid-delivery and restarted);
//! two servers delivering each event exactly once; private addresses refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::common::*;
use crm::services::webhooks::sender::deliver_due;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A receiver on 127.0.0.1: records every request; fails the first `failures` with 500; with
/// `redirect`, answers 307 to another path.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(failures: usize, redirect: bool) -> Receiver {
    use axum::http::{HeaderMap, StatusCode, Uri};
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let left = Arc::new(AtomicUsize::new(failures));
    let (s, l) = (seen.clone(), left.clone());
    let handler = move |uri: Uri, headers: HeaderMap, body: String| {
        let (seen, left) = (s.clone(), l.clone());
        async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            seen.lock().unwrap().push(Received {
                path: uri.path().to_string(),
                id: h("webhook-id"),
                timestamp: h("webhook-timestamp"),
                signature: h("webhook-signature"),
                body,
            });
            if redirect {
                return (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")])
                    .into_response();
            }
            let fail = left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            match fail {
                true => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                false => StatusCode::NO_CONTENT.into_response(),
            }
        }
    };
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, seen }
}

impl Receiver {
    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

/// The spec's check, written out: each `v1,<base64>` in the header against
/// HMAC-SHA256(key, "id.timestamp.body"), the key being the secret after `whsec_`, base64.
fn signed_by(r: &Received, secret: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

const CREATE: &str = r#"mutation($u: String!, $e: [String!]!) {
  createWebhookEndpoint(url: $u, events: $e, description: "SIEM") { secret endpoint { id url events enabled } }
}"#;
const TEST: &str = "mutation($id: ID!) { sendTestWebhook(id: $id) { id status } }";
const ENDPOINTS: &str = "{ webhookEndpoints { id enabled failingSince deliveries(first: 50) { nodes { id eventType status attempts lastStatusCode lastError } } } }";

async fn app_with(tweak: impl FnOnce(&mut crm::config::Config)) -> (TestApp, Session) {
    let app = TestApp::with_config(|c| {
        c.webhooks.allow_private = true;
        c.webhooks.retry_schedule = vec![1, 1, 1];
        c.access_token_ttl = chrono::Duration::days(2);
        tweak(c)
    })
    .await;
    let (sam, _) = app.admin("sam@support.test", "SUPER_ADMIN").await;
    (app, sam)
}

async fn endpoint(app: &TestApp, sam: &Session, url: &str, events: &[&str]) -> (String, String) {
    let d = app
        .ok(Some(&sam.token), CREATE, json!({ "u": url, "e": events }))
        .await;
    let c = &d["createWebhookEndpoint"];
    (
        c["endpoint"]["id"].as_str().unwrap().to_string(),
        c["secret"].as_str().unwrap().to_string(),
    )
}

async fn deliveries(app: &TestApp, sam: &Session) -> Vec<Value> {
    let d = app.ok(Some(&sam.token), ENDPOINTS, json!({})).await;
    d["webhookEndpoints"][0]["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn security_events_arrive_signed_and_carry_no_secret() {
    let (app, sam) = app_with(|_| {}).await;
    let r = receiver(0, false).await;
    let events = ["impersonation.started", "impersonation.ended"];
    let (_, secret) = endpoint(&app, &sam, &r.url, &events).await;
    assert!(secret.starts_with("whsec_"));
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    let start = r#"mutation($u: ID!) { impersonate(userId: $u, reason: "Ticket 7: invoice") { accessToken } }"#;
    let t = app
        .ok(Some(&ada.token), start, json!({ "u": carl.user_id }))
        .await["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        Some(&t),
        "mutation { cancelImpersonation { accessToken } }",
        json!({}),
    )
    .await;
    // Nothing is sent in the request: the outbox holds both until a sender pass.
    assert!(r.seen().is_empty());
    assert_eq!(deliver_due(&app.state).await.unwrap(), 2);
    let seen = r.seen();
    assert_eq!(seen.len(), 2);
    // Sent concurrently, they may arrive in either order: the body's timestamp orders them.
    let mut bodies: Vec<Value> = seen
        .iter()
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect();
    bodies.sort_by_key(|b| {
        (
            b["timestamp"].as_str().unwrap().to_string(),
            b["type"] != "impersonation.started",
        )
    });
    assert_eq!(bodies[0]["type"], "impersonation.started");
    assert_eq!(bodies[1]["type"], "impersonation.ended");
    assert_eq!(bodies[0]["data"]["admin"]["name"], "Ada Admin");
    assert_eq!(bodies[0]["data"]["reason"], "Ticket 7: invoice");
    assert_eq!(bodies[1]["data"]["endReason"], "CANCELLED");
    let code: String = {
        use sea_orm::{EntityTrait, QuerySelect};
        crm::entities::impersonation::Entity::find()
            .select_only()
            .column(crm::entities::impersonation::Column::Code)
            .into_tuple()
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
    };
    for s in &seen {
        assert!(signed_by(s, &secret), "signature of {}", s.id);
        assert!(s.id.starts_with("msg_"));
        for secret_thing in [
            t.as_str(),
            code.as_str(),
            secret.as_str(),
            "carl@customer.test",
        ] {
            assert!(
                !s.body.contains(secret_thing),
                "the body carries a secret: {}",
                s.body
            );
        }
    }
    let list = deliveries(&app, &sam).await;
    assert!(list.iter().all(|d| d["status"] == "DELIVERED"), "{list:?}");
    // Nothing more to send.
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(r.seen().len(), 2);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_and_redirects_are_not_followed() {
    let (app, sam) = app_with(|_| {}).await;
    let r = receiver(2, false).await;
    let (id, secret) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    // Not due again before its wait (1 s here).
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(r.seen().len(), 1);
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    let seen = r.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.id == seen[0].id),
        "one webhook-id across retries"
    );
    assert!(seen.iter().all(|s| signed_by(s, &secret)));
    let d = &deliveries(&app, &sam).await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_i64()),
        (Some("DELIVERED"), Some(3))
    );

    // A redirect is an answer, not a new address: one request, then a retry later.
    let r2 = receiver(0, true).await;
    let (id2, _) = endpoint(&app, &sam, &r2.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": id2 })).await;
    deliver_due(&app.state).await.unwrap();
    let seen = r2.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/hook");
    // After the schedule runs out the delivery is FAILED.
    for _ in 0..4 {
        app.clock.advance(chrono::Duration::seconds(2));
        deliver_due(&app.state).await.unwrap();
    }
    let d = app.ok(Some(&sam.token), ENDPOINTS, json!({})).await;
    let last = &d["webhookEndpoints"][1]["deliveries"]["nodes"][0];
    assert_eq!(last["status"], "FAILED");
    assert_eq!(last["lastStatusCode"], 307);
    assert_eq!(r2.seen().len(), 4, "the first try and the schedule's three");
    assert!(r2.seen().iter().all(|s| s.path == "/hook"));
}

#[tokio::test]
async fn a_rotated_secret_still_signs_for_a_day() {
    let (app, sam) = app_with(|_| {}).await;
    let r = receiver(0, false).await;
    let (id, old) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    let rotate = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { previousSecretValidUntil } } }";
    let d = app.ok(Some(&sam.token), rotate, json!({ "id": id })).await;
    let new = d["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    assert!(d["rotateWebhookSecret"]["endpoint"]["previousSecretValidUntil"].is_string());
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    deliver_due(&app.state).await.unwrap();
    let first = &r.seen()[0];
    assert_eq!(first.signature.split(' ').count(), 2);
    assert!(signed_by(first, &old) && signed_by(first, &new));
    app.clock.advance(chrono::Duration::hours(25));
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    deliver_due(&app.state).await.unwrap();
    let later = &r.seen()[1];
    assert_eq!(later.signature.split(' ').count(), 1);
    assert!(signed_by(later, &new) && !signed_by(later, &old));
}

#[tokio::test]
async fn an_endpoint_failing_past_the_limit_is_disabled_and_its_owner_told() {
    let (app, sam) = app_with(|c| c.webhooks.disable_after = chrono::Duration::hours(1)).await;
    let r = receiver(usize::MAX, false).await;
    let (id, _) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    deliver_due(&app.state).await.unwrap();
    let d = app.ok(Some(&sam.token), ENDPOINTS, json!({})).await;
    assert!(d["webhookEndpoints"][0]["failingSince"].is_string());
    assert_eq!(d["webhookEndpoints"][0]["enabled"], true);
    app.clock.advance(chrono::Duration::minutes(61));
    deliver_due(&app.state).await.unwrap();
    let d = app.ok(Some(&sam.token), ENDPOINTS, json!({})).await;
    assert_eq!(d["webhookEndpoints"][0]["enabled"], false);
    let notices = "{ me { notifications(first: 10) { nodes { kind message } } } }";
    let n = app.ok(Some(&sam.token), notices, json!({})).await;
    let first = &n["me"]["notifications"]["nodes"][0];
    assert_eq!(first["kind"], "WEBHOOK_DISABLED");
    assert!(first["message"].as_str().unwrap().contains("switched off"));
    assert_eq!(
        app.count("audit_logs", "WHERE action = 'WEBHOOK_ENDPOINT_DISABLED'")
            .await,
        1
    );
    // Switched on again by its owner, it receives again.
    let on = "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled failingSince } }";
    let d = app.ok(Some(&sam.token), on, json!({ "id": id })).await;
    assert_eq!(d["updateWebhookEndpoint"]["enabled"], true);
    assert!(d["updateWebhookEndpoint"]["failingSince"].is_null());
}

#[tokio::test]
async fn a_delivery_held_by_a_server_that_died_is_sent_by_another() {
    let (app, sam) = app_with(|_| {}).await;
    let r = receiver(0, false).await;
    let (id, secret) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    // A server claimed it and died before sending: the row is held by its lease.
    let now = crm::clock::Clock::now(&*app.clock);
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = &app.state.db;
        let sql = match is_postgres() {
            true => "UPDATE webhook_deliveries SET attempts = 1, claimed_until = $1",
            false => "UPDATE webhook_deliveries SET attempts = 1, claimed_until = ?",
        };
        let until = now + chrono::Duration::seconds(60);
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [until.into()],
        ))
        .await
        .unwrap();
    }
    let other = app.second_server().await;
    assert_eq!(
        deliver_due(&other.state).await.unwrap(),
        0,
        "held by the dead server's lease"
    );
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(deliver_due(&other.state).await.unwrap(), 1);
    let seen = r.seen();
    assert_eq!(seen.len(), 1);
    assert!(signed_by(&seen[0], &secret));
}

#[tokio::test]
async fn two_servers_deliver_each_event_exactly_once() {
    let (app, sam) = app_with(|_| {}).await;
    let r = receiver(0, false).await;
    let (id, _) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    for _ in 0..30 {
        app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    }
    let other = app.second_server().await;
    let run = |state: crm::state::AppState| async move {
        let mut sent = 0;
        for _ in 0..20 {
            sent += deliver_due(&state).await.unwrap();
        }
        sent
    };
    let (a, b) = tokio::join!(
        tokio::spawn(run(app.state.clone())),
        tokio::spawn(run(other.state.clone()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 30, "{a} + {b}");
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for s in r.seen() {
        *per_id.entry(s.id).or_default() += 1;
    }
    assert_eq!(per_id.len(), 30);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

#[tokio::test]
async fn private_addresses_are_refused_and_only_super_admins_manage_endpoints() {
    let app = TestApp::new().await;
    let (sam, _) = app.admin("sam@support.test", "SUPER_ADMIN").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9000/hook",
        "ftp://siem.example.com/",
        // IPv6 forms carrying an inside IPv4 address, or outside global unicast.
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b:1::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[2001:0:7f00:1::ffff:ffff]/hook",
        "http://[fec0::1]/hook",
        "http://[100::1]/hook",
    ] {
        let v = app
            .gql(
                Some(&sam.token),
                CREATE,
                json!({ "u": url, "e": ["webhook.test"] }),
            )
            .await;
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{url}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "url");
    }
    let v = app
        .gql(
            Some(&sam.token),
            CREATE,
            json!({ "u": "https://siem.example.com/hook", "e": ["nope"] }),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["field"], "events");
    assert_eq!(app.count("webhook_endpoints", "").await, 0);
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let vars = json!({ "u": "https://siem.example.com/hook", "e": ["webhook.test"] });
    assert_eq!(
        app.err_code(Some(&ada.token), CREATE, vars).await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err_code(Some(&ada.token), ENDPOINTS, json!({})).await,
        "FORBIDDEN"
    );
}

/// A receiver for server processes: the first request is read and never answered (the server
/// sending it is killed meanwhile); later ones are answered 204. Each `webhook-id` seen, in
/// order.
fn hanging_then_healthy_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    use crate::common::process::{NO_CONTENT, read_request};
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = ids.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().take(10).enumerate() {
            let Ok(mut s) = stream else { continue };
            let head = read_request(&mut s)
                .map(|(head, _)| head)
                .unwrap_or_default();
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("webhook-id:"))
                .unwrap_or("")
                .trim()
                .to_string();
            seen.lock().unwrap().push(id);
            match n {
                0 => held.push(s), // never answered
                _ => {
                    let _ = s.write_all(NO_CONTENT);
                }
            }
        }
    });
    (url, ids)
}

#[test]
fn an_event_outlives_a_server_killed_between_the_commit_and_the_delivery() {
    use crate::common::process::{gql, two_factor_token};
    let (url, ids) = hanging_then_healthy_receiver();
    let dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut c = server_command(dir.path());
        c.env("WEBHOOK_ALLOW_PRIVATE", "true")
            .env("WEBHOOK_LEASE_SECONDS", "15");
        c
    };
    let (mut first, port, lines) = spawn_server(command());
    drain(lines);
    let sam = two_factor_token(port, dir.path(), "super@demo.test", "demo-super-1");
    let d = gql(
        port,
        Some(&sam),
        CREATE,
        json!({ "u": url, "e": ["webhook.test"] }),
    );
    let id = d["data"]["createWebhookEndpoint"]["endpoint"]["id"].clone();
    let d = gql(port, Some(&sam), TEST, json!({ "id": id }));
    let delivery = d["data"]["sendTestWebhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The first server commits the event, claims it and is sending it when it is killed.
    let wait_for = |n: usize, secs: u64| {
        for _ in 0..secs * 10 {
            if ids.lock().unwrap().len() >= n {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    assert!(wait_for(1, 10), "the first server began the delivery");
    first.kill().unwrap();
    first.wait().unwrap();
    // Restarted: the new server takes the delivery over once the dead one's lease runs out.
    let (mut second, port, lines) = spawn_server(command());
    drain(lines);
    assert!(wait_for(2, 40), "the restarted server delivered the event");
    let seen = ids.lock().unwrap().clone();
    assert_eq!(
        seen,
        [delivery.clone(), delivery.clone()],
        "the same webhook-id, twice"
    );
    let d = gql(port, Some(&sam), ENDPOINTS, json!({}));
    let row = &d["data"]["webhookEndpoints"][0]["deliveries"]["nodes"][0];
    assert_eq!(row["status"], "DELIVERED", "{d}");
    assert_eq!(row["attempts"], 2);
    let _ = second.kill();
    let _ = second.wait();
}

/// A loopback "proxy" for server processes: every request line it is sent, answered 204.
fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    use crate::common::process::{NO_CONTENT, read_request};
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            if let Some((head, _)) = read_request(&mut s) {
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_string());
                let _ = s.write_all(NO_CONTENT);
            }
        }
    });
    (url, lines)
}

#[test]
fn the_sender_uses_no_proxy_from_the_environment_only_webhook_proxy() {
    use crate::common::process::{gql, two_factor_token};
    let (proxy, via_proxy) = recording_proxy();
    let dir = tempfile::tempdir().unwrap();
    let command = |webhook_proxy: Option<&str>| {
        let mut c = server_command(dir.path());
        c.env(
            "WEBHOOK_RETRY_SCHEDULE_SECONDS",
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
        )
        .env("WEBHOOK_LEASE_SECONDS", "15");
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            c.env(var, &proxy);
        }
        c.env_remove("NO_PROXY").env_remove("no_proxy");
        if let Some(p) = webhook_proxy {
            c.env("WEBHOOK_PROXY", p);
        }
        c
    };
    let (mut first, port, lines) = spawn_server(command(None));
    drain(lines);
    let sam = two_factor_token(port, dir.path(), "super@demo.test", "demo-super-1");
    // A name, so that only the resolver's check stands between it and the inside.
    let url = "http://siem.invalid/hook";
    let d = gql(
        port,
        Some(&sam),
        CREATE,
        json!({ "u": url, "e": ["webhook.test"] }),
    );
    let id = d["data"]["createWebhookEndpoint"]["endpoint"]["id"].clone();
    gql(port, Some(&sam), TEST, json!({ "id": id }));
    let tried = || {
        let d = gql(port, Some(&sam), ENDPOINTS, json!({}));
        d["data"]["webhookEndpoints"][0]["deliveries"]["nodes"][0]["attempts"]
            .as_i64()
            .unwrap_or(0)
    };
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = tried();
        if attempts >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(attempts >= 2, "the sender tried the delivery");
    assert!(
        via_proxy.lock().unwrap().is_empty(),
        "HTTP_PROXY/ALL_PROXY from the environment were used: {:?}",
        via_proxy.lock().unwrap()
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // With WEBHOOK_PROXY named, the next retry goes through it.
    let (mut second, _, lines) = spawn_server(command(Some(&proxy)));
    drain(lines);
    for _ in 0..300 {
        if !via_proxy.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let seen = via_proxy.lock().unwrap().clone();
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("post http://siem.invalid/hook http/1.1"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn audit_rows_keep_a_webhook_url_without_its_query() {
    let (app, sam) = app_with(|_| {}).await;
    let url = "https://siem.example.com/in/hook?token=receiver-s3cret#x";
    let (id, _) = endpoint(&app, &sam, url, &["webhook.test"]).await;
    app.ok(
        Some(&sam.token),
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: \"SIEM 2\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
    app.ok(
        Some(&sam.token),
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    // A plain admin reads the audit log: the actions are there, the receiver's token is not.
    let (ada, _) = app.admin("ada@support.test", "ADMIN").await;
    let d = app
        .ok(
            Some(&ada.token),
            "{ auditLogs(first: 50) { edges { node { action details summary } } } }",
            json!({}),
        )
        .await;
    let rows: Vec<&Value> = d["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| {
            n["action"]
                .as_str()
                .unwrap()
                .starts_with("WEBHOOK_ENDPOINT_")
        })
        .collect();
    assert_eq!(rows.len(), 3, "{d}");
    for n in rows {
        let text = n.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("token="),
            "{text}"
        );
        assert!(text.contains("https://siem.example.com/in/hook"), "{text}");
    }
}

/// A receiver that holds requests until told to answer: the first `hold` requests wait for
/// `release` (then get `held_status`), later ones are answered 204 at once. Each `webhook-id`,
/// in order of arrival, and how many were answered.
struct Gate {
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    answered: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Notify>,
}

async fn gate(hold: usize, held_status: u16) -> Gate {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let answered = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let (i, a, r) = (ids.clone(), answered.clone(), release.clone());
    let handler = move |headers: HeaderMap| {
        let (ids, answered, release) = (i.clone(), a.clone(), r.clone());
        async move {
            let n = {
                let mut ids = ids.lock().unwrap();
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                ids.push(id.to_string());
                ids.len()
            };
            let status = if n <= hold {
                release.notified().await;
                StatusCode::from_u16(held_status).unwrap()
            } else {
                StatusCode::NO_CONTENT
            };
            answered.fetch_add(1, Ordering::SeqCst);
            status.into_response()
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Gate {
        url,
        ids,
        answered,
        release,
    }
}

impl Gate {
    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
    /// Answers every held request.
    fn open(&self) {
        for _ in 0..64 {
            self.release.notify_waiters();
        }
    }
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

#[tokio::test]
async fn a_slow_endpoint_holds_up_no_other_and_two_servers_send_each_delivery_once() {
    use crm::services::webhooks::sender::start;
    let (app, sam) = app_with(|_| {}).await;
    let slow = gate(usize::MAX, 204).await;
    let fast = receiver(0, false).await;
    let (s, _) = endpoint(&app, &sam, &slow.url, &["webhook.test"]).await;
    let (f, _) = endpoint(&app, &sam, &fast.url, &["webhook.test"]).await;
    for id in [&s, &s, &s, &s, &f, &f, &f, &f] {
        app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    }
    let other = app.second_server().await;
    let mut sends = start(&app.state).await.unwrap();
    sends.extend(start(&other.state).await.unwrap());
    // Every fast delivery arrives while all four slow ones are still unanswered.
    until("the fast endpoint's four events", || fast.seen().len() == 4).await;
    until("the slow endpoint's four requests", || {
        slow.ids().len() == 4
    })
    .await;
    assert_eq!(slow.answered.load(Ordering::SeqCst), 0);
    slow.open();
    for send in sends {
        assert!(send.await.unwrap(), "each claimed delivery was delivered");
    }
    // Exact counts: each delivery was sent once, by one of the two servers.
    let mut fast_ids: Vec<String> = fast.seen().into_iter().map(|r| r.id).collect();
    let mut slow_ids = slow.ids();
    fast_ids.sort();
    fast_ids.dedup();
    slow_ids.sort();
    slow_ids.dedup();
    assert_eq!((fast_ids.len(), slow_ids.len()), (4, 4));
    assert_eq!(fast.seen().len() + slow.ids().len(), 8);
    assert_eq!(
        deliver_due(&app.state).await.unwrap(),
        0,
        "nothing is left to send"
    );
    assert_eq!(
        app.count(
            "webhook_deliveries",
            "WHERE status = 'DELIVERED' AND attempts = 1"
        )
        .await,
        8
    );
}

#[tokio::test]
async fn only_the_sender_still_holding_the_claim_records_the_outcome() {
    use crm::services::webhooks::sender::start;
    let (app, sam) = app_with(|c| c.webhooks.lease = chrono::Duration::seconds(15)).await;
    // The first request (server A's) waits, then fails with 500; the second (B's) is answered.
    let r = gate(1, 500).await;
    let (id, _) = endpoint(&app, &sam, &r.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": id })).await;
    let a = start(&app.state).await.unwrap();
    until("server A's request", || r.ids().len() == 1).await;
    // A's lease runs out while it waits; server B takes the delivery over and delivers it.
    let other = app.second_server().await;
    app.clock.advance(chrono::Duration::seconds(16));
    assert_eq!(deliver_due(&other.state).await.unwrap(), 1);
    // Now A hears its 500: too late, its claim is gone, so it records nothing.
    r.open();
    for send in a {
        assert!(!send.await.unwrap());
    }
    let rows = deliveries(&app, &sam).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "DELIVERED", "{rows:?}");
    assert_eq!(rows[0]["attempts"], 2);
    assert!(rows[0]["lastError"].is_null(), "{rows:?}");
    assert_eq!(rows[0]["lastStatusCode"], 204);
    // And it is not sent a third time.
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
    assert_eq!(r.ids().len(), 2);
}

#[tokio::test]
async fn an_endpoint_that_keeps_timing_out_is_held_back_and_the_others_go_on() {
    let (app, sam) = app_with(|c| {
        c.webhooks.timeout = std::time::Duration::from_millis(300);
        c.webhooks.retry_schedule = vec![1; 10];
    })
    .await;
    let hanging = gate(usize::MAX, 204).await;
    let fast = receiver(0, false).await;
    let (h, _) = endpoint(&app, &sam, &hanging.url, &["webhook.test"]).await;
    let (f, _) = endpoint(&app, &sam, &fast.url, &["webhook.test"]).await;
    app.ok(Some(&sam.token), TEST, json!({ "id": h })).await;
    // Three timeouts in a row (each retry a second later).
    for n in 1..=3 {
        assert_eq!(deliver_due(&app.state).await.unwrap(), 0);
        assert_eq!(hanging.ids().len(), n);
        app.clock.advance(chrono::Duration::seconds(2));
    }
    let d = app.ok(Some(&sam.token), ENDPOINTS, json!({})).await;
    assert!(d["webhookEndpoints"][0]["failingSince"].is_string(), "{d}");
    // Held back: its retry is due, but not tried; the fast endpoint's event goes at once.
    app.ok(Some(&sam.token), TEST, json!({ "id": f })).await;
    assert_eq!(deliver_due(&app.state).await.unwrap(), 1);
    assert_eq!(fast.seen().len(), 1);
    assert_eq!(hanging.ids().len(), 3, "a held endpoint is not tried");
    // After the hold (30 s), it is tried again.
    app.clock.advance(chrono::Duration::seconds(31));
    deliver_due(&app.state).await.unwrap();
    assert_eq!(hanging.ids().len(), 4);
    hanging.open();
}

#[tokio::test]
async fn endpoint_changes_are_told_to_the_others_and_to_the_changed_one_before_it_changes() {
    let (app, sam) = app_with(|_| {}).await;
    let (tom, _) = app.admin("tom@support.test", "SUPER_ADMIN").await;
    let siem = receiver(0, false).await;
    let quiet = receiver(0, false).await;
    let moved_to = receiver(0, false).await;
    let all = [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.deleted",
    ];
    let (_, siem_secret) = endpoint(&app, &sam, &siem.url, &all).await;
    // An insider's own endpoint, asking for nothing about endpoints.
    let (q, q_secret) = endpoint(&app, &sam, &quiet.url, &["webhook.test"]).await;
    // It is moved elsewhere, then switched off, then deleted.
    let update = "mutation($id: ID!, $i: WebhookEndpointUpdate!) { updateWebhookEndpoint(id: $id, input: $i) { id } }";
    app.ok(
        Some(&sam.token),
        update,
        json!({ "id": q, "i": { "url": moved_to.url } }),
    )
    .await;
    app.ok(
        Some(&sam.token),
        update,
        json!({ "id": q, "i": { "enabled": false } }),
    )
    .await;
    app.ok(
        Some(&sam.token),
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": q }),
    )
    .await;
    for _ in 0..3 {
        deliver_due(&app.state).await.unwrap();
    }
    let types = |r: &Receiver| -> Vec<String> {
        let mut t: Vec<String> = r
            .seen()
            .iter()
            .map(|s| {
                serde_json::from_str::<Value>(&s.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        t.sort();
        t
    };
    // The SIEM heard all four (and its own creation).
    assert_eq!(
        types(&siem),
        [
            "webhook_endpoint.created",
            "webhook_endpoint.created",
            "webhook_endpoint.deleted",
            "webhook_endpoint.disabled",
            "webhook_endpoint.updated"
        ]
    );
    assert!(siem.seen().iter().all(|s| signed_by(s, &siem_secret)));
    // The moved endpoint heard of the move at its old address and of its switch-off at its
    // new one, signed with its secret, although it asked for neither; switched off, it hears
    // nothing more (its deletion included).
    assert_eq!(types(&quiet), ["webhook_endpoint.updated"]);
    assert_eq!(types(&moved_to), ["webhook_endpoint.disabled"]);
    assert!(
        quiet
            .seen()
            .iter()
            .chain(moved_to.seen().iter())
            .all(|s| signed_by(s, &q_secret))
    );
    // No URL query or secret in the events; the other super admin was told each time.
    assert!(siem.seen().iter().all(|s| !s.body.contains("whsec_")));
    let told = app
        .ok(
            Some(&tom.token),
            "{ me { notifications(first: 20) { nodes { kind message } } } }",
            json!({}),
        )
        .await;
    for what in ["added", "changed", "switched off", "removed"] {
        assert!(
            told.to_string()
                .contains(&format!("{what} the webhook endpoint")),
            "{what}: {told}"
        );
    }
}
