//! Talking to a server process (`server_command`, `spawn_server`) over a real socket.
use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

/// One HTTP/1.0 request to a server on 127.0.0.1: the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    http_with(port, method, path, token, &[], body)
}

/// `http`, with more headers.
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    for (name, value) in headers {
        auth.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A GraphQL request over `http`; the answer.
pub fn gql(port: u16, token: Option<&str>, query: &str, variables: Value) -> Value {
    let (_, body) = http(
        port,
        "POST",
        "/graphql",
        token,
        Some(json!({ "query": query, "variables": variables })),
    );
    serde_json::from_str(&body).unwrap()
}

/// A demo admin's token with 2FA passed: the password, then the code `demo-totp` prints.
pub fn two_factor_token(port: u16, dir: &std::path::Path, email: &str, password: &str) -> String {
    let d = gql(
        port,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        json!({ "e": email, "p": password }),
    );
    let pre = d["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let code = std::process::Command::new(env!("CARGO_BIN_EXE_crm-impersonation"))
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("APP_ENV")
        .env("DATA_ENCRYPTION_KEY", super::TEST_DATA_KEY)
        .args(["demo-totp", email])
        .output()
        .unwrap();
    let code = String::from_utf8(code.stdout).unwrap().trim().to_string();
    let d = gql(
        port,
        Some(&pre),
        "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }",
        json!({ "c": code }),
    );
    d["data"]["authenticateTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One HTTP request read from `s` (for the receivers tests run): the head, lower-cased, and
/// as many body bytes as `Content-Length` says. `None` if the peer went away first.
pub fn read_request(s: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if got.len() >= end + 4 + length {
            return Some((head, got[end + 4..end + 4 + length].to_vec()));
        }
    }
}

/// The answer a receiver gives: `204 No Content`, closing the connection.
pub const NO_CONTENT: &[u8] =
    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The id of the demo team owner with `email`, from the admins' Teams List.
pub fn owner_id(port: u16, admin: &str, email: &str) -> Value {
    let d = gql(
        port,
        Some(admin),
        "{ teams(first: 50) { edges { node { owner { id email } } } } }",
        json!({}),
    );
    d["data"]["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["owner"]["email"] == email)
        .unwrap()["node"]["owner"]["id"]
        .clone()
}
