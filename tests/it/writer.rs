//! The write path (issue 24): on SQLite one writer thread group-commits the jobs queued behind
//! each other, each in its own savepoint. A job that fails rolls back alone while its
//! neighbours commit; a write is acknowledged only once it is committed, so a server killed
//! mid-batch loses none it acknowledged; and what the writer stores is what sqlx stored, byte
//! for byte. The first two run on both databases (PostgreSQL: one transaction per write).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use crate::multi_process::Server;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_in_a_group_rolls_back_alone_while_its_neighbours_commit() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    db.execute_unprepared("CREATE TABLE scratch (n INTEGER UNIQUE)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO scratch VALUES (-1)")
        .await
        .unwrap();
    let before = app.state.writer.as_ref().map(|w| w.stats());

    // 40 writes at once: each inserts its own row; the odd ones then insert -1 again, which
    // fails (UNIQUE), and give up.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let state = app.state.clone();
        tasks.push(tokio::spawn(async move {
            let txn = crm::db::write_txn(&state).await.unwrap();
            txn.execute_unprepared(&format!("INSERT INTO scratch VALUES ({})", 1000 + i))
                .await
                .unwrap();
            if i % 2 == 1 {
                let dup = txn
                    .execute_unprepared("INSERT INTO scratch VALUES (-1)")
                    .await;
                assert!(dup.is_err(), "the duplicate is refused");
                return false; // dropped: rolled back
            }
            txn.commit().await.unwrap();
            true
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT n FROM scratch ORDER BY n",
        ))
        .await
        .unwrap();
    let got: Vec<i32> = rows.iter().map(|r| r.try_get("", "n").unwrap()).collect();
    let mut want = vec![-1];
    want.extend((0..40).filter(|i| i % 2 == 0).map(|i| 1000 + i));
    assert_eq!(
        got, want,
        "every even write committed, no odd one left a row"
    );

    if let (Some(w), Some((jobs0, batches0))) = (&app.state.writer, before) {
        let (jobs, batches) = w.stats();
        assert_eq!(jobs - jobs0, 20, "the 20 committed writes");
        assert!(
            batches - batches0 < 20,
            "queued writes shared commits: {} batches for 20 writes",
            batches - batches0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_panics_fails_alone_and_the_next_write_goes_through() {
    let app = TestApp::new().await;
    let state = app.state.clone();
    let panicked = tokio::spawn(async move {
        crm::db::write(&state, |txn| async move {
            txn.execute_unprepared("CREATE TABLE never (n INTEGER)")
                .await?;
            a_bug()?;
            txn.commit().await?;
            Ok(())
        })
        .await
    })
    .await;
    // The caller sees a failure (an error on SQLite, where the work ran on the writer; the
    // panic itself on PostgreSQL, where it ran in the caller's task).
    assert!(panicked.is_err() || panicked.unwrap().is_err());
    // Nothing of it stayed, and the next write goes through.
    let s = app.register("ann@example.com", "Ann").await;
    assert!(!s.token.is_empty());
    let never = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT 1 FROM never",
        ))
        .await;
    assert!(never.is_err(), "the panicking write's table is not there");
}

fn a_bug() -> crm::error::AppResult<()> {
    panic!("a bug in a write")
}

const CREATE: &str = "mutation($n: String!) { createBusiness(name: $n) { id } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_batch_loses_no_write_it_acknowledged() {
    let (url, _db_dir) = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&url, dir.path());
    let reg = "mutation { register(input: { email: \"ann@example.com\", password: \"correct-horse-1\", name: \"Ann\" }) { accessToken } }";
    let token = server.ok(None, reg, json!({}))["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    // Eight clients write as fast as they can; each write the server answered is noted.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = server.port;
    let mut clients = Vec::new();
    for c in 0..8 {
        let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
        clients.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let vars = json!({ "n": format!("b-{c}-{i}") });
                match Server::post(port, Some(&token), CREATE, vars) {
                    Some(v) => match v["data"]["createBusiness"]["id"].as_str() {
                        Some(id) => acked.lock().unwrap().push(id.to_string()),
                        None => return,
                    },
                    // The server is gone: this write was not acknowledged.
                    None => return,
                }
            }
        }));
    }
    // Kill it (SIGKILL) while writes are in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300, "the clients wrote: {}", acked.len());

    // Every acknowledged business is there after a restart.
    let again = Server::start(&url, dir.path());
    let db = crm::db::connect_url(&url).await.unwrap();
    let stored: std::collections::HashSet<String> = crm::entities::business::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    // And the restarted server serves them.
    let listed = again.ok(Some(&token), "{ businesses { id } }", json!({}));
    let listed = listed["businesses"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|b| stored.contains(b["id"].as_str().unwrap()))
    );
}

/// What the writer stores is what sqlx (SeaORM's SQLite driver until now) stored: the same
/// statement, bound by sqlx through sea-query-sqlx as SeaORM did, and by the writer, leaves
/// the same bytes in every column (times, booleans, 64- and 32-bit integers, text, nulls).
#[tokio::test]
async fn the_writer_stores_what_sqlx_stored_byte_for_byte() {
    if is_postgres() {
        return; // The writer is SQLite's.
    }
    use crm::entities::{auth_failure, user};
    use sea_orm::{ActiveValue::Set, QueryTrait};

    let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T09:11:12.345678Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let whole = chrono::DateTime::parse_from_rfc3339("2026-12-06T09:11:12Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let statements: Vec<Statement> = vec![
        user::Entity::insert(user::ActiveModel {
            id: Set("u1".into()),
            email: Set("ann@example.com".into()),
            name: Set("Ann “Quotes” O'Neil".into()),
            password_hash: Set("$argon2id$v=19$x".into()),
            role: Set(crm::auth::Role::Admin),
            totp_enabled: Set(true),
            totp_secret: Set(None),
            totp_last_step: Set(Some(59_123_456_789)),
            has_passkey: Set(false),
            impersonation_allowed: Set(false),
            impersonation_requires_approval: Set(true),
            impersonation_review_required: Set(true),
            current_team_id: Set(None),
            sessions_valid_after: Set(Some(at)),
            created_at: Set(at),
            updated_at: Set(whole),
            role_changed_at: Set(Some(at)),
            role_changed_by: Set(Some("u0".into())),
        })
        .build(DbBackend::Sqlite),
        auth_failure::Entity::insert(auth_failure::ActiveModel {
            id: Set("f1".into()),
            scope: Set("LOGIN".into()),
            subject: Set("ann@example.com".into()),
            failures: Set(2_147_483_647),
            locked_until: Set(None),
            updated_at: Set(at),
        })
        .build(DbBackend::Sqlite),
    ];

    // Two fresh, migrated databases: one written by sqlx, one by the writer.
    let (by_sqlx, _a) = fresh_database().await;
    let (by_writer, _b) = fresh_database().await;
    for url in [&by_sqlx, &by_writer] {
        let db = crm::db::connect_url(url).await.unwrap();
        <migration::Migrator as migration::MigratorTrait>::up(&db, None)
            .await
            .unwrap();
    }
    let pool = sqlx::SqlitePool::connect(&by_sqlx).await.unwrap();
    for s in &statements {
        let values = sea_query_sqlx::SqlxValues(s.values.clone().unwrap());
        sqlx::query_with(sqlx::AssertSqlSafe(s.sql.clone()), values)
            .execute(&pool)
            .await
            .unwrap();
    }
    let clock = crm::clock::ManualClock::new(chrono::Utc::now());
    let app = TestApp::on_database(crm::config::Config::with_defaults(&by_writer), clock).await;
    for s in &statements {
        let txn = crm::db::write_txn(&app.state).await.unwrap();
        txn.execute_raw(s.clone()).await.unwrap();
        txn.commit().await.unwrap();
    }

    for table in ["users", "auth_failures"] {
        let dump = |path: String| {
            let conn = rusqlite::Connection::open(path).unwrap();
            let cols: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let select = cols
                .iter()
                .map(|c| format!("quote(\"{c}\") || ':' || typeof(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(", ");
            let row: Vec<String> = conn
                .query_row(&format!("SELECT {select} FROM {table}"), [], |r| {
                    (0..cols.len()).map(|i| r.get(i)).collect()
                })
                .unwrap();
            cols.into_iter().zip(row).collect::<Vec<_>>()
        };
        let path = |url: &str| crm::db::sqlite::path_of(url).unwrap().to_string();
        let (a, b) = (dump(path(&by_sqlx)), dump(path(&by_writer)));
        assert_eq!(a, b, "{table}: sqlx and the writer stored the same");
        assert!(
            a.iter()
                .any(|(c, v)| c == "created_at" && v == "'2026-12-06T09:11:12.345678+00:00':text")
                || table != "users",
            "times are RFC 3339 text with microseconds: {a:?}"
        );
    }
}
