//! The event feed survives a PostgreSQL restart. The test runs a throwaway PostgreSQL cluster
//! of its own (the machine's `initdb` and `pg_ctl`, as CI uses), with two servers on it and a
//! customer subscribed on the second, and restarts it (`pg_ctl restart -m fast`, which drops
//! every connection) under them. It runs in both CI passes, whatever `TEST_DATABASE_URL` says:
//! it needs PostgreSQL's server binaries installed (Debian: `postgresql`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::ws::*;
use crate::common::*;
use serde_json::json;

struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                    .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            })
            .expect("this test needs PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql)");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let c = Cluster { dir, bin, port };
        if as_root() {
            // PostgreSQL refuses to run as root: as the postgres system user, as CI does.
            run(Command::new("chown").arg("postgres").arg(c.dir.path()));
        }
        run(c.tool("initdb").arg("-D").arg(c.data()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]));
        let opts = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off",
            c.port,
            c.dir.path().display()
        );
        run(c
            .tool("pg_ctl")
            .arg("-D")
            .arg(c.data())
            .arg("-l")
            .arg(c.dir.path().join("pg.log"))
            .args(["-w", "-o", &opts, "start"]));
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        match as_root() {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(path);
                c
            }
            false => Command::new(path),
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops (dropping every connection) and starts again, on the same port.
    fn restart(&self) {
        // With its log file again: a server left writing to our pipe would keep it open.
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("pg.log"))
            .args(["-w", "-m", "fast", "restart"]));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_hear_events_again_after_the_database_restarts() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let mut config = crm::config::Config::with_defaults(&cluster.url());
    config.access_token_ttl = chrono::Duration::days(1);
    let a = TestApp::on_database(config, crm::clock::ManualClock::new(chrono::Utc::now())).await;
    let b = a.second_server().await;
    let b_url = serve(&b).await;
    let (ada, _) = a.admin("ada@support.test", "ADMIN").await;
    let carl = a.register("carl@customer.test", "Carl").await;
    let mut s = init(&b_url, Some(&carl.token)).await;
    subscribe(
        &mut s,
        "acct",
        "subscription { myAccountEvents { kind impersonation { id } } }",
    )
    .await;
    subscribed(&b, 1).await;

    let restarted = std::sync::Arc::new(cluster);
    let c = restarted.clone();
    tokio::task::spawn_blocking(move || c.restart())
        .await
        .unwrap();

    // Server A's pool finds its connections gone and makes new ones; a request that meets a
    // dead one fails (INTERNAL) and the next succeeds. At most 40 tries.
    let mut started = None;
    for _ in 0..40 {
        let v = a
            .gql(
                Some(&ada.token),
                "mutation($u: ID!) { impersonate(userId: $u, reason: \"after the restart\") { user { impersonation { id } } } }",
                json!({ "u": carl.user_id }),
            )
            .await;
        if let Some(id) = v["data"]["impersonate"]["user"]["impersonation"]["id"].as_str() {
            started = Some(id.to_string());
            break;
        }
        assert_eq!(error_code(&v), "INTERNAL", "{v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let id = started.expect("server A works again after the restart");
    // Server B listens again (and reads what it missed meanwhile): the customer hears it.
    let e = data(&mut s, "acct", 20).await["myAccountEvents"].clone();
    assert_eq!(e["kind"], "IMPERSONATION_STARTED");
    assert_eq!(e["impersonation"]["id"], id);
}
