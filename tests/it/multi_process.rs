//! Two real server processes on one database (the load-balanced deployment): an
//! impersonation started on one and cancelled on the other is refused by both at once.

use std::io::{Read, Write};
use std::process::Child;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const SECRET: &str = "a-shared-jwt-secret-for-both-processes-0123";

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(database_url: &str, dir: &std::path::Path) -> Server {
        let mut cmd = server_command(dir);
        cmd.env("DATABASE_URL", database_url)
            .env("JWT_SECRET", SECRET)
            .env("SEED_DEMO", "false");
        let (child, port, output) = spawn_server(cmd);
        drain(output);
        Server { child, port }
    }

    fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        Self::post(self.port, token, query, variables).expect("the server answers")
    }

    /// POSTs a GraphQL request to the server on `port`; `None` when it does not answer
    /// (it is gone).
    pub fn post(port: u16, token: Option<&str>, query: &str, variables: Value) -> Option<Value> {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (_, body) = out.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }

    /// Kills the process (SIGKILL: no shutdown, no flush).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let v = self.gql(token, query, variables);
        assert!(v.get("errors").is_none(), "{v}");
        v["data"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn cancel_on_one_process_is_seen_by_the_other() {
    let (url, _db_dir) = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(&url, dir.path());
    let b = Server::start(&url, dir.path());

    let reg = "mutation($e: String!) { register(input: { email: $e, password: \"correct-horse-1\", name: \"N\" }) { accessToken user { id } } }";
    let admin = a.ok(None, reg, json!({ "e": "ada@support.test" }))["register"].clone();
    let customer = b.ok(None, reg, json!({ "e": "carl@customer.test" }))["register"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin_id = admin["user"]["id"].as_str().unwrap().to_string();
    // The operator makes Ada an admin; she turns 2FA on through the API.
    let db = crm::db::connect_url(&url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        &format!("UPDATE users SET role = 'ADMIN' WHERE id = '{admin_id}'"),
    )
    .await
    .unwrap();
    let token = admin["accessToken"].as_str().unwrap();
    let url_ = a.ok(
        Some(token),
        "mutation { generateTwoFactorSecret { otpauthUrl } }",
        json!({}),
    )["generateTwoFactorSecret"]["otpauthUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = secret_from_url(&url_);
    let code = crm::auth::totp::code_at(&secret, chrono::Utc::now().timestamp()).unwrap();
    let admin_token = b.ok(
        Some(token),
        "mutation($c: String!) { turnOnTwoFactor(code: $c, password: \"correct-horse-1\") { accessToken } }",
        json!({ "c": code }),
    )["turnOnTwoFactor"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let imp = a.ok(
        Some(&admin_token),
        "mutation($u: ID!) { impersonate(userId: $u) { accessToken } }",
        json!({ "u": customer }),
    )["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        b.ok(Some(&imp), "{ me { id } }", json!({}))["me"]["id"],
        customer.as_str()
    );
    b.ok(
        Some(&imp),
        "mutation { cancelImpersonation { accessToken } }",
        json!({}),
    );
    for server in [&a, &b] {
        let v = server.gql(Some(&imp), "{ me { id } }", json!({}));
        assert_eq!(error_code(&v), "UNAUTHENTICATED");
    }
}
