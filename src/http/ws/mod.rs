//! `GET /graphql/ws`: GraphQL over WebSocket (`graphql-transport-ws`), async-graphql's own
//! protocol machine driven by a loop of ours that reads the socket and:
//!
//! - sends every operation (`subscribe`) through the operation gate (`graphql::gate`), which
//!   authenticates the socket's token afresh, records impersonated operations in the ledger and
//!   counts them as the session's activity, as for each HTTP operation;
//! - passes only `graphql-transport-ws`'s messages (anything else closes with 4400, a running
//!   id subscribed again with 4409) and none over `BODY_LIMIT_BYTES` (1009); starts no new
//!   operation once the token is found dead;
//! - caps sockets per client address while they are nobody's (not initialised, or anonymous;
//!   `WS_MAX_CONNECTIONS_PER_IP`, 429) and on the server (`WS_MAX_CONNECTIONS`, 503);
//! - re-checks the connection's token, as HTTP would, every `RECHECK`: when it would be
//!   refused (revoked, password changed, session ended) the subscriptions get a moment to send
//!   their last event (`currentImpersonation`'s ENDED), then the socket closes with 4401; when
//!   the rights it was opened with changed (role, 2FA), with 4403;
//! - caps the connections of one person on this server (`WS_MAX_CONNECTIONS_PER_USER`, 4429)
//!   and the operations running on one connection (`WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`, an
//!   `error` message with `RATE_LIMITED`);
//! - pings every `WS_PING_SECONDS` and closes (1001) a socket that sent nothing, not even a
//!   pong, for a whole interval; closes (4408) one that does not initialise in time;
//! - drops a client that reads too slowly (1013, or the socket dropped when a send stalls)
//!   instead of buffering for it.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket as ProtocolMachine, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, extract::ws::Utf8Bytes};
use futures_util::{SinkExt, StreamExt};

use super::HttpState;
use crate::auth::context::RequestMeta;
use crate::error::AppError;
use crate::events::SlowConsumer;
use crate::graphql::gate::Presented;

mod bounds;
use crate::services::accounts::bearer::authenticate;
pub use bounds::{CLOSE_DUPLICATE, CLOSE_INVALID, Connections};
use bounds::{Refuse, Running, Slot};

/// The sub-protocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How often a live connection's token is checked again.
const RECHECK: Duration = Duration::from_secs(2);
/// How long subscriptions may still send after the token is found dead.
const LAST_WORDS: Duration = Duration::from_millis(1500);
/// A message the client does not take within this long drops the connection.
const SEND_WITHIN: Duration = Duration::from_secs(10);
/// Close code: the token is not (or no longer) accepted.
pub const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// Close code: the token stands, but the rights it was opened with changed (role, 2FA).
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// Close code: `connection_init` did not come in time (as `graphql-ws` has it).
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// Close code: this person already holds `WS_MAX_CONNECTIONS_PER_USER` connections here.
pub const CLOSE_TOO_MANY: u16 = 4429;
/// Close code: the client fell too far behind (events were dropped); connect again.
pub const CLOSE_TRY_AGAIN: u16 = 1013;
/// Close code: the client sent more than `INPUT_QUEUE` messages faster than they could be read.
pub const CLOSE_POLICY: u16 = 1008;
/// Client messages waiting for the protocol machine (it waits while `connection_init` is
/// checked).
const INPUT_QUEUE: usize = 64;
/// Close code: a message over `BODY_LIMIT_BYTES`.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: the client answered no ping for a whole `WS_PING_SECONDS`.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Whether a socket may be opened from the request's `Origin`: none (not a browser), the
/// server's own (the `Host` the request came to, or `WEBAUTHN_ORIGIN`, the console's), or one
/// of `ALLOWED_ORIGINS`.
fn origin_allowed(config: &crate::config::Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if config.allowed_origins.iter().any(|o| o == origin) {
        return true;
    }
    if origin == config.relying_party.origin.as_str().trim_end_matches('/') {
        return true;
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let Ok(parsed) = url::Url::parse(origin) else {
        return false;
    };
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let authority = format!("{}{port}", parsed.host_str().unwrap_or(""));
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

pub async fn upgrade(
    State(s): State<HttpState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Cross-site WebSocket hijacking: a page elsewhere may open a socket with the visitor's
    // cookies or a token it found; a browser always says where the page is from.
    if !origin_allowed(&s.app.config, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "this origin may not open a socket here",
        )
            .into_response();
    }
    let meta = RequestMeta {
        ip: super::client_ip(&s.app.config, &headers, connect),
    };
    let limits = &s.app.config.ws;
    // Every socket counts toward the server's cap, and until it is someone's (initialised
    // with a token), toward its address's.
    let Some(any) = s.connections.take_any(limits.connections) else {
        let busy = "too many live connections on this server; try again later";
        return (StatusCode::SERVICE_UNAVAILABLE, busy).into_response();
    };
    let address = meta.ip.clone().unwrap_or_default();
    let Some(unclaimed) = s
        .connections
        .take_address(&address, limits.connections_per_ip)
    else {
        let many = "too many live connections from this address";
        return (StatusCode::TOO_MANY_REQUESTS, many).into_response();
    };
    let limit = s.app.config.body_limit_bytes;
    ws.protocols([PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| {
            let established = Established {
                slots: vec![any],
                unclaimed: Some(unclaimed),
                ..Default::default()
            };
            serve(socket, s, meta, established)
        })
}

/// What `connection_init` established: the token, for each operation and the re-check.
#[derive(Default)]
struct Established {
    initialized: bool,
    token: Option<String>,
    /// The close code when `connection_init` was refused.
    refused: Option<u16>,
    standing: Option<Standing>,
    /// This connection's places under the server's and the person's caps.
    slots: Vec<Slot>,
    /// Its place under its address's cap, while nobody's (given back on a signed-in init).
    unclaimed: Option<Slot>,
}

/// The socket's operations, each through the operation gate under the socket's token.
#[derive(Clone)]
struct SocketOperations {
    gate: crate::graphql::gate::Gate,
    established: Arc<Mutex<Established>>,
    meta: RequestMeta,
}

impl SocketOperations {
    fn presented(&self) -> Presented {
        let token = self.established.lock().ok().and_then(|e| e.token.clone());
        Presented {
            token,
            meta: self.meta.clone(),
        }
    }
}

impl async_graphql::Executor for SocketOperations {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.gate.execute(&self.presented(), request).await.response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        self.gate
            .execute_stream(self.presented(), request, session_data)
    }
}

/// The bearer token of `connection_init`'s payload. The `Authorization` key is read in any
/// case; a value that is not a string, or not `Bearer <token>`, is refused (4401), never taken
/// as anonymous.
fn init_token(payload: &serde_json::Value) -> Result<Option<String>, AppError> {
    let malformed = || AppError::Unauthenticated("malformed Authorization");
    let Some(map) = payload.as_object() else {
        return match payload.is_null() {
            true => Ok(None),
            false => Err(malformed()),
        };
    };
    let mut values = map
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v);
    let (Some(value), None) = (values.next(), values.next()) else {
        return match map.keys().any(|k| k.eq_ignore_ascii_case("authorization")) {
            true => Err(malformed()),
            false => Ok(None),
        };
    };
    let header = value.as_str().ok_or_else(malformed)?;
    match header.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            Ok(Some(t.trim().to_string()))
        }
        _ => Err(malformed()),
    }
}

/// `connection_init`: authenticates the token as HTTP would (not counted as an operation), and
/// moves the socket from its address's cap to its person's.
async fn initialise(
    app: &crate::state::AppState,
    connections: &Arc<Connections>,
    established: &Mutex<Established>,
    payload: serde_json::Value,
) -> Result<(), async_graphql::Error> {
    let caller = match init_token(&payload) {
        Err(e) => Err(e),
        Ok(None) => Ok(None),
        Ok(Some(t)) => authenticate(app, &t).await.map(|c| Some((c, t))),
    };
    let mut e = established.lock().unwrap_or_else(|p| p.into_inner());
    e.initialized = true;
    let caller = match caller {
        Ok(c) => c,
        Err(err) => {
            e.refused = Some(CLOSE_UNAUTHENTICATED);
            return Err(async_graphql::Error::new(err.to_string()));
        }
    };
    if let Some((c, token)) = caller {
        let person = c.true_user().id.clone();
        match connections.take_person(&person, app.config.ws.connections_per_user) {
            Some(slot) => e.slots.push(slot),
            None => {
                e.refused = Some(CLOSE_TOO_MANY);
                return Err(async_graphql::Error::new("too many connections"));
            }
        }
        e.standing = Some(Standing::of(&c));
        e.token = Some(token);
        e.unclaimed = None;
    }
    Ok(())
}

/// Whether reading a frame failed because it was over `BODY_LIMIT_BYTES` (tungstenite's
/// capacity error, which axum passes on boxed).
fn too_big(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// What a turn of the loop decided.
enum Turn {
    Go,
    Stop,
}

async fn serve(socket: WebSocket, s: HttpState, meta: RequestMeta, established: Established) {
    let limits = s.app.config.ws.clone();
    let (mut sink, mut incoming) = socket.split();
    // The protocol machine reads what the loop below lets through.
    let (to_machine, input) = tokio::sync::mpsc::channel::<Vec<u8>>(INPUT_QUEUE);
    let input = Box::pin(futures_util::stream::unfold(input, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    let established = Arc::new(Mutex::new(established));
    let slow = SlowConsumer::default();
    let on_init = {
        let (app, established) = (s.app.clone(), established.clone());
        let (connections, slow) = (s.connections.clone(), slow.clone());
        move |payload: serde_json::Value| async move {
            initialise(&app, &connections, &established, payload).await?;
            let mut data = Data::default();
            data.insert(slow);
            Ok(data)
        }
    };
    let operations = SocketOperations {
        gate: s.gate.clone(),
        established: established.clone(),
        meta,
    };
    let mut machine = ProtocolMachine::new(operations, input, WebSocketProtocols::GraphQLWS)
        .on_connection_init(on_init);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    let mut ping = tokio::time::interval(limits.ping);
    ping.reset();
    let mut heard = true;
    let init_by = tokio::time::Instant::now() + limits.init_within;
    let mut closing: Option<(tokio::time::Instant, u16)> = None;
    let mut refusals = Refusals::default();
    let mut running = Running::new(limits.subscriptions_per_connection);
    loop {
        let deadline = closing.map_or_else(tokio::time::Instant::now, |c| c.0);
        let initialized = established.lock().map(|e| e.initialized).unwrap_or(true);
        let turn = tokio::select! {
            frame = incoming.next() => {
                heard = true;
                let bytes = match frame {
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Err(e)) if too_big(&e) => {
                        close(&mut sink, CLOSE_TOO_BIG, "message over BODY_LIMIT_BYTES").await;
                        return;
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                take_frame(&mut sink, &to_machine, &mut running, closing.is_some(), bytes).await
            },
            msg = machine.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    running.finished(&text);
                    match refusals.rewrite(text) {
                        Some(text) => sent(send(&mut sink, Message::Text(Utf8Bytes::from(text))).await),
                        None => Turn::Go,
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let refused = established.lock().map(|e| e.refused).unwrap_or(None);
                    close(&mut sink, refused.unwrap_or(code), &reason).await;
                    Turn::Stop
                }
                None => Turn::Stop,
            },
            _ = slow.0.notified() => {
                close(&mut sink, CLOSE_TRY_AGAIN, "too slow: events were dropped").await;
                Turn::Stop
            },
            _ = ping.tick() => {
                if !heard {
                    close(&mut sink, CLOSE_GOING_AWAY, "no answer to ping").await;
                    Turn::Stop
                } else {
                    heard = false;
                    sent(send(&mut sink, Message::Ping(Default::default())).await)
                }
            },
            _ = tokio::time::sleep_until(init_by), if !initialized => {
                close(&mut sink, CLOSE_INIT_TIMEOUT, "connection initialisation timeout").await;
                Turn::Stop
            },
            _ = recheck.tick(), if closing.is_none() => {
                if let Some(code) = recheck_token(&s.app, &established).await {
                    closing = Some((tokio::time::Instant::now() + LAST_WORDS, code));
                }
                Turn::Go
            },
            _ = tokio::time::sleep_until(deadline), if closing.is_some() => {
                let code = closing.map_or(CLOSE_UNAUTHENTICATED, |c| c.1);
                finish(&mut sink, &mut running, code).await;
                Turn::Stop
            }
        };
        if let Turn::Stop = turn {
            return;
        }
    }
}

fn sent(ok: bool) -> Turn {
    match ok {
        true => Turn::Go,
        false => Turn::Stop,
    }
}

/// A client message: to the protocol machine, answered, or the socket closed. While the
/// socket is closing (its token found dead), no new operation starts.
async fn take_frame(
    sink: &mut Sink,
    to_machine: &tokio::sync::mpsc::Sender<Vec<u8>>,
    running: &mut Running,
    closing: bool,
    bytes: Vec<u8>,
) -> Turn {
    if closing && is_subscribe(&bytes) {
        return Turn::Go;
    }
    match running.admit(&bytes) {
        // The machine reads its input whenever it is polled (each turn of the loop); a full
        // queue means a client sending faster than any use.
        Ok(()) => match to_machine.try_send(bytes) {
            Ok(()) => Turn::Go,
            Err(_) => {
                close(sink, CLOSE_POLICY, "too many messages").await;
                Turn::Stop
            }
        },
        Err(Refuse::Answer(text)) => sent(send(sink, Message::Text(Utf8Bytes::from(text))).await),
        Err(Refuse::Close(code, reason)) => {
            close(sink, code, &reason).await;
            Turn::Stop
        }
    }
}

fn is_subscribe(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|m| m["type"] == "subscribe")
}

/// Checks the socket's token again, as HTTP would (not counted as the session's activity):
/// the close code when it would now be refused (4401) or its rights changed (4403).
async fn recheck_token(
    app: &crate::state::AppState,
    established: &Mutex<Established>,
) -> Option<u16> {
    let (token, standing) = match established.lock() {
        Ok(e) => (e.token.clone(), e.standing),
        Err(_) => (None, None),
    };
    let token = token?;
    match authenticate(app, &token).await {
        Err(AppError::Unauthenticated(_)) => Some(CLOSE_UNAUTHENTICATED),
        Ok(c) if Some(Standing::of(&c)) != standing => Some(CLOSE_FORBIDDEN),
        _ => None,
    }
}

/// Completes each operation still running, then closes the socket with `code`.
async fn finish(sink: &mut Sink, running: &mut Running, code: u16) {
    let reason = match code {
        CLOSE_FORBIDDEN => "the account's role or two-factor standing changed",
        _ => "the session has ended",
    };
    for id in running.ids.drain() {
        let complete = serde_json::json!({ "id": id, "type": "complete" });
        if !send(sink, Message::Text(Utf8Bytes::from(complete.to_string()))).await {
            return;
        }
    }
    close(sink, code, reason).await;
}

/// Sends within `SEND_WITHIN`; false when the peer is gone or reads too slowly (the socket is
/// then dropped, not buffered).
async fn send(sink: &mut Sink, msg: Message) -> bool {
    match tokio::time::timeout(SEND_WITHIN, sink.send(msg)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!("a WebSocket client reads too slowly; dropping it");
            false
        }
    }
}

/// What the caller's rights on the socket rest on: when a re-check finds them changed (role,
/// 2FA), the socket closes with 4403 and the client connects again under its new rights.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Standing {
    role: crate::auth::Role,
    admin_with_two_factor: bool,
    impersonating: bool,
}

impl Standing {
    fn of(c: &crate::auth::AuthContext) -> Standing {
        Standing {
            role: c.role,
            admin_with_two_factor: c.is_admin_with_two_factor(),
            impersonating: c.is_impersonating(),
        }
    }
}

/// An operation refused before it produced anything (the caller may not, or it does not
/// validate) is an `error` message, as `graphql-transport-ws` has it, not a `next` with
/// errors followed by `complete`.
#[derive(Default)]
struct Refusals {
    answered: std::collections::HashSet<String>,
    refused: std::collections::HashSet<String>,
}

impl Refusals {
    /// The message to send instead of `text`, or none.
    fn rewrite(&mut self, text: String) -> Option<String> {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else {
            return Some(text);
        };
        let id = msg["id"].as_str().unwrap_or_default().to_string();
        match msg["type"].as_str() {
            Some("next") if !self.answered.contains(&id) => {
                let payload = &msg["payload"];
                if payload["data"].is_null() && payload["errors"].is_array() {
                    self.refused.insert(id.clone());
                    let error = serde_json::json!({
                        "id": id, "type": "error", "payload": payload["errors"],
                    });
                    return Some(error.to_string());
                }
                self.answered.insert(id);
                Some(text)
            }
            Some("complete") => {
                self.answered.remove(&id);
                match self.refused.remove(&id) {
                    true => None,
                    false => Some(text),
                }
            }
            _ => Some(text),
        }
    }
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}
