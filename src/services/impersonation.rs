//! Impersonation: start, cancel, end, history. The rules themselves live in `auth::policy`;
//! the per-request re-check lives in `services::authentication`.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::attribution::Attribution;
use super::audit::{self, Entry, action};
use super::pagination::{Page, PageArgs};
use super::sessions::{self, Refresh, Session};
use super::{db_time, memberships, new_id, users, validation};
use crate::AppState;
use crate::auth::context::{ActiveImpersonation, AuthContext, RequestMeta};
use crate::auth::policy::{self, Impersonator, Target};
use crate::auth::tokens::{self, AccessGrant, ImpersonationClaims};
use crate::entities::impersonation::{self, Mode};
use crate::error::{AppError, AppResult};

/// Why a session ended. Every ended session has exactly one, recorded by whoever noticed the
/// end first.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ImpersonationEndReason")]
pub enum EndReason {
    /// `cancelImpersonation`.
    Cancelled,
    /// The absolute lifetime ran out.
    Expired,
    /// No request for the idle limit.
    IdleTimeout,
    /// The customer withdrew consent.
    RevokedByUser,
    /// An admin ended it.
    EndedByAdmin,
    /// The impersonator lost the admin role, 2FA or their password, or the target became an
    /// admin.
    PolicyChanged,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Cancelled => "CANCELLED",
            EndReason::Expired => "EXPIRED",
            EndReason::IdleTimeout => "IDLE_TIMEOUT",
            EndReason::RevokedByUser => "REVOKED_BY_USER",
            EndReason::EndedByAdmin => "ENDED_BY_ADMIN",
            EndReason::PolicyChanged => "POLICY_CHANGED",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        use EndReason::*;
        [
            Cancelled,
            Expired,
            IdleTimeout,
            RevokedByUser,
            EndedByAdmin,
            PolicyChanged,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

pub async fn find_by_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> AppResult<Option<impersonation::Model>> {
    Ok(impersonation::Entity::find()
        .filter(impersonation::Column::Code.eq(code))
        .one(conn)
        .await?)
}

/// Starts impersonating `target_id`: stores the record and its audit row in one transaction
/// and returns a 30-minute (configurable) token that acts as the target, with no refresh token.
pub async fn start(
    state: &AppState,
    caller: &AuthContext,
    target_id: &str,
    reason: Option<&str>,
    mode: Option<Mode>,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let reason = validation::optional_text("reason", reason, validation::MAX_REASON)?;
    let mode = mode.unwrap_or(state.config.impersonation_default_mode);
    let target = users::find_user(&state.db, target_id).await?;
    let switch = super::settings::switch(&state.db).await?;
    if let Err(reason) = policy::check(switch, Impersonator::caller(caller), Target::of(&target)) {
        let by = Attribution::admin_on(&caller.true_user().id, &target.id);
        let entry = Entry::new(action::IMPERSONATION_DENIED, by, state.clock.now())
            .team(caller.team_id.as_deref())
            .details(serde_json::json!({ "reason": reason.as_str() }))
            .meta(meta);
        audit::record(&state.db, entry).await?;
        return Err(AppError::ImpersonationDenied(reason));
    }
    let admin = caller.true_user().clone();
    let now = state.clock.now();
    let started_at = db_time(now);
    let expires_at = db_time(crate::clock::later(now, state.config.impersonation_ttl)?);

    let txn = super::write_txn(&state.db).await?;
    let target_team = memberships::valid_current_team(&txn, &target).await?;
    let record = impersonation::ActiveModel {
        id: Set(new_id()),
        code: Set(tokens::new_impersonation_code()),
        impersonator_id: Set(admin.id.clone()),
        impersonated_user_id: Set(target.id.clone()),
        impersonator_team_id: Set(caller.team_id.clone()),
        started_at: Set(started_at),
        expires_at: Set(expires_at),
        ended_at: Set(None),
        end_reason: Set(None),
        reason: Set(reason.clone()),
        mode: Set(mode),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Entry::new(
            action::IMPERSONATION_STARTED,
            Attribution::admin_on(&admin.id, &target.id),
            now,
        )
        .team(caller.team_id.as_deref())
        .entity("Impersonation", &record.id)
        .details(serde_json::json!({ "targetUserId": target.id, "reason": reason, "mode": mode.as_str() }))
        .meta(meta),
    )
    .await?;

    let claims = ImpersonationClaims {
        impersonated_by: admin.id.clone(),
        impersonated_at: record.started_at.timestamp(),
        code: record.code.clone(),
        impersonator_team_id: record.impersonator_team_id.clone(),
    };
    let (access_token, token_exp) = tokens::issue_access(
        &state.config,
        now,
        record.expires_at - now,
        AccessGrant {
            user_id: &target.id,
            team_id: target_team.as_deref(),
            // The target's own 2FA is skipped by design: the admin passed theirs.
            two_factor_enabled: false,
            two_factor_authenticated: false,
            impersonation: Some(claims.clone()),
        },
    )?;
    txn.commit().await?;
    Ok(Session {
        access_token,
        refresh_token: None,
        expires_at: token_exp,
        context: AuthContext {
            role: target.role,
            team_id: target_team,
            two_factor_authenticated: false,
            pre_two_factor: false,
            user: target,
            impersonation: Some(ActiveImpersonation {
                impersonator: admin,
                record,
                claims,
            }),
        },
    })
}

/// Ends `record` if it is still running: a conditional update, so of several requests,
/// sweeps or servers noticing the end at once, exactly one records it, with its audit row
/// (the admin acting on the target, `details.endReason` and the cause). Run it inside the
/// transaction of the change that ends the session. Returns whether this call ended it.
pub async fn end_once(
    conn: &impl ConnectionTrait,
    record: &impersonation::Model,
    reason: EndReason,
    cause: &str,
    at: DateTime<Utc>,
    team: Option<&str>,
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
    audit::record(
        conn,
        Entry::new(
            action::IMPERSONATION_ENDED,
            Attribution::admin_on(&record.impersonator_id, &record.impersonated_user_id),
            at,
        )
        .team(team)
        .entity("Impersonation", &record.id)
        .details(serde_json::json!({ "endReason": reason.as_str(), "cause": cause }))
        .meta(meta),
    )
    .await?;
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
    let at = match reason {
        EndReason::Expired => Ord::min(record.expires_at, now),
        _ => now,
    };
    let txn = super::write_txn(&state.db).await?;
    let ended = end_once(
        &txn,
        record,
        reason,
        cause,
        at,
        record.impersonator_team_id.as_deref(),
        &RequestMeta::default(),
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

/// Records the end of every session that expired without anyone noticing (nobody used its
/// token again). Run periodically by `serve`; returns how many it ended.
pub async fn sweep_expired(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let expired = impersonation::Entity::find()
        .filter(impersonation::Column::EndedAt.is_null())
        .filter(impersonation::Column::ExpiresAt.lte(db_time(now)))
        .order_by_asc(impersonation::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    let mut n = 0;
    for record in &expired {
        if end_now(state, record, EndReason::Expired, "EXPIRED").await? {
            n += 1;
        }
    }
    Ok(n)
}

/// How often `serve` records the end of sessions nobody touches again.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `sweep_expired` every `SWEEP_INTERVAL` for as long as the process lives. Every server
/// may run it: the conditional end makes concurrent sweeps record each end once.
pub fn spawn_sweeper(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep_expired(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(ended = n, "recorded the end of expired impersonations"),
                Err(e) => tracing::warn!(error = %e, "impersonation sweep failed"),
            }
        }
    });
}

/// Ends the caller's impersonation and returns the admin's own tokens, back in the team the
/// impersonation started from, 2FA-authenticated as before. The session is the one the
/// request's context matched to the token (impersonator, code and start time, at the
/// one-second precision a JWT carries) and found live.
pub async fn cancel(
    state: &AppState,
    caller: &AuthContext,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let active = caller
        .impersonation
        .as_ref()
        .ok_or(AppError::Forbidden("this is not an impersonation token"))?;
    let record = &active.record;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let admin = users::find_user(&txn, &record.impersonator_id).await?;
    let team =
        memberships::team_to_act_in(&txn, &admin, record.impersonator_team_id.as_deref()).await?;
    // Of racing cancels with one token, exactly one ends the session.
    let ended = end_once(
        &txn,
        record,
        EndReason::Cancelled,
        "CANCELLED",
        now,
        team.as_deref(),
        meta,
    )
    .await?;
    if !ended {
        return Err(AppError::Unauthenticated("impersonation session has ended"));
    }
    let mut active_admin = admin.into_active_model();
    active_admin.current_team_id = Set(team.clone());
    let admin = active_admin.update(&txn).await?;
    let session =
        sessions::issue_session(state, &txn, admin, team, true, Refresh::NewFamily).await?;
    txn.commit().await?;
    Ok(session)
}

/// Impersonation history, newest first. `active_only` keeps sessions neither ended nor expired.
pub async fn list(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    active_only: bool,
    page: &PageArgs,
) -> AppResult<Page<impersonation::Model>> {
    let mut q = impersonation::Entity::find().order_by_desc(impersonation::Column::Id);
    if active_only {
        q = q
            .filter(impersonation::Column::EndedAt.is_null())
            .filter(impersonation::Column::ExpiresAt.gt(db_time(now)));
    }
    if let Some(after) = &page.after {
        q = q.filter(impersonation::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// `elevateImpersonation`: a READ_ONLY session becomes READ_WRITE, with the impersonator's own
/// fresh TOTP code (once per time step, counted by the TOTP throttle) and a reason. Audited
/// under the admin on behalf of the customer, so the customer's history shows it.
pub async fn elevate(
    state: &AppState,
    caller: &AuthContext,
    code: &str,
    reason: &str,
    meta: &RequestMeta,
) -> AppResult<impersonation::Model> {
    let active = caller
        .impersonation
        .as_ref()
        .ok_or(AppError::Forbidden("this is not an impersonation token"))?;
    let reason = validation::text("reason", reason, validation::MAX_REASON)?;
    if active.record.mode == Mode::ReadWrite {
        return Err(AppError::bad_input(
            "mode",
            "this session is already read-write",
        ));
    }
    super::two_factor::verify_totp(state, &active.impersonator, code, meta).await?;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let changed = impersonation::Entity::update_many()
        .col_expr(
            impersonation::Column::Mode,
            Expr::value(Mode::ReadWrite.as_str()),
        )
        .filter(impersonation::Column::Id.eq(active.record.id.clone()))
        .filter(impersonation::Column::EndedAt.is_null())
        .filter(impersonation::Column::Mode.eq(Mode::ReadOnly.as_str()))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AppError::bad_input(
            "mode",
            "this session is no longer read-only",
        ));
    }
    let entry = Entry::for_caller(action::IMPERSONATION_ELEVATED, caller, meta, now)
        .entity("Impersonation", &active.record.id)
        .details(serde_json::json!({ "reason": reason, "from": "READ_ONLY", "to": "READ_WRITE" }));
    audit::record(&txn, entry).await?;
    let record = find(&txn, &active.record.id).await?;
    txn.commit().await?;
    Ok(record)
}

/// `endImpersonation`: a super admin ends any session, an admin their own (another admin's
/// session is `NOT_FOUND`, so its existence does not leak). `ENDED_BY_ADMIN`; the reason goes
/// into the audit row. An ended or expired session is `BAD_USER_INPUT`.
pub async fn end_by_admin(
    state: &AppState,
    caller: &AuthContext,
    id: &str,
    reason: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<impersonation::Model> {
    let reason = validation::optional_text("reason", reason, validation::MAX_REASON)?;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let record = find(&txn, id).await?;
    let own = record.impersonator_id == caller.user.id;
    if !own && caller.role != crate::auth::Role::SuperAdmin {
        return Err(AppError::NotFound("impersonation"));
    }
    let ended = || AppError::bad_input("id", "this session has already ended");
    if record.ended_at.is_some() || record.expires_at <= now {
        return Err(ended());
    }
    let cause = reason.as_deref().unwrap_or("ENDED_BY_ADMIN");
    let team = caller.team_id.as_deref();
    if !end_once(
        &txn,
        &record,
        EndReason::EndedByAdmin,
        cause,
        now,
        team,
        meta,
    )
    .await?
    {
        return Err(ended());
    }
    let record = find(&txn, id).await?;
    txn.commit().await?;
    Ok(record)
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> AppResult<impersonation::Model> {
    impersonation::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("impersonation"))
}
