//! The activity ledger: every GraphQL operation made with an impersonation token, refused
//! ones included, as one row of its session. Only the operation's type, name, top-level
//! fields and outcome: never variable values or the query text (they carry customer data and
//! secrets). Written on its own, outside the operation's transaction, so a refused mutation
//! still changes nothing else.
//!
//! The row is written *before* the operation runs (`begin`, outcome `PENDING`) and settled
//! after (`settle`): when the ledger cannot be written (a full disk, a database refusing
//! writes) the operation is refused and has no effect, so nothing support does goes
//! unrecorded. A row left `PENDING` is an operation whose server stopped while it ran.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::db::{db_time, new_id};
use crate::entities::impersonation_activity as activity;
use crate::error::AppResult;
use crate::services::pagination::{Page, PageArgs};

/// One operation to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// query, mutation or subscription.
    pub kind: &'static str,
    pub name: Option<String>,
    pub fields: Vec<String>,
    /// The record its first field is about (`lead`, `business`, `team`) and its id.
    pub subject: Option<(&'static str, String)>,
}

/// The outcome of an operation that has begun and not yet been settled.
pub const PENDING: &str = "PENDING";

/// Writes the row of an operation about to run (outcome `PENDING`), in a write of its own.
/// Returns the row's id for `settle`. An error means the operation must not run.
pub async fn begin(
    state: &crate::state::AppState,
    impersonation_id: &str,
    op: &Operation,
    at: DateTime<Utc>,
) -> AppResult<String> {
    let (id, session, op) = (new_id(), impersonation_id.to_string(), op.clone());
    let row = id.clone();
    crate::db::record(state, move |txn| async move {
        insert(&txn, row, &session, &op, PENDING, at).await?;
        txn.commit().await?;
        Ok(())
    })
    .await?;
    Ok(id)
}

/// Sets the outcome of a row `begin` wrote.
pub async fn settle(state: &crate::state::AppState, row_id: &str, outcome: &str) -> AppResult<()> {
    use sea_orm::sea_query::Expr;
    let (id, outcome): (String, String) = (row_id.to_string(), outcome.chars().take(64).collect());
    crate::db::record(state, move |txn| async move {
        activity::Entity::update_many()
            .col_expr(activity::Column::Outcome, Expr::value(outcome))
            .filter(activity::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Records one operation in a write of its own (outside the operation's transaction, which
/// may have been refused and rolled back).
pub async fn record_alone(
    state: &crate::state::AppState,
    impersonation_id: &str,
    op: &Operation,
    outcome: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let (id, op, outcome) = (
        impersonation_id.to_string(),
        op.clone(),
        outcome.to_string(),
    );
    crate::db::record(state, move |txn| async move {
        record(&txn, &id, &op, &outcome, at).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

pub async fn record(
    conn: &impl ConnectionTrait,
    impersonation_id: &str,
    op: &Operation,
    outcome: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    insert(conn, new_id(), impersonation_id, op, outcome, at).await
}

async fn insert(
    conn: &impl ConnectionTrait,
    id: String,
    impersonation_id: &str,
    op: &Operation,
    outcome: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    activity::ActiveModel {
        id: Set(id),
        impersonation_id: Set(impersonation_id.to_string()),
        at: Set(db_time(at)),
        operation_type: Set(op.kind.to_string()),
        operation_name: Set(op.name.as_ref().map(|n| n.chars().take(200).collect())),
        fields: Set(serde_json::to_string(&op.fields).unwrap_or_else(|_| "[]".into())),
        outcome: Set(outcome.chars().take(64).collect()),
        subject_type: Set(op.subject.as_ref().map(|(k, _)| k.to_string())),
        subject_id: Set(op.subject.as_ref().map(|(_, id)| id.clone())),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A session's activity, oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    impersonation_id: &str,
    page: &PageArgs,
) -> AppResult<Page<activity::Model>> {
    use activity::Column as C;
    let mut q = activity::Entity::find()
        .filter(C::ImpersonationId.eq(impersonation_id))
        .order_by_asc(C::Id);
    if let Some(after) = &page.after {
        q = q.filter(C::Id.gt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// The field names of a stored row.
pub fn fields(row: &activity::Model) -> Vec<String> {
    serde_json::from_str(&row.fields).unwrap_or_default()
}
