//! Reading grants: where a grant stands now (its EXPIRED status is computed from
//! `expires_at` at read time, so nothing has to write it), the grant that lets an admin in,
//! and the lists the customer and admins see.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::MAX_OWN_LISTED;
use crate::db::db_time;
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::{self as grant, Status};
use crate::error::AppResult;
use crate::services::pagination::{Page, PageArgs};

/// Where the grant stands now: a PENDING or APPROVED grant past its `expires_at` has lapsed
/// or run out (EXPIRED), whether or not anything has written that down yet.
pub fn status(g: &grant::Model, now: DateTime<Utc>) -> Status {
    match g.status {
        Status::Pending | Status::Approved if g.expires_at.is_none_or(|e| e <= now) => {
            Status::Expired
        }
        s => s,
    }
}

/// The same rule as `status`, as a filter on stored rows.
pub(super) fn with_status(s: Status, now: DateTime<Utc>) -> Condition {
    use grant::Column as C;
    let now = db_time(now);
    let live = |s: Status| {
        Condition::all()
            .add(C::Status.eq(s.as_str()))
            .add(C::ExpiresAt.gt(now))
    };
    match s {
        Status::Pending | Status::Approved => live(s),
        Status::Expired => Condition::any().add(C::Status.eq(s.as_str())).add(
            Condition::all()
                .add(C::Status.is_in([Status::Pending.as_str(), Status::Approved.as_str()]))
                .add(
                    Condition::any()
                        .add(C::ExpiresAt.is_null())
                        .add(C::ExpiresAt.lte(now)),
                ),
        ),
        Status::Denied | Status::Revoked => Condition::all().add(C::Status.eq(s.as_str())),
    }
}

/// The approved, unexpired grant of `user_id` that lets `admin_id` in: asked by that admin or
/// opened unasked. Of several, the one allowing READ_WRITE, then the one lasting longest.
pub async fn covering(
    conn: &impl ConnectionTrait,
    admin_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<grant::Model>> {
    use grant::Column as C;
    let grants = grant::Entity::find()
        .filter(C::UserId.eq(user_id))
        .filter(with_status(Status::Approved, now))
        .filter(
            Condition::any()
                .add(C::RequestedById.eq(admin_id))
                .add(C::RequestedById.is_null()),
        )
        .all(conn)
        .await?;
    Ok(grants
        .into_iter()
        .max_by_key(|g| (g.mode == Mode::ReadWrite, g.expires_at)))
}

/// The grant with this id, as stored.
pub async fn find(conn: &impl ConnectionTrait, id: &str) -> AppResult<Option<grant::Model>> {
    Ok(grant::Entity::find_by_id(id.to_string()).one(conn).await?)
}

/// The caller's own grants, newest first (at most `MAX_OWN_LISTED`), optionally of one status.
pub async fn mine(
    conn: &impl ConnectionTrait,
    user_id: &str,
    only: Option<Status>,
    now: DateTime<Utc>,
) -> AppResult<Vec<grant::Model>> {
    let mut q = grant::Entity::find()
        .filter(grant::Column::UserId.eq(user_id))
        .order_by_desc(grant::Column::Id);
    if let Some(s) = only {
        q = q.filter(with_status(s, now));
    }
    Ok(q.limit(MAX_OWN_LISTED).all(conn).await?)
}

/// Every grant, newest first, for admins: optionally of one status and one user.
pub async fn list(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    only: Option<Status>,
    user_id: Option<&str>,
    page: &PageArgs,
) -> AppResult<Page<grant::Model>> {
    let mut q = grant::Entity::find().order_by_desc(grant::Column::Id);
    if let Some(s) = only {
        q = q.filter(with_status(s, now));
    }
    if let Some(u) = user_id {
        q = q.filter(grant::Column::UserId.eq(u));
    }
    if let Some(after) = &page.after {
        q = q.filter(grant::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}
