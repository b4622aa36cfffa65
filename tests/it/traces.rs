//! Traces as an OpenTelemetry collector receives them: a server process exporting over
//! OTLP/HTTP to a receiver here on 127.0.0.1, whose protobuf is decoded with
//! `opentelemetry-proto`. The chain incoming `traceparent` → HTTP request → GraphQL operation
//! → database statement; the impersonation session's id on the operation; and no token, code,
//! password or bound value anywhere in what was exported.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

use crate::common::process::*;
use crate::common::*;

/// An OTLP/HTTP receiver: every span of every `POST /v1/traces`, decoded. Answers 204.
fn collector() -> (u16, Arc<Mutex<Vec<Span>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let kept = spans.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            let body = read_request(&mut s).map(|(_, body)| body);
            if let Some(body) = body
                && let Ok(req) = ExportTraceServiceRequest::decode(body.as_slice())
            {
                let mut all = kept.lock().unwrap();
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        all.extend(ss.spans);
                    }
                }
            }
            let _ = s.write_all(NO_CONTENT);
        }
    });
    (port, spans)
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Any::StringValue(s) => Some(s.clone()),
            Any::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

/// Every string the spans carry: names and attribute values.
fn texts(spans: &[Span]) -> String {
    let mut out = String::new();
    for s in spans {
        out.push_str(&s.name);
        for a in &s.attributes {
            out.push_str(&format!(" {}={:?}", a.key, a.value));
        }
        out.push('\n');
    }
    out
}

/// The first string under a key named `key`, anywhere in `v`.
fn find_key(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| match (k == key, x) {
            (true, Value::String(s)) => Some(s.clone()),
            _ => find_key(x, key),
        }),
        Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

#[test]
fn spans_chain_from_the_callers_traceparent_to_each_statement_and_keep_no_secret() {
    let (collector_port, spans) = collector();
    let dir = tempfile::tempdir().unwrap();
    let mut command = server_command(dir.path());
    command
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let (mut child, port, lines) = spawn_server(command);
    drain(lines);

    let admin = two_factor_token(port, dir.path(), "admin@demo.test", "demo-admin-1");
    let olivia = owner_id(port, &admin, "olivia@demo.test");
    let d = gql(
        port,
        Some(&admin),
        "mutation($u: ID!) { impersonate(userId: $u, reason: \"traces\") { accessToken } }",
        json!({ "u": olivia }),
    );
    let session = d["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let c = claims(&session);
    let code = find_key(&c, "impersonationCode")
        .or_else(|| find_key(&c, "impersonation_code"))
        .unwrap_or_else(|| panic!("the token carries its session's code: {c}"));

    // A caller that is itself traced: its span is the parent of ours.
    let (trace_id, parent_id) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let traceparent = format!("00-{trace_id}-{parent_id}-01");
    let (status, body) = http_with(
        port,
        "POST",
        "/graphql",
        Some(&session),
        &[("traceparent", &traceparent)],
        Some(json!({ "query": "query Me { me { name impersonation { id } } }" })),
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let session_id = answer["data"]["me"]["impersonation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Methods a client made up never become span names (OpenTelemetry's `_OTHER`).
    let made_up = ["BREW", "XYZZY", "PROPFINDX"];
    for m in made_up {
        let (status, _) = http(port, m, "/graphql", None, None);
        assert!(status >= 400, "{m}: {status}");
    }

    // The exporter sends in batches (every 100 ms here).
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut found = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let all = spans.lock().unwrap().clone();
        let Some(http) = all
            .iter()
            .find(|s| hex(&s.trace_id) == trace_id && hex(&s.parent_span_id) == parent_id)
            .cloned()
        else {
            continue;
        };
        let operation = all
            .iter()
            .find(|s| {
                s.parent_span_id == http.span_id && attr(s, "graphql.operation.type").is_some()
            })
            .cloned();
        let statements = operation.as_ref().map(|o| {
            all.iter()
                .filter(|s| s.parent_span_id == o.span_id && attr(s, "db.system").is_some())
                .cloned()
                .collect::<Vec<_>>()
        });
        let others = all.iter().filter(|s| s.name.starts_with("_OTHER ")).count();
        if let (Some(o), Some(st)) = (operation, statements)
            && !st.is_empty()
            && others >= made_up.len()
        {
            found = Some((http, o, st, all));
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (http, operation, statements, all) = found.unwrap_or_else(|| {
        panic!(
            "no traceparent → request → operation → statement chain in:\n{}",
            texts(&spans.lock().unwrap())
        )
    });
    assert_eq!(http.name, "POST /graphql");
    for m in made_up {
        assert!(
            !all.iter()
                .any(|s| s.name.contains(m) || texts(std::slice::from_ref(s)).contains(m)),
            "{m} became a span's name or attribute"
        );
    }
    assert_eq!(attr(&http, "http.route").as_deref(), Some("/graphql"));
    assert_eq!(
        attr(&http, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(operation.name, "graphql query");
    assert_eq!(
        attr(&operation, "graphql.operation.name").as_deref(),
        Some("Me")
    );
    assert_eq!(
        attr(&operation, "crm.impersonation.session_id").as_deref(),
        Some(session_id.as_str())
    );
    assert!(statements.iter().all(|s| hex(&s.trace_id) == trace_id));
    assert!(
        statements
            .iter()
            .any(|s| attr(s, "db.statement").is_some_and(|q| q.contains("impersonations"))),
        "the session's re-check is one of the statements: {}",
        texts(&statements)
    );
    // Nothing secret anywhere: tokens, the session's code, the password, a bound value
    // (the e-mail the sign-in looked up).
    let everything = texts(&all);
    for secret in [
        admin.as_str(),
        session.as_str(),
        code.as_str(),
        "demo-admin-1",
        "admin@demo.test",
    ] {
        assert!(!everything.contains(secret), "a span carries {secret:?}");
    }
}
