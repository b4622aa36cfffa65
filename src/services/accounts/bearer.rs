//! Authenticate: the bearer token of an operation becomes its `AuthContext`, before any
//! resolver runs (the operation gate, `graphql::gate`, calls this for every operation, and an
//! open socket for its re-checks). An impersonation token's session is re-checked here each
//! time; a session found dead is ended (once, with its reason) and the token refused.
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use crate::auth::context::{ActiveImpersonation, AuthContext, issued_before_revocation};
use crate::auth::policy::{self, Ask, ImpersonationDenial, Impersonator, KillSwitch, Target};
use crate::auth::tokens::{self, ImpersonationClaims};
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::{self as grant, Status};
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::impersonation::ending::{self, EndReason};
use crate::services::impersonation::session::{self, SessionRow};
use crate::services::support_access;
use crate::state::AppState;

/// Builds the context from a bearer token. Any failure is `UNAUTHENTICATED`: a bad token is
/// never downgraded to an anonymous request.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<AuthContext> {
    let now = state.clock.now();
    let claims = tokens::verify_access(&state.config, now, token)?;
    // One indexed read either way: the user, or the session with everyone in it.
    let (user, impersonation) = match claims.impersonation()? {
        None => {
            let user = user::Entity::find_by_id(claims.sub.clone())
                .one(&state.db)
                .await?
                .ok_or(AppError::Unauthenticated("invalid or expired token"))?;
            (user, None)
        }
        Some(imp) => {
            let (user, active) = live_impersonation(state, now, imp, &claims.sub).await?;
            (user, Some(active))
        }
    };
    if issued_before_revocation(&user, claims.issued_at_micros()) {
        return Err(AppError::Unauthenticated("session ended: sign in again"));
    }
    Ok(AuthContext {
        role: user.role,
        team_id: claims.team_id.clone(),
        two_factor_authenticated: claims.is_two_factor_authenticated,
        pre_two_factor: claims.is_pre_two_factor(),
        user,
        impersonation,
    })
}

/// Counts an operation as its session's activity (the operation gate calls this once per
/// operation; re-checks of an open socket do not, so an idle console tab still times out).
pub async fn note_operation(state: &AppState, caller: &mut AuthContext) -> AppResult<()> {
    if let Some(active) = caller.impersonation.as_mut() {
        ending::touch(state, &mut active.record, state.clock.now()).await?;
    }
    Ok(())
}

/// Checks that the impersonation behind a token is still live and still allowed: the record
/// exists, matches the token, has not ended or expired, the impersonator is still a
/// 2FA-enabled admin who has not changed their password since, and the policy still allows
/// the target. A session that fails a check ends now, not at expiry, and the end is recorded.
async fn live_impersonation(
    state: &AppState,
    now: DateTime<Utc>,
    imp: ImpersonationClaims,
    target_id: &str,
) -> AppResult<(user::Model, ActiveImpersonation)> {
    let ended = || AppError::Unauthenticated("impersonation session has ended");
    let SessionRow {
        record,
        target,
        impersonator,
        grant,
        switch,
    } = session::by_code(&state.db, &imp.code)
        .await?
        .ok_or_else(ended)?;
    let matches = record.impersonator_id == imp.impersonated_by
        && record.impersonated_user_id == target_id
        && record.started_at.timestamp() == imp.impersonated_at;
    if !matches || record.ended_at.is_some() {
        return Err(ended());
    }
    let facts = Facts {
        now,
        switch,
        default_mode: state.config.impersonation_default_mode,
        review_read_only: state.config.review_read_only,
        idle: state.config.impersonation_idle,
        grant: grant.as_ref(),
    };
    if let Some((reason, cause)) = end_reason(facts, &record, &impersonator, &target) {
        ending::end_now(state, &record, reason, cause).await?;
        return Err(ended());
    }
    let active = ActiveImpersonation {
        impersonator,
        record,
        claims: imp,
    };
    Ok((target, active))
}

/// What the re-check of a running session reads besides the users.
struct Facts<'a> {
    now: DateTime<Utc>,
    switch: KillSwitch,
    default_mode: Mode,
    review_read_only: bool,
    idle: Option<chrono::Duration>,
    /// The grant the session runs under, if it has one and it still exists.
    grant: Option<&'a grant::Model>,
}

/// Why a running session must end now, if it must: the reason recorded, and the cause in
/// words for the audit row.
fn end_reason(
    facts: Facts<'_>,
    record: &crate::entities::impersonation::Model,
    impersonator: &user::Model,
    target: &user::Model,
) -> Option<(EndReason, &'static str)> {
    let now = facts.now;
    if record.expires_at <= now {
        return Some((EndReason::Expired, "EXPIRED"));
    }
    if facts
        .idle
        .is_some_and(|idle| record.last_activity() + idle <= now)
    {
        return Some((EndReason::IdleTimeout, "IDLE_TIMEOUT"));
    }
    // A session under a grant ends with it (revocation ends them in its own transaction; this
    // catches a session started while the grant was being revoked).
    let grant = match (&record.grant_id, facts.grant) {
        (None, _) => None,
        (Some(_), None) => return Some((EndReason::RevokedByUser, "GRANT_REVOKED")),
        (Some(_), Some(g)) => match support_access::status(g, now) {
            Status::Approved => Some(g.mode),
            Status::Revoked | Status::Denied | Status::Pending => {
                return Some((EndReason::RevokedByUser, "GRANT_REVOKED"));
            }
            Status::Expired => return Some((EndReason::Expired, "GRANT_EXPIRED")),
        },
    };
    // Losing the admin role is checked here (the guards do it for `impersonate`); every
    // other rule is the policy's.
    if !impersonator.role.is_admin() {
        return Some((EndReason::PolicyChanged, "IMPERSONATOR_NOT_ADMIN"));
    }
    if issued_before_revocation(impersonator, record.started_at.timestamp_micros()) {
        return Some((EndReason::PolicyChanged, "IMPERSONATOR_PASSWORD_CHANGED"));
    }
    // A session started under a second admin's review keeps it for its lifetime; one that
    // has none ends when its account is marked for review (a policy change).
    let ask = Ask {
        mode: Some(record.mode),
        default_mode: facts.default_mode,
        grant,
        review: record.review_id.as_ref().map(|_| record.mode),
        review_read_only: facts.review_read_only,
    };
    match policy::check(
        facts.switch,
        Impersonator::of(impersonator, false),
        Target::of(target),
        ask,
    ) {
        Ok(_) => None,
        Err(ImpersonationDenial::ImpersonationDisabled) => {
            Some((EndReason::EndedByAdmin, "IMPERSONATION_DISABLED"))
        }
        Err(ImpersonationDenial::NotAllowedByUser) => {
            Some((EndReason::RevokedByUser, "NOT_ALLOWED_BY_USER"))
        }
        Err(ImpersonationDenial::ApprovalRequired) => {
            Some((EndReason::RevokedByUser, "APPROVAL_REQUIRED"))
        }
        Err(denial) => Some((EndReason::PolicyChanged, denial.as_str())),
    }
}
