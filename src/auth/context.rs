//! The per-request `AuthContext`: built once from the bearer token, before any resolver runs,
//! and attached to the GraphQL request. Every resolver reads the same one.
use async_graphql::Context;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::Role;
use super::policy;
use super::tokens::{self, ImpersonationClaims};
use crate::AppState;
use crate::entities::{impersonation, user};
use crate::error::{AppError, AppResult};

/// The active impersonation behind a request: who is really acting, and the session record.
#[derive(Debug, Clone)]
pub struct ActiveImpersonation {
    pub impersonator: user::Model,
    pub record: impersonation::Model,
    /// The token's impersonation claims; `cancelImpersonation` finds the record by them.
    pub claims: tokens::ImpersonationClaims,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The effective user: the impersonated one while impersonating.
    pub user: user::Model,
    pub role: Role,
    /// The team the token acts in.
    pub team_id: Option<String>,
    /// The token's `isTwoFactorAuthenticated` claim.
    pub two_factor_authenticated: bool,
    /// A `pre_2fa` token: it never passes the 2FA guard, whatever happens to the user's 2FA.
    pub pre_two_factor: bool,
    pub impersonation: Option<ActiveImpersonation>,
}

impl AuthContext {
    pub fn is_impersonating(&self) -> bool {
        self.impersonation.is_some()
    }

    /// Whether the 2FA requirement is met. An impersonation token skips the target's own 2FA
    /// by design (the impersonator passed theirs to start the session).
    pub fn two_factor_satisfied(&self) -> bool {
        !self.pre_two_factor
            && (self.is_impersonating() || !self.user.totp_enabled || self.two_factor_authenticated)
    }

    /// Whether the schema may be introspected in production: 2FA-authenticated admins acting
    /// as themselves.
    pub fn may_introspect(&self) -> bool {
        self.role.is_admin() && self.two_factor_satisfied() && !self.is_impersonating()
    }

    /// The person really behind the request: the impersonator, or the user.
    pub fn true_user(&self) -> &user::Model {
        self.impersonation
            .as_ref()
            .map(|i| &i.impersonator)
            .unwrap_or(&self.user)
    }

    /// How writes are attributed: (author/actor, on behalf of, impersonated?).
    pub fn attribution(&self) -> Attribution {
        match &self.impersonation {
            Some(imp) => Attribution {
                actor_id: imp.impersonator.id.clone(),
                on_behalf_of_id: Some(self.user.id.clone()),
                is_impersonated: true,
            },
            None => Attribution {
                actor_id: self.user.id.clone(),
                on_behalf_of_id: None,
                is_impersonated: false,
            },
        }
    }
}

/// Who a written row is attributed to.
#[derive(Debug, Clone)]
pub struct Attribution {
    pub actor_id: String,
    pub on_behalf_of_id: Option<String>,
    pub is_impersonated: bool,
}

/// The caller as attached to the GraphQL request: `None` for an anonymous request.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<AuthContext>);

/// Facts about the HTTP request that audit rows record.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
}

/// The signed-in caller, or `UNAUTHENTICATED`.
pub fn caller<'a>(ctx: &'a Context<'_>) -> AppResult<&'a AuthContext> {
    ctx.data_opt::<Caller>()
        .and_then(|c| c.0.as_ref())
        .ok_or(AppError::Unauthenticated("sign in first"))
}

/// The caller if any; anonymous requests get `None`.
pub fn maybe_caller<'a>(ctx: &'a Context<'_>) -> Option<&'a AuthContext> {
    ctx.data_opt::<Caller>().and_then(|c| c.0.as_ref())
}

pub fn request_meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default()
}

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
        Some(imp) => Some(load_impersonation(&state.db, now, imp, &user).await?),
    };
    Ok(AuthContext {
        role: Role::parse(&user.role),
        team_id: claims.team_id.clone(),
        two_factor_authenticated: claims.is_two_factor_authenticated,
        pre_two_factor: claims.is_pre_two_factor(),
        user,
        impersonation,
    })
}

/// Whether a token issued at `iat` (seconds) predates the user's last password change.
/// Same-second tokens stand: `iat` carries no finer time.
fn issued_before_revocation(user: &user::Model, iat: i64) -> bool {
    user.sessions_valid_after
        .is_some_and(|t| iat < t.timestamp())
}

/// Checks, on every request, that the impersonation behind a token is still live and still
/// allowed: the record exists, matches the token, has not ended or expired, the impersonator
/// is still a 2FA-enabled admin and the policy still allows the target. Otherwise the session
/// ends now, not at expiry.
async fn load_impersonation(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
    imp: ImpersonationClaims,
    target: &user::Model,
) -> AppResult<ActiveImpersonation> {
    let ended = || AppError::Unauthenticated("impersonation session has ended");
    let record = crate::services::impersonation::find_by_code(db, &imp.code)
        .await?
        .ok_or_else(ended)?;
    let matches = record.impersonator_id == imp.impersonated_by
        && record.impersonated_user_id == target.id
        && record.started_at.timestamp() == imp.impersonated_at;
    if !matches || record.ended_at.is_some() || record.expires_at <= now {
        return Err(ended());
    }
    let impersonator = user::Entity::find_by_id(record.impersonator_id.clone())
        .one(db)
        .await?
        .ok_or_else(ended)?;
    // Losing the admin role is checked here (the guards do it for `impersonate`); every
    // other rule is the policy's.
    let still_allowed = Role::parse(&impersonator.role).is_admin()
        && !issued_before_revocation(&impersonator, record.started_at.timestamp())
        && policy::check_users(&impersonator, target, false).is_ok();
    if !still_allowed {
        return Err(ended());
    }
    Ok(ActiveImpersonation {
        impersonator,
        record,
        claims: imp,
    })
}
