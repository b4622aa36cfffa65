//! Support access grants: the customer's permission for support to enter their account.
//! An admin asks (`request`, PENDING, lapsing after `SUPPORT_REQUEST_TTL_HOURS`), the customer
//! approves (the window starts then, never longer than asked) or denies; the customer may also
//! open a window unasked, for any admin (`open`), and revoke an open one, which ends every
//! session running under it in the same transaction. Only the user a grant is for decides, as
//! themselves: the guards refuse impersonation tokens before anything here runs, and a grant
//! of someone else is NOT_FOUND.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::attribution::Attribution;
use super::audit::{self, Entry, action};
use super::notifications::{self, Notice};
use super::pagination::{Page, PageArgs};
use super::session_ends::{self, EndReason};
use super::{db_time, memberships, new_id, users, validation};
use crate::AppState;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::policy::{self, Ask, Impersonator, Target};
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::{self as grant, Status};
use crate::error::{AppError, AppResult};

/// The longest window, in minutes (a week).
pub const MAX_MINUTES: i32 = 10_080;
/// A request's window when the admin does not say.
pub const DEFAULT_MINUTES: i32 = 60;
/// How many of a user's own grants `me.supportAccessGrants` lists, newest first.
pub const MAX_OWN_LISTED: u64 = 100;

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
fn with_status(s: Status, now: DateTime<Utc>) -> Condition {
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

/// What an admin asks for in `requestSupportAccess`.
pub struct AccessRequest<'a> {
    pub user_id: &'a str,
    pub reason: &'a str,
    pub mode: Mode,
    pub minutes: i32,
}

/// `requestSupportAccess`: an admin who could impersonate the user but for approval asks for
/// a window. PENDING until the user decides or it lapses. The checks run in `impersonate`'s
/// order, then the reason's, then the minutes'.
pub async fn request(
    state: &AppState,
    caller: &AuthContext,
    ask: AccessRequest<'_>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    let now = state.clock.now();
    let target = users::find_user(&state.db, ask.user_id).await?;
    let switch = super::settings::switch(&state.db).await?;
    let but_for_approval = Target {
        requires_approval: false,
        ..Target::of(&target)
    };
    let wanted = Ask::mode(Some(ask.mode), ask.mode);
    if let Err(denial) = policy::check(
        switch,
        Impersonator::caller(caller),
        but_for_approval,
        wanted,
    ) {
        let by = Attribution::admin_on(&caller.true_user().id, &target.id);
        let entry = Entry::new(action::SUPPORT_ACCESS_REFUSED, by, now)
            .team(caller.team_id.as_deref())
            .details(serde_json::json!({
                "operation": "requestSupportAccess",
                "code": "IMPERSONATION_DENIED",
                "reason": denial.as_str(),
            }))
            .meta(meta);
        audit::record(&state.db, entry).await?;
        return Err(AppError::ImpersonationDenied(denial));
    }
    let reason = validation::text("reason", ask.reason, validation::MAX_REASON)?;
    let minutes = window("minutes", ask.minutes, MAX_MINUTES)?;
    let lapses = crate::clock::later(now, state.config.support_request_ttl)?;
    let txn = super::write_txn(&state.db).await?;
    let row = grant::ActiveModel {
        id: Set(new_id()),
        user_id: Set(target.id.clone()),
        requested_by_id: Set(Some(caller.user.id.clone())),
        reason: Set(reason.clone()),
        mode: Set(ask.mode),
        requested_minutes: Set(minutes),
        status: Set(Status::Pending),
        created_at: Set(db_time(now)),
        decided_at: Set(None),
        expires_at: Set(Some(db_time(lapses))),
    }
    .insert(&txn)
    .await?;
    // In the customer's team log: it is about their account.
    let team = memberships::valid_current_team(&txn, &target).await?;
    let entry = Entry::new(
        action::SUPPORT_ACCESS_REQUESTED,
        Attribution::admin_on(&caller.user.id, &target.id),
        now,
    )
    .team(team.as_deref())
    .entity("SupportAccessGrant", &row.id)
    .details(serde_json::json!({
        "reason": reason, "mode": ask.mode.as_str(), "minutes": minutes,
    }))
    .meta(meta);
    audit::record(&txn, entry).await?;
    let message = format!(
        "{} asks to enter your account for {} ({}): {}.",
        notifications::support_name(caller.true_user()),
        notifications::minutes_in_words(chrono::Duration::minutes(minutes.into())),
        ask.mode.in_words(),
        reason,
    );
    let notice = Notice {
        kind: notifications::kind::SUPPORT_ACCESS_REQUESTED,
        message,
        subject: "Support asks to enter your account",
        impersonation_id: None,
        grant_id: Some(&row.id),
    };
    notifications::notify(&txn, &state.config, &target, notice, now).await?;
    txn.commit().await?;
    Ok(row)
}

/// `approveSupportAccess`: the user approves a PENDING request, for at most the minutes asked
/// (all of them by default). The window starts now.
pub async fn approve(
    state: &AppState,
    caller: &AuthContext,
    id: &str,
    minutes: Option<i32>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, caller, "approveSupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, caller, id).await?;
        if status(&g, now) != Status::Pending {
            return Err(not_in("PENDING", &g, now));
        }
        let minutes = window(
            "minutes",
            minutes.unwrap_or(g.requested_minutes),
            g.requested_minutes,
        )?;
        let until = crate::clock::later(now, chrono::Duration::minutes(minutes.into()))?;
        let txn = super::write_txn(&state.db).await?;
        let moved = transition(
            &txn,
            &g,
            Status::Pending,
            Status::Approved,
            now,
            Some(until),
        )
        .await?;
        if !moved {
            return Err(not_in("PENDING", &g, now));
        }
        let details = serde_json::json!({ "minutes": minutes, "mode": g.mode.as_str() });
        decided(
            &txn,
            caller,
            action::SUPPORT_ACCESS_APPROVED,
            &g,
            details,
            now,
            meta,
        )
        .await?;
        let g = reload(&txn, id).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// `denySupportAccess`: the user turns down a PENDING request.
pub async fn deny(
    state: &AppState,
    caller: &AuthContext,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, caller, "denySupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, caller, id).await?;
        let txn = super::write_txn(&state.db).await?;
        if !transition(&txn, &g, Status::Pending, Status::Denied, now, None).await? {
            return Err(not_in("PENDING", &g, now));
        }
        let details = serde_json::json!({});
        decided(
            &txn,
            caller,
            action::SUPPORT_ACCESS_DENIED,
            &g,
            details,
            now,
            meta,
        )
        .await?;
        let g = reload(&txn, id).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// `revokeSupportAccess`: the user closes an open window. Every session running under it
/// ends in the same transaction (`REVOKED_BY_USER`), so on every server at once.
pub async fn revoke(
    state: &AppState,
    caller: &AuthContext,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, caller, "revokeSupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, caller, id).await?;
        let txn = super::write_txn(&state.db).await?;
        if !transition(&txn, &g, Status::Approved, Status::Revoked, now, Some(now)).await? {
            return Err(not_in("APPROVED", &g, now));
        }
        let ended = session_ends::end_running(
            &txn,
            &state.config,
            session_ends::Running::UnderGrant(&g.id),
            EndReason::RevokedByUser,
            "GRANT_REVOKED",
            now,
            meta,
        )
        .await?;
        let details = serde_json::json!({ "sessionsEnded": ended });
        decided(
            &txn,
            caller,
            action::SUPPORT_ACCESS_REVOKED,
            &g,
            details,
            now,
            meta,
        )
        .await?;
        let g = reload(&txn, id).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// What the user says in `grantSupportAccess`.
pub struct Window<'a> {
    pub reason: &'a str,
    pub mode: Mode,
    pub minutes: i32,
}

/// `grantSupportAccess`: the user opens a window for any admin, unasked, starting now.
pub async fn open(
    state: &AppState,
    caller: &AuthContext,
    w: Window<'_>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, caller, "grantSupportAccess", "", meta, async {
        let reason = validation::text("reason", w.reason, validation::MAX_REASON)?;
        let minutes = window("minutes", w.minutes, MAX_MINUTES)?;
        let now = state.clock.now();
        let until = crate::clock::later(now, chrono::Duration::minutes(minutes.into()))?;
        let txn = super::write_txn(&state.db).await?;
        let g = grant::ActiveModel {
            id: Set(new_id()),
            user_id: Set(caller.user.id.clone()),
            requested_by_id: Set(None),
            reason: Set(reason),
            mode: Set(w.mode),
            requested_minutes: Set(minutes),
            status: Set(Status::Approved),
            created_at: Set(db_time(now)),
            decided_at: Set(Some(db_time(now))),
            expires_at: Set(Some(db_time(until))),
        }
        .insert(&txn)
        .await?;
        let details = serde_json::json!({ "minutes": minutes, "mode": w.mode.as_str() });
        decided(
            &txn,
            caller,
            action::SUPPORT_ACCESS_GRANTED,
            &g,
            details,
            now,
            meta,
        )
        .await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
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

/// A grant of the caller's; anyone else's is NOT_FOUND (its existence does not leak).
async fn own(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<grant::Model> {
    find(conn, id)
        .await?
        .filter(|g| g.user_id == caller.user.id)
        .ok_or(AppError::NotFound("support access grant"))
}

async fn reload(conn: &impl ConnectionTrait, id: &str) -> AppResult<grant::Model> {
    find(conn, id)
        .await?
        .ok_or(AppError::NotFound("support access grant"))
}

/// Moves a live grant from `from` to `to` with one conditional update, so of two racing
/// decisions one wins. `expires_at` becomes `until` when given (the approved window, or the
/// revocation time); a denial clears it.
async fn transition(
    conn: &impl ConnectionTrait,
    g: &grant::Model,
    from: Status,
    to: Status,
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> AppResult<bool> {
    use grant::Column as C;
    let mut update = grant::Entity::update_many()
        .col_expr(C::Status, Expr::value(to.as_str()))
        .col_expr(C::ExpiresAt, Expr::value(until.map(db_time)));
    if to != Status::Revoked {
        update = update.col_expr(C::DecidedAt, Expr::value(Some(db_time(now))));
    }
    let moved = update
        .filter(C::Id.eq(g.id.clone()))
        .filter(with_status(from, now))
        .exec(conn)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// The audit row of the user's decision, in the user's team log.
async fn decided(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    what: &'static str,
    g: &grant::Model,
    details: serde_json::Value,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<()> {
    let entry = Entry::for_caller(what, caller, meta, now)
        .entity("SupportAccessGrant", &g.id)
        .details(details);
    audit::record(conn, entry).await?;
    Ok(())
}

fn not_in(wanted: &str, g: &grant::Model, now: DateTime<Utc>) -> AppError {
    AppError::bad_input(
        "grantId",
        format!("this grant is {}, not {wanted}", status(g, now).as_str()),
    )
}

fn window(field: &'static str, minutes: i32, max: i32) -> AppResult<i32> {
    if (1..=max).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(AppError::bad_input(
            field,
            format!("must be between 1 and {max} minutes"),
        ))
    }
}

/// Runs a decision; a refusal (someone else's grant, a grant not in the right state, bad
/// minutes) is audited on the database itself, so the row stands while nothing else changes.
async fn audited_refusal<T>(
    state: &AppState,
    caller: &AuthContext,
    operation: &'static str,
    grant_id: &str,
    meta: &RequestMeta,
    run: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let result = run.await;
    if let Err(e) = &result
        && !matches!(e, AppError::Internal(_))
    {
        let mut entry = Entry::for_caller(
            action::SUPPORT_ACCESS_REFUSED,
            caller,
            meta,
            state.clock.now(),
        )
        .details(serde_json::json!({ "operation": operation, "code": e.code() }));
        if !grant_id.is_empty() {
            entry = entry.entity("SupportAccessGrant", grant_id);
        }
        audit::record(&state.db, entry).await?;
    }
    result
}
