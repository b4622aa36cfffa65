//! The bare limit of a SQLite write on this machine (issue 24): `addLeadComment`'s statements
//! (read the user, the membership and the lead; insert the comment and the audit row, each
//! `RETURNING`) on one rusqlite writer thread, up to 64 writes per `BEGIN IMMEDIATE … COMMIT`,
//! one `SAVEPOINT` each, on the project's schema and pragmas, with demo data:
//! - fed by 32 tokio tasks (a channel in, a oneshot out, answered after the commit): what the
//!   server's writer can at best do;
//! - with no caller (the thread writes on its own): the bare limit.
//!
//! Run: `cargo run --release --example bare_limit [-- WRITES]` (default 20,000).
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use migration::MigratorTrait;
use rusqlite::params;
use tokio::sync::oneshot;

const BATCH: usize = 64;

struct Ids {
    user: String,
    team: String,
    lead: String,
}

fn write_one(c: &rusqlite::Connection, ids: &Ids, n: usize) -> rusqlite::Result<()> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    c.prepare_cached("SELECT * FROM users WHERE id = ? LIMIT 1")?
        .query_row(params![ids.user], |_| Ok(()))?;
    c.prepare_cached("SELECT * FROM team_members WHERE team_id = ? AND user_id = ? LIMIT 1")?
        .query_row(params![ids.team, ids.user], |_| Ok(()))?;
    c.prepare_cached("SELECT * FROM leads WHERE id = ? AND team_id = ? LIMIT 1")?
        .query_row(params![ids.lead, ids.team], |_| Ok(()))?;
    let comment = uuid::Uuid::now_v7().to_string();
    c.prepare_cached(
        "INSERT INTO comments (id, business_id, lead_id, author_id, on_behalf_of_id, text, \
         is_impersonated, created_at) VALUES (?, NULL, ?, ?, NULL, ?, 0, ?) RETURNING *",
    )?
    .query_row(
        params![comment, ids.lead, ids.user, format!("comment {n}"), now],
        |_| Ok(()),
    )?;
    c.prepare_cached(
        "INSERT INTO audit_logs (id, actor_id, on_behalf_of_id, team_id, action, entity_type, \
         entity_id, is_impersonated, details, ip_address, created_at, impersonation_id) \
         VALUES (?, ?, NULL, ?, 'COMMENT_CREATED', 'LeadComment', ?, 0, NULL, '127.0.0.1', ?, \
         NULL) RETURNING *",
    )?
    .query_row(
        params![
            uuid::Uuid::now_v7().to_string(),
            ids.user,
            ids.team,
            comment,
            now
        ],
        |_| Ok(()),
    )?;
    Ok(())
}

fn open(path: &str) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;",
    )
    .unwrap();
    c
}

/// Runs `jobs` in batches: savepoint each, commit per batch; returns the batches' sizes.
fn batch(c: &rusqlite::Connection, ids: &Ids, jobs: &[usize]) {
    c.execute_batch("BEGIN IMMEDIATE").unwrap();
    for &n in jobs {
        c.execute_batch("SAVEPOINT j").unwrap();
        write_one(c, ids, n).unwrap();
        c.execute_batch("RELEASE j").unwrap();
    }
    c.execute_batch("COMMIT").unwrap();
}

fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

#[tokio::main]
async fn main() {
    let writes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.db").display().to_string();
    let url = format!("sqlite://{path}?mode=rwc");
    {
        let db = crm::db::connect_url(&url).await.unwrap();
        migration::Migrator::up(&db, None).await.unwrap();
        let config = crm::config::Config::with_defaults(&url);
        let state = crm::AppState::new(db, config, Arc::new(crm::clock::SystemClock));
        crm::seed::seed_demo(&state).await.unwrap();
    }
    let c = open(&path);
    let ids = c
        .query_row(
            "SELECT u.id, l.team_id, l.id FROM leads l JOIN team_members m ON m.team_id = \
             l.team_id JOIN users u ON u.id = m.user_id LIMIT 1",
            [],
            |r| {
                Ok(Ids {
                    user: r.get(0)?,
                    team: r.get(1)?,
                    lead: r.get(2)?,
                })
            },
        )
        .unwrap();

    // No caller: the thread writes on its own.
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let all: Vec<usize> = (0..writes).collect();
    for chunk in all.chunks(BATCH) {
        batch(&c, &ids, chunk);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "no caller:        {:>6.0} writes/s, CPU {:>5.0} µs a write",
        writes as f64 / secs,
        (cpu_seconds() - cpu) * 1e6 / writes as f64
    );

    // Fed by 32 tasks: a channel in, a oneshot out after the commit.
    type Job = (usize, oneshot::Sender<()>);
    let (tx, rx) = mpsc::channel::<Job>();
    let writer = std::thread::spawn(move || {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let ns: Vec<usize> = jobs.iter().map(|j| j.0).collect();
            batch(&c, &ids, &ns);
            for (_, done) in jobs {
                let _ = done.send(());
            }
        }
    });
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let mut tasks = Vec::new();
    for k in 0..32 {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for n in (k..writes).step_by(32) {
                let s = Instant::now();
                let (done, answered) = oneshot::channel();
                tx.send((n, done)).unwrap();
                answered.await.unwrap();
                lat.push(s.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    drop(tx);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = t.elapsed().as_secs_f64();
    writer.join().unwrap();
    lat.sort_unstable();
    println!(
        "32 tasks, writer: {:>6.0} writes/s, CPU {:>5.0} µs a write, p99 {:.1} ms",
        writes as f64 / secs,
        (cpu_seconds() - cpu) * 1e6 / writes as f64,
        lat[lat.len() * 99 / 100] as f64 / 1000.0
    );
}
