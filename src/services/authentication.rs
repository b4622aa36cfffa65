//! Authenticate once: the bearer token of a request becomes its `AuthContext`, before any
//! resolver runs. An impersonation token is re-checked here on every request; a session found
//! dead is ended (once, with its reason) and the token refused.
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use super::impersonation;
use super::session_ends::{self, EndReason};
use crate::AppState;
use crate::auth::context::{ActiveImpersonation, AuthContext, issued_before_revocation};
use crate::auth::policy::{self, ImpersonationDenial, Impersonator, Switch, Target};
use crate::auth::tokens::{self, ImpersonationClaims};
use crate::entities::user;
use crate::error::{AppError, AppResult};

/// Builds the context from a bearer token. Any failure is `UNAUTHENTICATED`: a bad token is
/// never downgraded to an anonymous request.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<AuthContext> {
    let now = state.clock.now();
    let claims = tokens::verify_access(&state.config, now, token)?;
    let user = user::Entity::find_by_id(claims.sub.clone())
        .one(&state.db)
        .await?
        .ok_or(AppError::Unauthenticated("invalid or expired token"))?;
    if issued_before_revocation(&user, claims.iat) {
        return Err(AppError::Unauthenticated("session ended: sign in again"));
    }
    let impersonation = match claims.impersonation()? {
        None => None,
        Some(imp) => Some(live_impersonation(state, now, imp, &user).await?),
    };
    Ok(AuthContext {
        role: user.role,
        team_id: claims.team_id.clone(),
        two_factor_authenticated: claims.is_two_factor_authenticated,
        pre_two_factor: claims.is_pre_two_factor(),
        user,
        impersonation,
    })
}

/// Checks that the impersonation behind a token is still live and still allowed: the record
/// exists, matches the token, has not ended or expired, the impersonator is still a
/// 2FA-enabled admin who has not changed their password since, and the policy still allows
/// the target. A session that fails a check ends now, not at expiry, and the end is recorded.
async fn live_impersonation(
    state: &AppState,
    now: DateTime<Utc>,
    imp: ImpersonationClaims,
    target: &user::Model,
) -> AppResult<ActiveImpersonation> {
    let ended = || AppError::Unauthenticated("impersonation session has ended");
    let record = impersonation::find_by_code(&state.db, &imp.code)
        .await?
        .ok_or_else(ended)?;
    let matches = record.impersonator_id == imp.impersonated_by
        && record.impersonated_user_id == target.id
        && record.started_at.timestamp() == imp.impersonated_at;
    if !matches || record.ended_at.is_some() {
        return Err(ended());
    }
    let impersonator = user::Entity::find_by_id(record.impersonator_id.clone())
        .one(&state.db)
        .await?
        .ok_or_else(ended)?;
    let switch = super::settings::switch(&state.db).await?;
    if let Some((reason, cause)) = end_reason(now, switch, &record, &impersonator, target) {
        session_ends::end_now(state, &record, reason, cause).await?;
        return Err(ended());
    }
    Ok(ActiveImpersonation {
        impersonator,
        record,
        claims: imp,
    })
}

/// Why a running session must end now, if it must: the reason recorded, and the cause in
/// words for the audit row.
fn end_reason(
    now: DateTime<Utc>,
    switch: Switch,
    record: &crate::entities::impersonation::Model,
    impersonator: &user::Model,
    target: &user::Model,
) -> Option<(EndReason, &'static str)> {
    if record.expires_at <= now {
        return Some((EndReason::Expired, "EXPIRED"));
    }
    // Losing the admin role is checked here (the guards do it for `impersonate`); every
    // other rule is the policy's.
    if !impersonator.role.is_admin() {
        return Some((EndReason::PolicyChanged, "IMPERSONATOR_NOT_ADMIN"));
    }
    if issued_before_revocation(impersonator, record.started_at.timestamp()) {
        return Some((EndReason::PolicyChanged, "IMPERSONATOR_PASSWORD_CHANGED"));
    }
    match policy::check(
        switch,
        Impersonator::of(impersonator, false),
        Target::of(target),
    ) {
        Ok(()) => None,
        Err(ImpersonationDenial::ImpersonationDisabled) => {
            Some((EndReason::EndedByAdmin, "IMPERSONATION_DISABLED"))
        }
        Err(ImpersonationDenial::NotAllowedByUser) => {
            Some((EndReason::RevokedByUser, "NOT_ALLOWED_BY_USER"))
        }
        Err(denial) => Some((EndReason::PolicyChanged, denial.as_str())),
    }
}
