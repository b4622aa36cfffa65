//! Impersonation: start, cancel, history. The rules themselves live in `auth::policy`; the
//! per-request re-check lives in `auth::context`.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::accounts::{self, Refresh, Session};
use super::audit::{self, Entry, action};
use super::pagination::{Page, PageArgs};
use super::{db_time, new_id, teams, validation};
use crate::AppState;
use crate::auth::Role;
use crate::auth::context::{ActiveImpersonation, AuthContext, RequestMeta};
use crate::auth::policy;
use crate::auth::tokens::{self, AccessGrant, ImpersonationClaims};
use crate::entities::{impersonation, user};
use crate::error::{AppError, AppResult};

pub async fn find_by_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> AppResult<Option<impersonation::Model>> {
    Ok(impersonation::Entity::find()
        .filter(impersonation::Column::Code.eq(code))
        .one(conn)
        .await?)
}

/// The policy's answer for `caller` impersonating `target` now.
pub fn check(
    caller: &AuthContext,
    target: &user::Model,
) -> Result<(), policy::ImpersonationDenial> {
    policy::check_users(caller.true_user(), target, caller.is_impersonating())
}

/// Starts impersonating `target_id`: stores the record and its audit row in one transaction
/// and returns a 30-minute (configurable) token that acts as the target, with no refresh token.
pub async fn start(
    state: &AppState,
    caller: &AuthContext,
    target_id: &str,
    reason: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let reason = validation::optional_text("reason", reason, validation::MAX_REASON)?;
    let target = accounts::find_user(&state.db, target_id).await?;
    if let Err(reason) = check(caller, &target) {
        audit::record_refusal(
            &state.db,
            action::IMPERSONATION_DENIED,
            Some(&caller.true_user().id),
            Some(&target.id),
            serde_json::json!({ "reason": reason.as_str() }),
            meta.ip.as_deref(),
            state.clock.now(),
        )
        .await?;
        return Err(AppError::ImpersonationDenied(reason));
    }
    let admin = caller.true_user().clone();
    let now = state.clock.now();
    let started_at = db_time(now);
    let expires_at = db_time(now + state.config.impersonation_ttl);

    let txn = super::write_txn(&state.db).await?;
    let target_team = teams::valid_current_team(&txn, &target).await?;
    let record = impersonation::ActiveModel {
        id: Set(new_id()),
        code: Set(tokens::new_impersonation_code()),
        impersonator_id: Set(admin.id.clone()),
        impersonated_user_id: Set(target.id.clone()),
        impersonator_team_id: Set(caller.team_id.clone()),
        started_at: Set(started_at),
        expires_at: Set(expires_at),
        ended_at: Set(None),
        reason: Set(reason.clone()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Entry::new(
            action::IMPERSONATION_STARTED,
            acting_on(&admin.id, &target.id),
            now,
        )
        .team(caller.team_id.as_deref())
        .entity("Impersonation", &record.id)
        .details(serde_json::json!({ "targetUserId": target.id, "reason": reason }))
        .ip(meta.ip.as_deref()),
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
            role: Role::parse(&target.role),
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

/// The admin acting as themselves, on the target: how start and end are audited.
fn acting_on(admin_id: &str, target_id: &str) -> crate::auth::context::Attribution {
    let mut by = audit::self_acting(admin_id);
    by.on_behalf_of_id = Some(target_id.to_string());
    by
}

/// Ends the caller's impersonation and returns the admin's own tokens, back in the team the
/// impersonation started from, 2FA-authenticated as before. The record is found by
/// impersonator, code and start time; the start time is compared at the one-second precision
/// a JWT carries, as a half-open range, so it works whatever precision the database keeps.
pub async fn cancel(
    state: &AppState,
    caller: &AuthContext,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let active = caller
        .impersonation
        .as_ref()
        .ok_or(AppError::Forbidden("this is not an impersonation token"))?;
    let claims = &active.claims;
    let from = DateTime::<Utc>::from_timestamp(claims.impersonated_at, 0)
        .ok_or(AppError::Unauthenticated("invalid token"))?;
    let until = from + chrono::Duration::seconds(1);
    let now = state.clock.now();

    let txn = super::write_txn(&state.db).await?;
    let record = impersonation::Entity::find()
        .filter(impersonation::Column::ImpersonatorId.eq(claims.impersonated_by.clone()))
        .filter(impersonation::Column::Code.eq(claims.code.clone()))
        .filter(impersonation::Column::StartedAt.gte(from))
        .filter(impersonation::Column::StartedAt.lt(until))
        .one(&txn)
        .await?
        .ok_or(AppError::Unauthenticated("impersonation session has ended"))?;
    // Conditional update: of racing cancels with one token, exactly one ends the session.
    let ended = impersonation::Entity::update_many()
        .col_expr(impersonation::Column::EndedAt, Expr::value(db_time(now)))
        .filter(impersonation::Column::Id.eq(record.id.clone()))
        .filter(impersonation::Column::EndedAt.is_null())
        .exec(&txn)
        .await?;
    if ended.rows_affected != 1 {
        return Err(AppError::Unauthenticated("impersonation session has ended"));
    }
    let admin = accounts::find_user(&txn, &record.impersonator_id).await?;
    let team = teams::team_to_act_in(&txn, &admin, record.impersonator_team_id.as_deref()).await?;
    audit::record(
        &txn,
        Entry::new(
            action::IMPERSONATION_ENDED,
            acting_on(&admin.id, &record.impersonated_user_id),
            now,
        )
        .team(team.as_deref())
        .entity("Impersonation", &record.id)
        .ip(meta.ip.as_deref()),
    )
    .await?;
    let mut active_admin = admin.into_active_model();
    active_admin.current_team_id = Set(team.clone());
    let admin = active_admin.update(&txn).await?;
    let session =
        accounts::issue_session(state, &txn, admin, team, true, Refresh::NewFamily).await?;
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
