//! A running session, re-checked for each operation of its token (`accounts::bearer` calls
//! `live`): the session read by its code with the customer it acts as, the admin behind it,
//! the grant it runs under and the kill switch, in one indexed statement; then whether it
//! must end now, and why.
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};

use chrono::{DateTime, Utc};

use crate::auth::context::{ActiveImpersonation, issued_before_revocation};
use crate::auth::policy::{self, Ask, ImpersonationDenial, Impersonator, KillSwitch, Target};
use crate::auth::tokens::ImpersonationClaims;
use crate::db::select_prefixed;
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::Status;
use crate::entities::{impersonation, impersonation_setting, support_access_grant as grant, user};
use crate::error::AppError;
use crate::error::AppResult;
use crate::services::impersonation::ending::{self, EndReason};
use crate::services::support_access;
use crate::state::AppState;

/// Everything the re-check of one session needs.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub record: impersonation::Model,
    /// The customer the session acts as.
    pub target: user::Model,
    /// The admin behind it.
    pub impersonator: user::Model,
    /// The grant it runs under, if it has one and that still exists.
    pub grant: Option<grant::Model>,
    pub switch: KillSwitch,
}

/// The session whose code is `code`, read with its people, grant and the kill switch.
pub async fn by_code(conn: &impl ConnectionTrait, code: &str) -> AppResult<Option<SessionRow>> {
    let (i, t, a, g, s) = (
        Alias::new("i"),
        Alias::new("t"),
        Alias::new("a"),
        Alias::new("g"),
        Alias::new("s"),
    );
    let mut q = Query::select();
    select_prefixed::<impersonation::Entity>(&mut q, "i", "i_");
    select_prefixed::<user::Entity>(&mut q, "t", "t_");
    select_prefixed::<user::Entity>(&mut q, "a", "a_");
    select_prefixed::<grant::Entity>(&mut q, "g", "g_");
    q.expr_as(
        Expr::col((s.clone(), impersonation_setting::Column::Enabled)),
        Alias::new("s_enabled"),
    )
    .from_as(impersonation::Entity, i.clone())
    .join_as(
        JoinType::InnerJoin,
        user::Entity,
        t.clone(),
        Expr::col((t.clone(), user::Column::Id))
            .equals((i.clone(), impersonation::Column::ImpersonatedUserId)),
    )
    .join_as(
        JoinType::InnerJoin,
        user::Entity,
        a.clone(),
        Expr::col((a.clone(), user::Column::Id))
            .equals((i.clone(), impersonation::Column::ImpersonatorId)),
    )
    .join_as(
        JoinType::LeftJoin,
        grant::Entity,
        g.clone(),
        Expr::col((g.clone(), grant::Column::Id))
            .equals((i.clone(), impersonation::Column::GrantId)),
    )
    .join_as(
        JoinType::LeftJoin,
        impersonation_setting::Entity,
        s.clone(),
        Expr::col((s, impersonation_setting::Column::Id)).eq(super::kill_switch::GLOBAL),
    )
    .and_where(Expr::col((i, impersonation::Column::Code)).eq(code));
    let Some(row) = conn.query_one(&q).await? else {
        return Ok(None);
    };
    let enabled: Option<bool> = row.try_get("", "s_enabled")?;
    Ok(Some(SessionRow {
        record: impersonation::Model::from_query_result(&row, "i_")?,
        target: user::Model::from_query_result(&row, "t_")?,
        impersonator: user::Model::from_query_result(&row, "a_")?,
        grant: grant::Model::from_query_result_optional(&row, "g_")?,
        switch: KillSwitch {
            enabled: enabled.unwrap_or(true),
        },
    }))
}

/// Checks that the impersonation behind a token is still live and still allowed: the record
/// exists, matches the token, has not ended or expired, the impersonator is still a
/// 2FA-enabled admin who has not changed their password since, and the policy still allows
/// the target. A session that fails a check ends now, not at expiry, and the end is recorded.
pub async fn live(
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
    } = by_code(&state.db, &imp.code).await?.ok_or_else(ended)?;
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
