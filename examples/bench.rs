//! The project's benchmark. Builds and starts the release server on a fresh SQLite database
//! (and on PostgreSQL when `--postgres <admin URL>` is given), seeds it with `--users` users
//! (each with a team, a business, 2 leads, 10 comments, 10 audit rows; one in ten with an
//! ended impersonation session) and again with ten times as many, then drives it over HTTP
//! from 127.0.0.1 with its own load generator (hyper, one keep-alive connection per client):
//! `me`, `addLeadComment`, impersonate + cancel pairs and `auditLogs(first: 20)`, each at 1
//! and 32 clients, and the bare async-graphql `{ ok }` server (`examples/ceiling.rs`) as the
//! framework's ceiling. Prints rps, p50, p99, errors and the server's peak RSS per case, and
//! a Markdown table at the end. Stops by itself.
//!
//! Run: `cargo run --release --example bench` (options: `--users 1000 --seconds 10
//! --scales 1,10 --postgres postgres://user@127.0.0.1:5432/postgres`, and `--baseline PATH`
//! to run an earlier build on the same data sets in the same run).
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use crm::entities::{audit_log, business, comment, impersonation, lead, team, team_member, user};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, EntityTrait, Set};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-1";
const JWT_SECRET: &str = "bench-secret-that-is-long-enough-for-hs256!";

#[derive(Parser)]
struct Args {
    /// Users in the small data set (the large one has `scales` times as many).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Data-set sizes to run, as multiples of `users`.
    #[arg(long, default_value = "1,10", value_delimiter = ',')]
    scales: Vec<usize>,
    /// Measured seconds per case (after 2 s of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Also run on PostgreSQL: an admin URL (a fresh database is created on it per data set).
    #[arg(long)]
    postgres: Option<String>,
    /// The client counts.
    #[arg(long, default_value = "1,32", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Open loop: send this many requests a second in all, on a fixed schedule spread over the
    /// clients, and measure each latency from when its request was due (so a stall counts
    /// for every request it delays). Without it, each client sends as soon as it has its
    /// answer (closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Only the cases whose name contains one of these (e.g. `--cases me,addLeadComment`).
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Another build of the server to compare with in the same run (e.g. an earlier commit's
    /// `target/release/crm-impersonation`): each data set runs on it first, then on this one.
    #[arg(long)]
    baseline: Option<std::path::PathBuf>,
    /// How many of this tree's migrations the baseline knows: the later ones stay applied (an
    /// index more) but are unlisted, so that its migrator accepts the database.
    #[arg(long, default_value_t = 10)]
    baseline_migrations: usize,
}

#[derive(Clone, Debug)]
struct Outcome {
    database: String,
    rows: String,
    case: &'static str,
    clients: usize,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    rss_mib: f64,
}

fn main() {
    let args = Args::parse();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("== building the release server and the ceiling server");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "crm-impersonation",
            "--example",
            "ceiling",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build failed");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut results = Vec::new();
    rt.block_on(async {
        results.extend(ceiling(&args).await);
        let mut databases = vec![None];
        if let Some(pg) = &args.postgres {
            databases.push(Some(pg.clone()));
        }
        for pg in databases {
            for &scale in &args.scales {
                if let Some(bin) = &args.baseline {
                    let base = Some(bin.as_path());
                    results
                        .extend(run_server(&args, pg.as_deref(), args.users * scale, base).await);
                }
                results.extend(run_server(&args, pg.as_deref(), args.users * scale, None).await);
            }
        }
    });
    print_table(&results);
}

/// The target directory's release binaries.
fn release(name: &str) -> std::path::PathBuf {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("release").join(name);
    // Absolute: the server runs in a directory of its own.
    std::path::absolute(&path).unwrap_or(path)
}

/// Starts a process and waits for its "listening" line; returns it and the port.
fn start(mut cmd: Command) -> (Child, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let port = line
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse::<u16>().ok());
            if line.contains("listening on")
                && let Some(p) = port
            {
                let _ = tx.send(p);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server said where it listens");
    (child, port)
}

async fn ceiling(args: &Args) -> Vec<Outcome> {
    let mut cmd = Command::new(release("examples/ceiling"));
    cmd.arg("127.0.0.1:0");
    let (mut child, port) = start(cmd);
    let body = Bytes::from(json!({ "query": "{ ok }" }).to_string());
    let mut out = Vec::new();
    for &c in &args.clients {
        let plan = Plan::same(body.clone(), None);
        let r = load(
            port,
            child.id(),
            "ceiling { ok }",
            c,
            args.seconds,
            args.rate,
            plan,
        )
        .await;
        out.push(Outcome {
            database: "none".into(),
            rows: "-".into(),
            case: "ceiling { ok }",
            ..r
        });
    }
    let _ = child.kill();
    let _ = child.wait();
    out
}

async fn run_server(
    args: &Args,
    pg: Option<&str>,
    users: usize,
    baseline: Option<&std::path::Path>,
) -> Vec<Outcome> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, label) = match pg {
        None => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            "SQLite",
        ),
        Some(admin) => {
            let name = format!("crm_bench_{}", uuid::Uuid::new_v4().simple());
            let db = Database::connect(admin).await.expect("connect --postgres");
            db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the database");
            let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
            (format!("{base}/{name}"), "PostgreSQL")
        }
    };
    eprintln!("== {label}, {users} users: seeding");
    let seeded = seed(&url, users).await;
    if baseline.is_some() {
        unlist_later_migrations(&url, args.baseline_migrations).await;
    }
    let label = match baseline {
        Some(_) => format!("{label} (baseline)"),
        None => label.to_string(),
    };
    let mut cmd = Command::new(baseline.map_or_else(|| release("crm-impersonation"), Into::into));
    cmd.current_dir(dir.path())
        .env("DATABASE_URL", &url)
        .env("BIND_ADDR", "127.0.0.1:0")
        // Metrics on (as served) unless BENCH_METRICS_ADDR=off measures the server without them.
        .env(
            "METRICS_ADDR",
            std::env::var("BENCH_METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into()),
        )
        .env("JWT_SECRET", JWT_SECRET)
        .env("APP_ENV", "development")
        .env("SEED_DEMO", "false")
        .env("RUST_LOG", "warn")
        .env("MAX_FAILED_ATTEMPTS", "1000000")
        .env("IMPERSONATION_IDLE_MINUTES", "0");
    let (mut child, port) = start(cmd);
    let rows = format!("{users} users, {} comments", seeded.comments);
    let customers = sign_in(port, &seeded.customers, None).await;
    let admins = sign_in(port, &seeded.admins, Some(&seeded.admin_secret)).await;
    let mut out = Vec::new();
    let mut run = async |case: &'static str, c: usize, plan: Plan| {
        if !args.cases.is_empty() && !args.cases.iter().any(|f| case.contains(f.as_str())) {
            return;
        }
        let r = load(port, child.id(), case, c, args.seconds, args.rate, plan).await;
        out.push(Outcome {
            database: label.clone(),
            rows: rows.clone(),
            ..r
        });
    };
    for &c in &args.clients {
        let me = "{ me { id name email role currentTeam { id name } } }";
        let bodies = customers
            .iter()
            .map(|(t, _)| {
                (
                    Bytes::from(json!({ "query": me }).to_string()),
                    Some(t.clone()),
                )
            })
            .collect();
        run("me", c, Plan::each(bodies)).await;
        let bodies = customers
            .iter()
            .zip(&seeded.customer_leads)
            .map(|((t, _), lead)| {
                let q = "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"called back, no answer\") { id } }";
                let body = json!({ "query": q, "variables": { "l": lead } });
                (Bytes::from(body.to_string()), Some(t.clone()))
            })
            .collect();
        run("addLeadComment", c, Plan::each(bodies)).await;
        let targets = seeded.targets.clone();
        run(
            "impersonate + cancel",
            c,
            Plan::Pairs {
                admins: admins.iter().map(|(t, _)| t.clone()).collect(),
                targets,
            },
        )
        .await;
        let q = "{ auditLogs(first: 20) { edges { node { id action createdAt } } } }";
        let bodies = admins
            .iter()
            .map(|(t, _)| {
                (
                    Bytes::from(json!({ "query": q }).to_string()),
                    Some(t.clone()),
                )
            })
            .collect();
        run("auditLogs(first: 20)", c, Plan::each(bodies)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    if let Some(admin) = pg
        && let Ok(db) = Database::connect(admin).await
    {
        let name = url.rsplit('/').next().unwrap_or_default();
        let _ = db
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
    out
}

struct Seeded {
    /// 32 customers (emails) who write comments, and a lead of each.
    customers: Vec<String>,
    customer_leads: Vec<String>,
    /// 32 admins with 2FA on (one TOTP secret).
    admins: Vec<String>,
    admin_secret: String,
    /// Users admins may impersonate.
    targets: Vec<String>,
    comments: usize,
}

/// Leaves the first `known` migrations listed as applied, for a baseline build that knows no
/// more of them.
async fn unlist_later_migrations(url: &str, known: usize) {
    use migration::MigratorTrait;
    let db = crm::db::connect_url(url).await.expect("connect");
    for m in migration::Migrator::migrations().iter().skip(known) {
        db.execute_unprepared(&format!(
            "DELETE FROM seaql_migrations WHERE version = '{}'",
            m.name()
        ))
        .await
        .expect("unlist a migration");
    }
}

/// Writes the data set straight into a migrated database (one password hash for everyone).
async fn seed(url: &str, users: usize) -> Seeded {
    let db = crm::db::connect_url(url).await.expect("connect");
    migration::Migrator::up(&db, None).await.expect("migrate");
    let hash = crm::auth::password::hash(
        &crm::auth::password::HashingPool::new(1),
        PASSWORD.to_string(),
    )
    .await
    .expect("hash");
    let secret = crm::auth::totp::new_secret();
    let now = chrono::Utc::now();
    let id = crm::db::new_id;
    let mut s = Seeded {
        customers: vec![],
        customer_leads: vec![],
        admins: vec![],
        admin_secret: secret.clone(),
        targets: vec![],
        comments: 0,
    };
    let (mut us, mut ts, mut ms, mut bs, mut ls, mut cs, mut als, mut is) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let admins = 32;
    for i in 0..users + admins {
        let admin = i >= users;
        let (uid, tid) = (id(), id());
        let email = match admin {
            true => format!("admin{}@bench.test", i - users),
            false => format!("user{i}@bench.test"),
        };
        us.push(user::ActiveModel {
            id: Set(uid.clone()),
            email: Set(email.clone()),
            name: Set(format!("Bench User {i}")),
            role: Set(match admin {
                true => crm::entities::role::Role::Admin,
                false => crm::entities::role::Role::User,
            }),
            password_hash: Set(hash.clone()),
            impersonation_allowed: Set(true),
            impersonation_requires_approval: Set(false),
            impersonation_review_required: Set(false),
            totp_secret: Set(admin.then(|| secret.clone())),
            totp_enabled: Set(admin),
            totp_last_step: Set(None),
            has_passkey: Set(false),
            current_team_id: Set(Some(tid.clone())),
            created_at: Set(now),
            updated_at: Set(now),
            sessions_valid_after: Set(None),
            role_changed_at: Set(None),
            role_changed_by: Set(None),
        });
        ts.push(team::ActiveModel {
            id: Set(tid.clone()),
            name: Set(format!("Team {i}")),
            owner_id: Set(uid.clone()),
            created_at: Set(now),
        });
        ms.push(team_member::ActiveModel {
            id: Set(id()),
            team_id: Set(tid.clone()),
            user_id: Set(uid.clone()),
            role: Set("OWNER".into()),
            created_at: Set(now),
        });
        if admin {
            s.admins.push(email);
            continue;
        }
        let bid = id();
        bs.push(business::ActiveModel {
            id: Set(bid.clone()),
            team_id: Set(tid.clone()),
            name: Set(format!("Business {i}")),
            created_by_id: Set(uid.clone()),
            created_at: Set(now),
        });
        for l in 0..2 {
            let lid = id();
            ls.push(lead::ActiveModel {
                id: Set(lid.clone()),
                team_id: Set(tid.clone()),
                business_id: Set(Some(bid.clone())),
                name: Set(format!("Lead {i}.{l}")),
                created_by_id: Set(uid.clone()),
                created_at: Set(now),
            });
            for c in 0..5 {
                cs.push(comment::ActiveModel {
                    id: Set(id()),
                    business_id: Set(None),
                    lead_id: Set(Some(lid.clone())),
                    author_id: Set(uid.clone()),
                    on_behalf_of_id: Set(None),
                    text: Set(format!("note {c}")),
                    is_impersonated: Set(false),
                    created_at: Set(now),
                });
            }
            if l == 0 && s.customers.len() < 32 {
                s.customers.push(email.clone());
                s.customer_leads.push(lid.clone());
            }
        }
        for a in 0..10 {
            als.push(audit_log::ActiveModel {
                id: Set(id()),
                actor_id: Set(Some(uid.clone())),
                on_behalf_of_id: Set(None),
                team_id: Set(Some(tid.clone())),
                action: Set(if a == 0 {
                    "USER_CREATED"
                } else {
                    "COMMENT_ADDED"
                }
                .into()),
                entity_type: Set(Some("Lead".into())),
                entity_id: Set(None),
                is_impersonated: Set(false),
                details: Set(None),
                ip_address: Set(None),
                created_at: Set(now),
                impersonation_id: Set(None),
            });
        }
        if i % 10 == 0 && !us.is_empty() {
            is.push(uid.clone());
        }
        if s.targets.len() < 1000 && i >= 32 {
            s.targets.push(uid);
        }
    }
    s.comments = cs.len();
    let first_admin_id = us
        .iter()
        .find(|u| u.totp_enabled == Set(true))
        .map(|u| u.id.clone().unwrap())
        .unwrap_or_default();
    let sessions: Vec<impersonation::ActiveModel> = is
        .into_iter()
        .map(|target| impersonation::ActiveModel {
            id: Set(id()),
            code: Set(crm::auth::tokens::new_impersonation_code()),
            impersonator_id: Set(first_admin_id.clone()),
            impersonated_user_id: Set(target),
            impersonator_team_id: Set(None),
            started_at: Set(now - chrono::Duration::hours(2)),
            expires_at: Set(now - chrono::Duration::hours(1)),
            ended_at: Set(Some(now - chrono::Duration::hours(1))),
            end_reason: Set(Some("CANCELLED".into())),
            reason: Set(Some("bench".into())),
            mode: Set(crm::entities::impersonation::Mode::ReadWrite),
            grant_id: Set(None),
            last_activity_at: Set(None),
            initial_mode: Set(Some(crm::entities::impersonation::Mode::ReadWrite)),
            elevated_at: Set(None),
            elevation_reason: Set(None),
            ticket: Set(None),
            review_id: Set(None),
        })
        .collect();
    insert_all(&db, us).await;
    insert_all(&db, ts).await;
    insert_all(&db, ms).await;
    insert_all(&db, bs).await;
    insert_all(&db, ls).await;
    insert_all(&db, cs).await;
    insert_all(&db, als).await;
    insert_all(&db, sessions).await;
    db.close().await.ok();
    s
}

async fn insert_all<A>(db: &sea_orm::DatabaseConnection, rows: Vec<A>)
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(500).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .expect("seed");
    }
}

/// Signs the accounts in (with the TOTP step for admins); returns (token, email).
async fn sign_in(port: u16, emails: &[String], totp: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut conn = connect(port).await;
    for e in emails {
        let q =
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let v = call(
            &mut conn,
            None,
            json!({ "query": q, "variables": { "e": e, "p": PASSWORD } }),
        )
        .await;
        let mut token = v["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login {e}: {v}"))
            .to_string();
        if let Some(secret) = totp {
            let code =
                crm::auth::totp::code_at(secret, chrono::Utc::now().timestamp()).expect("code");
            let q = "mutation($c: String!) { authenticateTwoFactor(code: $c) { accessToken } }";
            let v = call(
                &mut conn,
                Some(&token),
                json!({ "query": q, "variables": { "c": code } }),
            )
            .await;
            token = v["data"]["authenticateTwoFactor"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("2FA {e}: {v}"))
                .to_string();
        }
        out.push((token, e.clone()));
    }
    out
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> Conn {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).ok();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

/// One POST /graphql; returns the body's bytes.
async fn post(conn: &mut Conn, token: Option<&str>, body: Bytes) -> Result<Bytes, String> {
    let mut req = hyper::Request::post("/graphql")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    conn.ready().await.map_err(|e| e.to_string())?;
    let res = conn.send_request(req).await.map_err(|e| e.to_string())?;
    let ok = res.status().is_success();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    match ok {
        true => Ok(bytes),
        false => Err(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

async fn call(conn: &mut Conn, token: Option<&str>, body: Value) -> Value {
    let bytes = post(conn, token, Bytes::from(body.to_string()))
        .await
        .expect("request");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn has_errors(b: &[u8]) -> bool {
    b.windows(9).any(|w| w == b"\"errors\":")
}

/// What each client sends.
#[derive(Clone)]
enum Plan {
    /// Client i sends bodies[i % len] with its token, again and again.
    Each(Vec<(Bytes, Option<String>)>),
    /// Client i, as admin i: impersonate a target, then cancel with the impersonation token.
    Pairs {
        admins: Vec<String>,
        targets: Vec<String>,
    },
}

impl Plan {
    fn same(body: Bytes, token: Option<String>) -> Plan {
        Plan::Each(vec![(body, token)])
    }
    fn each(bodies: Vec<(Bytes, Option<String>)>) -> Plan {
        Plan::Each(bodies)
    }
}

/// Runs `plan` from `clients` connections: 2 s of warm-up, then `seconds` measured; at
/// `rate` requests a second in all when given (open loop), else as fast as answered.
async fn load(
    port: u16,
    pid: u32,
    case: &'static str,
    clients: usize,
    seconds: u64,
    rate: Option<f64>,
    plan: Plan,
) -> Outcome {
    let start = Instant::now();
    // Open loop: client i's k-th request is due at start + (k + i / clients) * every.
    let every = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
    let measured = Arc::new(AtomicU64::new(0));
    let warm_until = Instant::now() + Duration::from_secs(2);
    let until = warm_until + Duration::from_secs(seconds);
    let mut reset_peak = Some(pid);
    let mut tasks = vec![];
    for i in 0..clients {
        let plan = plan.clone();
        let measured = measured.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(port).await;
            let (mut lat, mut errors) = (Vec::<u32>::with_capacity(1 << 16), 0u64);
            let mut n = 0usize;
            while Instant::now() < until {
                let t = match every {
                    Some(every) => {
                        let due = start + every.mul_f64(n as f64 + i as f64 / clients as f64);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let ok = match &plan {
                    Plan::Each(bodies) => {
                        let (body, token) = &bodies[i % bodies.len()];
                        matches!(post(&mut conn, token.as_deref(), body.clone()).await, Ok(b) if !has_errors(&b))
                    }
                    Plan::Pairs { admins, targets } => {
                        let admin = &admins[i % admins.len()];
                        let target = &targets[(i + n * clients) % targets.len()];
                        pair(&mut conn, admin, target).await
                    }
                };
                n += 1;
                if t >= warm_until {
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    errors += u64::from(!ok);
                    measured.fetch_add(1, Ordering::Relaxed);
                }
            }
            (lat, errors)
        }));
    }
    // Progress, once a second; the peak RSS is reset when the warm-up ends.
    let label = format!(
        "{case}, {clients} client{}",
        if clients == 1 { "" } else { "s" }
    );
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let now = Instant::now();
        if now >= warm_until
            && let Some(p) = reset_peak.take()
        {
            let _ = std::fs::write(format!("/proc/{p}/clear_refs"), "5");
        }
        let phase = match now < warm_until {
            true => "warming up".to_string(),
            false => format!("{:>2}/{seconds} s", (now - warm_until).as_secs()),
        };
        eprint!(
            "\r  {label:<40} {phase:<12} {:>8} requests",
            measured.load(Ordering::Relaxed)
        );
        std::io::stderr().flush().ok();
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("client");
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| match all.is_empty() {
        true => 0.0,
        false => all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0,
    };
    let rps = all.len() as f64 / seconds as f64;
    let rss = peak_rss_mib(pid);
    eprintln!(
        "\r  {label:<40} {rps:>9.0} rps  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {errors:<5} peak RSS {rss:.1} MiB",
        pct(0.5),
        pct(0.99)
    );
    Outcome {
        database: String::new(),
        rows: String::new(),
        case,
        clients,
        rps,
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
        rss_mib: rss,
    }
}

async fn pair(conn: &mut Conn, admin: &str, target: &str) -> bool {
    let q = "mutation($u: ID!) { impersonate(userId: $u, reason: \"bench\") { accessToken } }";
    let body = json!({ "query": q, "variables": { "u": target } });
    let Ok(b) = post(conn, Some(admin), Bytes::from(body.to_string())).await else {
        return false;
    };
    let v: Value = serde_json::from_slice(&b).unwrap_or_default();
    let Some(t) = v["data"]["impersonate"]["accessToken"].as_str() else {
        return false;
    };
    let body =
        Bytes::from_static(br#"{"query":"mutation { cancelImpersonation { accessToken } }"}"#);
    matches!(post(conn, Some(t), body).await, Ok(b) if !has_errors(&b))
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn print_table(rs: &[Outcome]) {
    println!();
    println!(
        "| database | data | case | clients | rps | p50 ms | p99 ms | errors | peak RSS MiB |"
    );
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rs {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
            r.database, r.rows, r.case, r.clients, r.rps, r.p50, r.p99, r.errors, r.rss_mib
        );
    }
}
