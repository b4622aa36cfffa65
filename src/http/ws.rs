//! `GET /graphql/ws`: GraphQL over WebSocket (`graphql-transport-ws`), async-graphql's own
//! protocol machine driven by a loop of ours that also re-checks the connection's token, as
//! HTTP would, every `RECHECK`: when it would be refused (revoked, password changed, session
//! ended, role or 2FA lost), the subscriptions get a moment to send their last event
//! (`currentImpersonation`'s ENDED), then the socket closes with 4401.
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
use crate::graphql::loaders::{MembersLoader, TeamLoader, UserLoader};
use crate::services::authentication::authenticate;

/// The sub-protocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How often a live connection's token is checked again.
const RECHECK: Duration = Duration::from_secs(2);
/// How long subscriptions may still send after the token is found dead.
const LAST_WORDS: Duration = Duration::from_millis(1500);
/// A connection that sends nothing (no ping) for this long is closed.
const IDLE: Duration = Duration::from_secs(60);
/// Close code: the token is not (or no longer) accepted.
pub const CLOSE_UNAUTHENTICATED: u16 = 4401;

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
    token: Option<String>,
    refused: bool,
    may_introspect: bool,
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
    let (mut sink, incoming) = socket.split();
    let input = incoming
        .take_while(|m| futures_util::future::ready(m.is_ok()))
        .filter_map(|m| {
            futures_util::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        });
    let established = Arc::new(Mutex::new(Established::default()));
    let on_init = {
        let (app, established, meta) = (s.app.clone(), established.clone(), meta.clone());
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
            match caller {
                Ok(c) => {
                    e.token = token;
                    e.may_introspect = c.as_ref().is_some_and(|c| c.may_introspect());
                    Ok(connection_data(&app, c, meta))
                }
                Err(err) => {
                    e.refused = true;
                    Err(async_graphql::Error::new(err.to_string()))
                }
            }
        }
    };
    let gate = Gate {
        schema: s.schema.clone(),
        established: established.clone(),
        development: s.app.config.environment == crate::config::Environment::Development,
    };
    let mut machine = ProtocolMachine::new(gate, input, WebSocketProtocols::GraphQLWS)
        .on_connection_init(on_init)
        .keepalive_timeout(IDLE);
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    let mut closing: Option<tokio::time::Instant> = None;
    let mut refusals = Refusals::default();
    loop {
        let deadline = closing.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            msg = machine.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    let Some(text) = refusals.rewrite(text) else { continue };
                    if sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let refused = established.lock().map(|e| e.refused).unwrap_or(true);
                    let code = if refused { CLOSE_UNAUTHENTICATED } else { code };
                    close(&mut sink, code, &reason).await;
                    return;
                }
                None => return,
            },
            _ = recheck.tick(), if closing.is_none() => {
                let token = established.lock().ok().and_then(|e| e.token.clone());
                if let Some(t) = token
                    && let Err(AppError::Unauthenticated(_)) = authenticate(&s.app, &t).await
                {
                    closing = Some(tokio::time::Instant::now() + LAST_WORDS);
                }
            },
            _ = tokio::time::sleep_until(deadline), if closing.is_some() => {
                close(&mut sink, CLOSE_UNAUTHENTICATED, "the session has ended").await;
                return;
            }
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
    data.insert(Arc::new(DataLoader::new(
        UserLoader(db.clone()),
        tokio::spawn,
    )));
    data.insert(Arc::new(DataLoader::new(
        TeamLoader(db.clone()),
        tokio::spawn,
    )));
    data.insert(Arc::new(DataLoader::new(
        MembersLoader(db.clone()),
        tokio::spawn,
    )));
    data.insert(Arc::new(crate::graphql::types::SwitchOnce::default()));
    data
}
