//! Cost flat in data size: every statement the hot operations run (`me`, the Teams List,
//! `auditLogs(first: 20)`, a lead's `commentsConnection(first: 20)`, `addLeadComment`, an
//! impersonated request, impersonate + cancel) is recorded as the server runs it, then
//! explained on the same database: each table is reached through an index, and no result is
//! sorted in full. SQLite: `EXPLAIN QUERY PLAN` (no `SCAN t` without an index, no `TEMP
//! B-TREE`); PostgreSQL: `EXPLAIN` with sequential scans priced out (`enable_seqscan = off`), so
//! a `Seq Scan` left means no index could serve.

use std::sync::{Arc, Mutex};

use crate::common::*;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

/// Tables a scan of is fine: one row (the global switch) or the migrator's own.
const SMALL: [&str; 2] = ["impersonation_settings", "seaql_migrations"];

type Seen = Arc<Mutex<Vec<Statement>>>;

/// Runs `op` and returns the statements it made.
async fn statements(
    seen: &Seen,
    op: impl std::future::Future<Output = serde_json::Value>,
) -> Vec<Statement> {
    seen.lock().unwrap().clear();
    let v = op.await;
    assert!(v.get("errors").is_none(), "{v}");
    std::mem::take(&mut *seen.lock().unwrap())
}

/// What is wrong with the plan of `stmt`, if anything.
async fn plan_problems(app: &TestApp, stmt: &Statement) -> Vec<String> {
    let sql = stmt.sql.trim_start();
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !matches!(verb.as_str(), "SELECT" | "UPDATE" | "DELETE") {
        return vec![];
    }
    let backend = app.state.db.get_database_backend();
    let values = stmt.values.clone().map(|v| v.0).unwrap_or_default();
    let mut problems = vec![];
    match backend {
        DbBackend::Sqlite => {
            let explain = Statement::from_sql_and_values(
                backend,
                format!("EXPLAIN QUERY PLAN {sql}"),
                values,
            );
            for row in app.state.db.query_all_raw(explain).await.unwrap() {
                let detail: String = row.try_get("", "detail").unwrap();
                let scans_table = detail.starts_with("SCAN ")
                    && !detail.contains("USING INDEX")
                    && !detail.contains("USING COVERING INDEX")
                    && !detail.contains("PRIMARY KEY");
                let small = SMALL.iter().any(|t| detail.contains(t));
                if (scans_table && !small) || detail.contains("TEMP B-TREE") {
                    problems.push(detail);
                }
            }
        }
        _ => {
            let txn = app.state.db.begin().await.unwrap();
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            let explain = Statement::from_sql_and_values(backend, format!("EXPLAIN {sql}"), values);
            for row in txn.query_all_raw(explain).await.unwrap() {
                let line: String = row.try_get("", "QUERY PLAN").unwrap();
                let small = SMALL.iter().any(|t| line.contains(t));
                if line.contains("Seq Scan") && !small {
                    problems.push(line);
                }
            }
            txn.rollback().await.unwrap();
        }
    }
    problems
}

#[tokio::test]
async fn every_statement_of_the_hot_operations_uses_an_index() {
    let (app, seen) = TestApp::recording_statements(|c| {
        c.access_token_ttl = chrono::Duration::days(1);
    })
    .await;
    let (admin, _) = app.admin("ada@support.test", "SUPER_ADMIN").await;
    let carl = app.register("carl@customer.test", "Carl").await;
    // Some rows around Carl's, so that no table is empty.
    for i in 0..5 {
        let s = app
            .register(&format!("user{i}@customer.test"), "Someone")
            .await;
        let d = app
            .ok(
                Some(&s.token),
                "mutation { createLead(name: \"theirs\") { id } }",
                json!({}),
            )
            .await;
        let lead = &d["createLead"]["id"];
        app.ok(
            Some(&s.token),
            "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"x\") { id } }",
            json!({ "l": lead }),
        )
        .await;
    }
    let d = app
        .ok(
            Some(&carl.token),
            "mutation { createLead(name: \"Acme\") { id } }",
            json!({}),
        )
        .await;
    let lead = d["createLead"]["id"].as_str().unwrap().to_string();

    let me = "{ me { id name email role currentTeam { id name } teams { id name } } }";
    let teams = "query($f: Int) { teams(first: $f) { edges { node { name owner { id name impersonationCheck { allowed reason } } } } } }";
    let audit =
        "{ auditLogs(first: 20) { edges { node { id action actor { name } createdAt } } } }";
    let comments = "query($l: ID!) { lead(id: $l) { name commentsConnection(first: 20) { edges { node { id text author { name } } } } } }";
    let add = "mutation($l: ID!) { addLeadComment(leadId: $l, text: \"called back\") { id } }";
    let impersonate =
        "mutation($u: ID!) { impersonate(userId: $u, reason: \"ticket\") { accessToken } }";
    let cancel = "mutation { cancelImpersonation { accessToken } }";

    let mut ops: Vec<(&str, Vec<Statement>)> = vec![];
    ops.push((
        "me",
        statements(&seen, app.gql(Some(&carl.token), me, json!({}))).await,
    ));
    ops.push((
        "teams(first: 20)",
        statements(
            &seen,
            app.gql(Some(&admin.token), teams, json!({ "f": 20 })),
        )
        .await,
    ));
    ops.push((
        "auditLogs as an admin",
        statements(&seen, app.gql(Some(&admin.token), audit, json!({}))).await,
    ));
    ops.push((
        "auditLogs as a customer",
        statements(&seen, app.gql(Some(&carl.token), audit, json!({}))).await,
    ));
    ops.push((
        "lead.commentsConnection(first: 20)",
        statements(
            &seen,
            app.gql(Some(&carl.token), comments, json!({ "l": lead })),
        )
        .await,
    ));
    ops.push((
        "addLeadComment",
        statements(&seen, app.gql(Some(&carl.token), add, json!({ "l": lead }))).await,
    ));
    let v = app
        .gql(
            Some(&admin.token),
            impersonate,
            json!({ "u": carl.user_id }),
        )
        .await;
    let t = v["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    seen.lock().unwrap().clear();
    ops.push((
        "me while impersonating",
        statements(&seen, app.gql(Some(&t), me, json!({}))).await,
    ));
    ops.push((
        "cancelImpersonation",
        statements(&seen, app.gql(Some(&t), cancel, json!({}))).await,
    ));
    ops.push((
        "impersonate",
        statements(
            &seen,
            app.gql(
                Some(&admin.token),
                impersonate,
                json!({ "u": carl.user_id }),
            ),
        )
        .await,
    ));

    let mut failures = vec![];
    let mut explained = 0;
    for (op, stmts) in &ops {
        assert!(!stmts.is_empty(), "{op} ran no statement");
        eprintln!("{op}: {} statements", stmts.len());
        for s in stmts {
            explained += 1;
            for p in plan_problems(&app, s).await {
                failures.push(format!("{op}: {}\n    plan: {p}", s.sql));
            }
        }
    }
    assert!(explained > 30, "{explained} statements");
    // What a request costs in statements: `me` is the user and one read of the teams (and
    // the current team); an impersonated `me` adds nothing to authenticate (the session, both
    // people, its grant and the kill switch are one statement) but its ledger row: written
    // before the operation runs (pending) and settled after, two statements.
    let count = |name: &str| ops.iter().find(|(op, _)| *op == name).unwrap().1.len();
    assert_eq!(count("me"), 3, "me");
    assert_eq!(count("me while impersonating"), 5, "me while impersonating");
    assert!(
        failures.is_empty(),
        "statements without an index:\n{}",
        failures.join("\n")
    );
}
