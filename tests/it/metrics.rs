//! `/metrics` as Prometheus scrapes it: on its own listener (METRICS_ADDR), never the public
//! one, in the text format (parsed here by a Prometheus text-format parser), with counters
//! that move when operations and sessions happen, and no label a client chose.

use crate::common::process::*;
use crate::common::*;
use serde_json::json;

/// The scrape, parsed: each sample as (name, labels, value).
fn scrape(port: u16) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let (status, text) = http(port, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{text}");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    parsed
        .samples
        .into_iter()
        .map(|s| {
            let v = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(h) => {
                    h.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            };
            let labels = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (s.metric, labels, v)
        })
        .collect()
}

fn value(
    samples: &[(String, std::collections::BTreeMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// A webhook receiver on 127.0.0.1 that answers every request 204; its URL.
fn receiver() -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(5) {
            let Ok(mut s) = stream else { continue };
            read_request(&mut s);
            let _ = s.write_all(NO_CONTENT);
        }
    });
    url
}

#[test]
fn metrics_are_scraped_from_their_own_listener_and_move_with_operations_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = server_command(dir.path());
    // The webhook receiver below is on 127.0.0.1.
    command.env("WEBHOOK_ALLOW_PRIVATE", "true");
    let (mut child, port, mut lines) = spawn_server(command);
    let metrics_port: u16 = loop {
        let line = lines.next().expect("server output").expect("utf-8");
        if let Some(rest) = line.strip_prefix("Metrics on http://127.0.0.1:") {
            break rest.trim_end_matches("/metrics").parse().expect("a port");
        }
    };
    drain(lines);
    assert_ne!(port, metrics_port);
    // The public listener does not serve them.
    let (status, body) = http(port, "GET", "/metrics", None, None);
    assert_ne!(status, 200, "{body}");

    let before = scrape(metrics_port);
    for family in [
        "impersonation_sessions_active",
        "outbox_pending",
        "db_pool_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(
            before.iter().any(|(n, _, _)| n == family),
            "{family} is scraped"
        );
    }

    // Operations: a sign-in, a query, a document that does not parse, a path nobody routes.
    let d = gql(
        port,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        json!({ "e": "olivia@demo.test", "p": "demo-owner-1" }),
    );
    let olivia = d["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    gql(port, Some(&olivia), "{ me { id } }", json!({}));
    gql(port, Some(&olivia), "{ me { id ", json!({}));
    http(port, "GET", "/secret-token-in-a-path", None, None);
    // A session: the admin's TOTP from `demo-totp`, then impersonate and cancel.
    let admin = two_factor_token(port, dir.path(), "admin@demo.test", "demo-admin-1");
    let olivia_id = owner_id(port, &admin, "olivia@demo.test");
    // A super admin's webhook endpoint for sessions starting, on a receiver that answers 204.
    let hook = receiver();
    let sam = two_factor_token(port, dir.path(), "super@demo.test", "demo-super-1");
    let d = gql(
        port,
        Some(&sam),
        "mutation($u: String!) { createWebhookEndpoint(url: $u, events: [\"impersonation.started\"]) { secret } }",
        json!({ "u": hook }),
    );
    assert!(
        d["data"]["createWebhookEndpoint"]["secret"].is_string(),
        "{d}"
    );
    let d = gql(
        port,
        Some(&admin),
        "mutation($u: ID!) { impersonate(userId: $u, reason: \"metrics\", mode: READ_ONLY) { accessToken } }",
        json!({ "u": olivia_id }),
    );
    let session = d["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let during = scrape(metrics_port);
    assert_eq!(value(&during, "impersonation_sessions_active", &[]), 1.0);
    gql(
        port,
        Some(&session),
        "mutation { cancelImpersonation { accessToken } }",
        json!({}),
    );

    // The server's sender delivers the webhook within a few passes (one a second).
    let mut after = scrape(metrics_port);
    for _ in 0..50 {
        let delivered = [("outcome", "delivered")];
        if value(&after, "webhook_deliveries_total", &delivered) >= 1.0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        after = scrape(metrics_port);
    }
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(
        moved(
            "graphql_operations_total",
            &[("type", "mutation"), ("outcome", "OK")]
        ) >= 5.0
    );
    assert!(
        moved(
            "graphql_operations_total",
            &[("type", "query"), ("outcome", "OK")]
        ) >= 2.0
    );
    assert!(
        moved(
            "graphql_operations_total",
            &[("outcome", "GRAPHQL_PARSE_FAILED")]
        ) >= 1.0
    );
    assert!(
        moved(
            "graphql_operation_duration_seconds_count",
            &[("type", "query")]
        ) >= 2.0
            || moved("graphql_operation_duration_seconds", &[("type", "query")]) >= 2.0
    );
    assert!(
        moved(
            "http_requests_total",
            &[("route", "/graphql"), ("status", "200")]
        ) >= 7.0
    );
    assert!(moved("http_requests_total", &[("route", "unmatched")]) >= 1.0);
    assert_eq!(
        moved(
            "impersonation_sessions_started_total",
            &[("mode", "READ_ONLY")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "impersonation_sessions_ended_total",
            &[("reason", "CANCELLED")]
        ),
        1.0
    );
    assert_eq!(value(&after, "impersonation_sessions_active", &[]), 0.0);
    assert_eq!(
        value(
            &after,
            "webhook_deliveries_total",
            &[("outcome", "delivered")]
        ),
        1.0,
        "the session's webhook was delivered"
    );
    // No label holds what a client chose.
    let (_, text) = http(metrics_port, "GET", "/metrics", None, None);
    assert!(!text.contains("secret-token-in-a-path"));
    assert!(!text.contains(&olivia) && !text.contains("metrics\""));
    let _ = child.kill();
    let _ = child.wait();
}
