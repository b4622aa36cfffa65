//! A real GraphQL-over-WebSocket client (tokio-tungstenite, `graphql-transport-ws`) against
//! the app served on a loopback port.
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::TestApp;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the app on a free loopback port; returns the WebSocket URL.
pub async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("ws://{addr}/graphql/ws")
}

pub async fn connect(url: &str) -> Socket {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

pub async fn send(s: &mut Socket, v: Value) {
    s.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next message, within `secs` seconds: a JSON message, or the close code.
pub async fn next(s: &mut Socket, secs: u64) -> Result<Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(secs), s.next())
            .await
            .expect("a message in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(0, |f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(0),
        }
    }
}

/// The next text message as sent, within `secs` seconds (to read its keys' order).
pub async fn next_text(s: &mut Socket, secs: u64) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(secs), s.next())
            .await
            .expect("a message in time");
        match msg {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => panic!("the socket closed"),
            Some(Ok(_)) => continue,
        }
    }
}

/// The next `next` message's data for subscription `id`, within `secs` seconds.
pub async fn data(s: &mut Socket, id: &str, secs: u64) -> Value {
    let m = next(s, secs).await.expect("a message, not a close");
    assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!(id)), "{m}");
    m["payload"]["data"].clone()
}

/// Connects and sends `connection_init` with the token; returns the socket after the ack.
pub async fn init(url: &str, token: Option<&str>) -> Socket {
    let mut s = connect(url).await;
    send_init(&mut s, token).await;
    let ack = next(&mut s, 5).await.expect("an ack");
    assert_eq!(ack["type"], "connection_ack");
    s
}

pub async fn send_init(s: &mut Socket, token: Option<&str>) {
    let payload = match token {
        Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    send(s, json!({ "type": "connection_init", "payload": payload })).await;
}

pub async fn subscribe(s: &mut Socket, id: &str, query: &str) {
    send(
        s,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
}

/// Waits (up to 5 s) until `app` has `n` live subscribers: `graphql-transport-ws` does not
/// acknowledge a subscription, so a test that acts right after subscribing waits for this.
pub async fn subscribed(app: &TestApp, n: usize) {
    for _ in 0..100 {
        if app.state.events.subscribers() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{} live subscribers, not {n}",
        app.state.events.subscribers()
    );
}
