//! `GET /graphql/ws`: GraphQL over WebSocket (`graphql-transport-ws`), async-graphql's own
//! protocol machine driven by a loop of ours that reads the socket and:
//!
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
use async_graphql::dataloader::DataLoader;
use async_graphql::http::{WebSocket as ProtocolMachine, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, extract::ws::Utf8Bytes};
use futures_util::{SinkExt, StreamExt};

use super::HttpState;
use crate::auth::context::{Caller, RequestMeta};
use crate::error::AppError;
use crate::events::SlowConsumer;

mod bounds;
use crate::graphql::loaders::{MembersLoader, TeamLoader, UserLoader};
use crate::services::authentication::authenticate;
pub use bounds::Connections;
use bounds::{Running, Slot};

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
/// Close code: the client answered no ping for a whole `WS_PING_SECONDS`.
pub const CLOSE_GOING_AWAY: u16 = 1001;

pub async fn upgrade(
    State(s): State<HttpState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let meta = RequestMeta {
        ip: super::client_ip(&s.app.config, &headers, connect),
    };
    ws.protocols([PROTOCOL])
        .on_upgrade(move |socket| serve(socket, s, meta))
}

/// What `connection_init` established: the token, for the re-check, and whether the caller
/// may introspect (in production only 2FA admins may, as over HTTP).
#[derive(Default)]
struct Established {
    initialized: bool,
    token: Option<String>,
    /// The close code when `connection_init` was refused.
    refused: Option<u16>,
    may_introspect: bool,
    standing: Option<Standing>,
    /// This connection's place under the per-person cap.
    slot: Option<Slot>,
}

/// The schema, with the introspection rule HTTP applies per request applied per operation.
#[derive(Clone)]
struct Gate {
    schema: crate::graphql::AppSchema,
    established: Arc<Mutex<Established>>,
    development: bool,
}

impl Gate {
    fn admit(&self, request: async_graphql::Request) -> async_graphql::Request {
        let may = self.development
            || self
                .established
                .lock()
                .map(|e| e.may_introspect)
                .unwrap_or(false);
        match may {
            true => request,
            false => request.disable_introspection(),
        }
    }
}

impl async_graphql::Executor for Gate {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.schema.execute(self.admit(request)).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        let request = self.admit(request);
        async_graphql::Executor::execute_stream(&self.schema, request, session_data)
    }
}

async fn serve(socket: WebSocket, s: HttpState, meta: RequestMeta) {
    let limits = s.app.config.ws.clone();
    let (mut sink, mut incoming) = socket.split();
    // The protocol machine reads what the loop below lets through.
    let (to_machine, input) = tokio::sync::mpsc::channel::<Vec<u8>>(INPUT_QUEUE);
    let input = Box::pin(futures_util::stream::unfold(input, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    let established = Arc::new(Mutex::new(Established::default()));
    let slow = SlowConsumer::default();
    let on_init = {
        let (app, established, meta) = (s.app.clone(), established.clone(), meta.clone());
        let (connections, slow) = (s.connections.clone(), slow.clone());
        move |payload: serde_json::Value| async move {
            let header = payload.get("Authorization").and_then(|v| v.as_str());
            let token = match header {
                None => None,
                Some(h) => match h.split_once(' ') {
                    Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => {
                        Some(t.trim().to_string())
                    }
                    _ => None,
                },
            };
            let caller = match (&token, header) {
                (None, Some(_)) => Err(AppError::Unauthenticated("malformed Authorization")),
                (None, None) => Ok(None),
                (Some(t), _) => authenticate(&app, t).await.map(Some),
            };
            let mut e = established.lock().unwrap_or_else(|p| p.into_inner());
            e.initialized = true;
            let c = match caller {
                Ok(c) => c,
                Err(err) => {
                    e.refused = Some(CLOSE_UNAUTHENTICATED);
                    return Err(async_graphql::Error::new(err.to_string()));
                }
            };
            if let Some(c) = &c {
                let person = c.true_user().id.clone();
                match connections.take(&person, app.config.ws.connections_per_user) {
                    Some(slot) => e.slot = Some(slot),
                    None => {
                        e.refused = Some(CLOSE_TOO_MANY);
                        return Err(async_graphql::Error::new("too many connections"));
                    }
                }
                e.standing = Some(Standing::of(c));
            }
            e.token = token;
            e.may_introspect = c.as_ref().is_some_and(|c| c.may_introspect());
            let mut data = connection_data(&app, c, meta);
            data.insert(slow);
            Ok(data)
        }
    };
    let gate = Gate {
        schema: s.schema.clone(),
        established: established.clone(),
        development: s.app.config.environment == crate::config::Environment::Development,
    };
    let mut machine = ProtocolMachine::new(gate, input, WebSocketProtocols::GraphQLWS)
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
        tokio::select! {
            frame = incoming.next() => {
                heard = true;
                let bytes = match frame {
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                match running.admit(&bytes) {
                    // The machine reads its input whenever it is polled (each turn of this
                    // loop); a full queue means a client sending faster than any use.
                    Ok(()) => {
                        if to_machine.try_send(bytes).is_err() {
                            close(&mut sink, CLOSE_POLICY, "too many messages").await;
                            return;
                        }
                    }
                    Err(refusal) => {
                        if !send(&mut sink, Message::Text(Utf8Bytes::from(refusal))).await {
                            return;
                        }
                    }
                }
            },
            msg = machine.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    running.finished(&text);
                    let Some(text) = refusals.rewrite(text) else { continue };
                    if !send(&mut sink, Message::Text(Utf8Bytes::from(text))).await {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let refused = established.lock().map(|e| e.refused).unwrap_or(None);
                    close(&mut sink, refused.unwrap_or(code), &reason).await;
                    return;
                }
                None => return,
            },
            _ = slow.0.notified() => {
                close(&mut sink, CLOSE_TRY_AGAIN, "too slow: events were dropped").await;
                return;
            },
            _ = ping.tick() => {
                if !heard {
                    close(&mut sink, CLOSE_GOING_AWAY, "no answer to ping").await;
                    return;
                }
                heard = false;
                if !send(&mut sink, Message::Ping(Default::default())).await {
                    return;
                }
            },
            _ = tokio::time::sleep_until(init_by), if !initialized => {
                close(&mut sink, CLOSE_INIT_TIMEOUT, "connection initialisation timeout").await;
                return;
            },
            _ = recheck.tick(), if closing.is_none() => {
                let (token, standing) = match established.lock() {
                    Ok(e) => (e.token.clone(), e.standing),
                    Err(_) => (None, None),
                };
                if let Some(t) = token {
                    let code = match authenticate(&s.app, &t).await {
                        Err(AppError::Unauthenticated(_)) => Some(CLOSE_UNAUTHENTICATED),
                        Ok(c) if Some(Standing::of(&c)) != standing => Some(CLOSE_FORBIDDEN),
                        _ => None,
                    };
                    if let Some(code) = code {
                        closing = Some((tokio::time::Instant::now() + LAST_WORDS, code));
                    }
                }
            },
            _ = tokio::time::sleep_until(deadline), if closing.is_some() => {
                let code = closing.map_or(CLOSE_UNAUTHENTICATED, |c| c.1);
                let reason = match code {
                    CLOSE_FORBIDDEN => "the account's role or two-factor standing changed",
                    _ => "the session has ended",
                };
                // Each subscription still running is completed, then the socket closes.
                for id in running.ids.drain() {
                    let complete = serde_json::json!({ "id": id, "type": "complete" });
                    if !send(&mut sink, Message::Text(Utf8Bytes::from(complete.to_string()))).await {
                        return;
                    }
                }
                close(&mut sink, code, reason).await;
                return;
            }
        }
    }
}

/// Sends within `SEND_WITHIN`; false when the peer is gone or reads too slowly (the socket is
/// then dropped, not buffered).
async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: Message,
) -> bool {
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

async fn close(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &str,
) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// What every operation on the connection sees: the caller (as of `connection_init`; the
/// loop above re-checks the token), the client's address and the loaders.
fn connection_data(
    app: &crate::AppState,
    caller: Option<crate::auth::AuthContext>,
    meta: RequestMeta,
) -> Data {
    let db = &app.db;
    let mut data = Data::default();
    data.insert(Caller(caller));
    data.insert(meta);
    data.insert(Arc::new(
        DataLoader::new(UserLoader(db.clone()), tokio::spawn)
            .delay(crate::graphql::loaders::LOADER_DELAY),
    ));
    data.insert(Arc::new(
        DataLoader::new(TeamLoader(db.clone()), tokio::spawn)
            .delay(crate::graphql::loaders::LOADER_DELAY),
    ));
    data.insert(Arc::new(
        DataLoader::new(MembersLoader(db.clone()), tokio::spawn)
            .delay(crate::graphql::loaders::LOADER_DELAY),
    ));
    data.insert(Arc::new(crate::graphql::types::SwitchOnce::default()));
    data
}
