//! Migrations that change the data model move the rows already there.

use crate::common::*;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};

const T: &str = "'2026-01-01 10:00:00+00:00'";

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn comments_and_roles_written_before_the_new_model_are_moved() {
    let (url, _dir) = fresh_database().await;
    let db = crm::db::connect_url(&url).await.unwrap();
    // The data model as it was after migration 4: two comment tables, roles as free text.
    migration::Migrator::up(&db, Some(4)).await.unwrap();
    for sql in [
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, totp_enabled, created_at, updated_at) VALUES ('u1', 'a@example.com', 'Ann', 'SUPERUSER', 'x', true, false, {T}, {T})"
        ),
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, totp_enabled, created_at, updated_at) VALUES ('u2', 'b@example.com', 'Ada', 'ADMIN', 'x', true, false, {T}, {T})"
        ),
        format!("INSERT INTO teams (id, name, owner_id, created_at) VALUES ('t1', 'T', 'u1', {T})"),
        format!(
            "INSERT INTO businesses (id, team_id, name, created_by_id, created_at) VALUES ('b1', 't1', 'B', 'u1', {T})"
        ),
        format!(
            "INSERT INTO leads (id, team_id, business_id, name, created_by_id, created_at) VALUES ('l1', 't1', 'b1', 'L', 'u1', {T})"
        ),
        format!(
            "INSERT INTO business_comments (id, business_id, author_id, on_behalf_of_id, text, is_impersonated, created_at) VALUES ('c1', 'b1', 'u2', 'u1', 'on the business', true, {T})"
        ),
        format!(
            "INSERT INTO lead_comments (id, lead_id, author_id, on_behalf_of_id, text, is_impersonated, created_at) VALUES ('c2', 'l1', 'u1', NULL, 'on the lead', false, {T})"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();

    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM comments").await, 2);
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM comments WHERE id = 'c1' AND business_id = 'b1' AND lead_id IS NULL AND author_id = 'u2' AND on_behalf_of_id = 'u1' AND text = 'on the business' AND is_impersonated = true").await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM comments WHERE id = 'c2' AND lead_id = 'l1' AND business_id IS NULL AND text = 'on the lead' AND is_impersonated = false").await,
        1
    );
    // An unknown stored role becomes the least privilege; known ones stay.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM users WHERE id = 'u1' AND role = 'USER'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM users WHERE id = 'u2' AND role = 'ADMIN'"
        )
        .await,
        1
    );
    // A comment on both, or on neither, is refused by the database itself.
    let both = format!(
        "INSERT INTO comments (id, business_id, lead_id, author_id, text, is_impersonated, created_at) VALUES ('c3', 'b1', 'l1', 'u1', 'x', false, {T})"
    );
    assert!(db.execute_unprepared(&both).await.is_err());
    let neither = format!(
        "INSERT INTO comments (id, business_id, lead_id, author_id, text, is_impersonated, created_at) VALUES ('c4', NULL, NULL, 'u1', 'x', false, {T})"
    );
    assert!(db.execute_unprepared(&neither).await.is_err());
}

#[tokio::test]
async fn sessions_and_users_from_before_support_access_keep_the_designs_behaviour() {
    let (url, _dir) = fresh_database().await;
    let db = crm::db::connect_url(&url).await.unwrap();
    // The data model as it was after migration 7.
    migration::Migrator::up(&db, Some(7)).await.unwrap();
    for sql in [
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, totp_enabled, created_at, updated_at) VALUES ('u1', 'a@example.com', 'Ada', 'ADMIN', 'x', true, true, {T}, {T})"
        ),
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, totp_enabled, created_at, updated_at) VALUES ('u2', 'c@example.com', 'Carl', 'USER', 'x', true, false, {T}, {T})"
        ),
        format!(
            "INSERT INTO impersonations (id, code, impersonator_id, impersonated_user_id, started_at, expires_at, mode) VALUES ('i1', 'secret-code', 'u1', 'u2', {T}, '2026-01-01 10:30:00+00:00', 'READ_WRITE')"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();
    // Nobody required approval before: nobody does now.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM users WHERE impersonation_requires_approval = false"
        )
        .await,
        2
    );
    // A session from before runs under no grant; its last activity is its start.
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) AS n FROM impersonations WHERE id = 'i1' AND grant_id IS NULL AND last_activity_at = {T}")).await,
        1
    );
}

#[tokio::test]
async fn sessions_from_before_the_history_in_words_keep_how_they_started_and_their_elevation() {
    let (url, _dir) = fresh_database().await;
    let db = crm::db::connect_url(&url).await.unwrap();
    // The data model as it was after migration 11.
    migration::Migrator::up(&db, Some(11)).await.unwrap();
    for sql in [
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, impersonation_requires_approval, totp_enabled, created_at, updated_at) VALUES ('u1', 'a@example.com', 'Ada', 'ADMIN', 'x', true, false, true, {T}, {T})"
        ),
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, impersonation_allowed, impersonation_requires_approval, totp_enabled, created_at, updated_at) VALUES ('u2', 'c@example.com', 'Carl', 'USER', 'x', true, false, false, {T}, {T})"
        ),
        // Elevated from read-only at 10:05, and one that ran read-write from the start.
        format!(
            "INSERT INTO impersonations (id, code, impersonator_id, impersonated_user_id, started_at, expires_at, mode) VALUES ('i1', 'code-1', 'u1', 'u2', {T}, '2026-01-01 10:30:00+00:00', 'READ_WRITE')"
        ),
        format!(
            "INSERT INTO impersonations (id, code, impersonator_id, impersonated_user_id, started_at, expires_at, mode) VALUES ('i2', 'code-2', 'u1', 'u2', {T}, '2026-01-01 10:30:00+00:00', 'READ_WRITE')"
        ),
        "INSERT INTO audit_logs (id, actor_id, on_behalf_of_id, action, entity_type, entity_id, is_impersonated, details, created_at, impersonation_id) VALUES ('a1', 'u1', 'u2', 'IMPERSONATION_ELEVATED', 'Impersonation', 'i1', true, '{\"reason\":\"Fix the invoice comment\",\"from\":\"READ_ONLY\",\"to\":\"READ_WRITE\"}', '2026-01-01 10:05:00+00:00', 'i1')".to_string(),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM impersonations WHERE id = 'i1' AND initial_mode = 'READ_ONLY' AND elevated_at = '2026-01-01 10:05:00+00:00' AND elevation_reason = 'Fix the invoice comment' AND ticket IS NULL").await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM impersonations WHERE id = 'i2' AND initial_mode = 'READ_WRITE' AND elevated_at IS NULL AND elevation_reason IS NULL").await,
        1
    );
    // Four-eyes review (migration 13): no account was marked, no session was reviewed.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM users WHERE impersonation_review_required = false"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM impersonations WHERE review_id IS NULL"
        )
        .await,
        2
    );
}
