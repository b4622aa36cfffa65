//! How impersonation sessions end: the one conditional end (`end_once`) that every ending
//! goes through (cancel, the per-request re-check, an admin, the kill switch, the sweep), so a
//! session ends exactly once with its reason, whoever notices first, on any server.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::context::RequestMeta;
use crate::config::Config;
use crate::db::db_time;
use crate::entities::impersonation;
use crate::error::AppResult;
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::notify::notices::{self, Notice};
use crate::services::{accounts::users, work::memberships};
use crate::state::AppState;

/// Why a session ended (the enum lives beside `Mode`, in the entity it describes).
pub use crate::entities::impersonation::EndReason;

/// Ends `record` if it is still running: a conditional update, so of several requests,
/// sweeps or servers noticing the end at once, exactly one records it, with its audit row (the
/// admin acting on the target, in the target's team log, `details.endReason` and the cause)
/// and the customer's notice (how it ended, how long it lasted, how many changes it made).
/// Run it inside the transaction of the change that ends the session. Returns whether this
/// call ended it.
pub async fn end_once(
    conn: &impl ConnectionTrait,
    config: &Config,
    record: &impersonation::Model,
    reason: EndReason,
    cause: &str,
    at: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<bool> {
    let ended = impersonation::Entity::update_many()
        .col_expr(impersonation::Column::EndedAt, Expr::value(db_time(at)))
        .col_expr(
            impersonation::Column::EndReason,
            Expr::value(reason.as_str()),
        )
        .filter(impersonation::Column::Id.eq(record.id.clone()))
        .filter(impersonation::Column::EndedAt.is_null())
        .exec(conn)
        .await?;
    if ended.rows_affected != 1 {
        return Ok(false);
    }
    // Counted when this server ends it (a transaction that rolls back later is counted too:
    // rare, and the counter only ever overcounts by it).
    crate::metrics::session_ended(reason.as_str());
    let target = users::find_user(conn, &record.impersonated_user_id).await?;
    let admin = users::find_user(conn, &record.impersonator_id).await?;
    let team = memberships::valid_current_team(conn, &target).await?;
    audit::record(
        conn,
        Entry::new(
            action::IMPERSONATION_ENDED,
            Attribution::admin_on(&record.impersonator_id, &record.impersonated_user_id),
            at,
        )
        .team(team.as_deref())
        .entity("Impersonation", &record.id)
        .session(&record.id)
        .details(serde_json::json!({ "endReason": reason.as_str(), "cause": cause }))
        .meta(meta),
    )
    .await?;
    let changes = audit::changes_in(conn, &record.id).await?;
    let message = format!(
        "{} left your account: {}, after {}, with {} change{}.",
        crate::services::audit::attribution::support_person(&admin),
        reason.in_words(),
        notices::minutes_in_words(at - record.started_at),
        changes,
        if changes == 1 { "" } else { "s" },
    );
    let notice = Notice {
        kind: notices::kind::IMPERSONATION_ENDED,
        message,
        subject: "Support left your account",
        impersonation_id: Some(&record.id),
        grant_id: record.grant_id.as_deref(),
    };
    notices::notify(conn, config, &target, notice, at).await?;
    let ended = crate::services::webhooks::Happening::Session("impersonation.ended", &record.id);
    crate::services::webhooks::emit(conn, ended, at).await?;
    Ok(true)
}

/// Ends a session found dead outside any mutation (by the per-request re-check or the sweep),
/// in a transaction of its own. The end time of an expired session is its expiry.
pub async fn end_now(
    state: &AppState,
    record: &impersonation::Model,
    reason: EndReason,
    cause: &str,
) -> AppResult<bool> {
    let now = state.clock.now();
    let at = match (reason, state.config.impersonation_idle) {
        (EndReason::Expired, _) => Ord::min(record.expires_at, now),
        (EndReason::IdleTimeout, Some(idle)) => Ord::min(record.last_activity() + idle, now),
        _ => now,
    };
    let txn = crate::db::record_txn(state).await?;
    let meta = RequestMeta::default();
    let ended = end_once(&txn, &state.config, record, reason, cause, at, &meta).await?;
    txn.commit().await?;
    Ok(ended)
}

/// Records the end of every session that expired or went idle without anyone noticing
/// (nobody used its token again). Run periodically by `serve`; returns how many it ended.
pub async fn sweep_expired(state: &AppState) -> AppResult<usize> {
    use impersonation::Column as C;
    let now = state.clock.now();
    let mut n = 0;
    let expired = impersonation::Entity::find()
        .filter(C::EndedAt.is_null())
        .filter(C::ExpiresAt.lte(db_time(now)))
        .order_by_asc(C::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    for record in &expired {
        if end_now(state, record, EndReason::Expired, "EXPIRED").await? {
            n += 1;
        }
    }
    if let Some(idle) = state.config.impersonation_idle {
        let idle_since = db_time(now - idle);
        let idle = impersonation::Entity::find()
            .filter(C::EndedAt.is_null())
            .filter(C::LastActivityAt.lte(idle_since))
            .order_by_asc(C::Id)
            .limit(500)
            .all(&state.db)
            .await?;
        for record in &idle {
            if end_now(state, record, EndReason::IdleTimeout, "IDLE_TIMEOUT").await? {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// How stale `last_activity_at` may get before a request writes it again: the idle timeout
/// is kept to within this, without a write on every request.
pub const ACTIVITY_GRANULARITY: chrono::Duration = chrono::Duration::seconds(30);

/// Notes a request in a running session: writes `last_activity_at` only when the stored value
/// is older than `ACTIVITY_GRANULARITY` (one conditional update; concurrent requests write
/// it at most once), and keeps `record` in step.
pub async fn touch(
    state: &AppState,
    record: &mut impersonation::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    use impersonation::Column as C;
    if now - record.last_activity() < ACTIVITY_GRANULARITY {
        return Ok(());
    }
    record.last_activity_at = Some(db_time(now));
    let txn = crate::db::record_txn(state).await?;
    impersonation::Entity::update_many()
        .col_expr(C::LastActivityAt, Expr::value(Some(db_time(now))))
        .filter(C::Id.eq(record.id.clone()))
        .filter(C::EndedAt.is_null())
        .filter(C::LastActivityAt.lt(db_time(now - ACTIVITY_GRANULARITY)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Which running sessions `end_running` ends.
#[derive(Debug, Clone, Copy)]
pub enum Running<'a> {
    /// Every one (the kill switch).
    All,
    /// Those into this user's account (consent withdrawn).
    Into(&'a str),
    /// Those into this user's account that run under no grant (approval turned on).
    IntoWithoutGrant(&'a str),
    /// Those running under this grant (the grant revoked).
    UnderGrant(&'a str),
    /// Those this admin runs (their role, 2FA or password changed).
    By(&'a str),
}

/// Ends, in `conn`, the sessions a change to `user` takes the ground from (`PolicyChanged`):
/// those the user runs when they stop being an admin with 2FA or change their password, and
/// those into the user's account when they become an admin. Called by the mutation that
/// changes them, so the end commits with the change.
pub async fn end_for_user_change(
    conn: &impl ConnectionTrait,
    config: &Config,
    before: &crate::entities::user::Model,
    after: &crate::entities::user::Model,
    at: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<usize> {
    let mut n = 0;
    let cause = if before.role.is_admin() && !after.role.is_admin() {
        Some("IMPERSONATOR_NOT_ADMIN")
    } else if before.two_factor_on() && !after.two_factor_on() {
        Some("IMPERSONATOR_TWO_FACTOR_OFF")
    } else if before.password_hash != after.password_hash {
        Some("IMPERSONATOR_PASSWORD_CHANGED")
    } else {
        None
    };
    if let Some(cause) = cause {
        let by = Running::By(&after.id);
        n += end_running(conn, config, by, EndReason::PolicyChanged, cause, at, meta).await?;
    }
    if !before.role.is_admin() && after.role.is_admin() {
        let into = Running::Into(&after.id);
        let cause = "TARGET_BECAME_ADMIN";
        n += end_running(
            conn,
            config,
            into,
            EndReason::PolicyChanged,
            cause,
            at,
            meta,
        )
        .await?;
    }
    Ok(n)
}

/// Ends every running session of `which` with `reason` and `cause`, in `conn`: the
/// transaction of the change that ends them (consent withdrawn, approval turned on, a grant
/// revoked, the kill switch). Returns how many it ended.
pub async fn end_running(
    conn: &impl ConnectionTrait,
    config: &Config,
    which: Running<'_>,
    reason: EndReason,
    cause: &str,
    at: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<usize> {
    use impersonation::Column as C;
    let mut q = impersonation::Entity::find().filter(C::EndedAt.is_null());
    q = match which {
        Running::All => q,
        Running::Into(user_id) => q.filter(C::ImpersonatedUserId.eq(user_id)),
        Running::IntoWithoutGrant(user_id) => q
            .filter(C::ImpersonatedUserId.eq(user_id))
            .filter(C::GrantId.is_null()),
        Running::UnderGrant(grant_id) => q.filter(C::GrantId.eq(grant_id)),
        Running::By(user_id) => q.filter(C::ImpersonatorId.eq(user_id)),
    };
    let mut n = 0;
    for r in &q.all(conn).await? {
        if end_once(conn, config, r, reason, cause, at, meta).await? {
            n += 1;
        }
    }
    Ok(n)
}
