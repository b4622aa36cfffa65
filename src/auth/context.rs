//! The per-request `AuthContext`: built once from the bearer token (by
//! `services::accounts::bearer`), before any resolver runs, and attached to the GraphQL request
//! by the operation gate (`graphql::gate`); resolvers read it through `graphql::context`.
use super::Role;
use super::tokens;
use crate::entities::{impersonation, user};

/// The active impersonation behind a request: who is really acting, and the session record.
/// Its `Debug` shows ids only: the record and claims carry the impersonation code.
#[derive(Clone)]
pub struct ActiveImpersonation {
    pub impersonator: user::Model,
    pub record: impersonation::Model,
    /// The token's impersonation claims; `cancelImpersonation` finds the record by them.
    pub claims: tokens::ImpersonationClaims,
}

/// Who is calling. Its `Debug` shows ids and flags only: the user rows carry the password
/// hash and TOTP secret, the impersonation its code.
#[derive(Clone)]
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
            && (self.is_impersonating()
                || !self.user.two_factor_on()
                || self.two_factor_authenticated)
    }

    /// The one rule for admin-only operations, fields and views: an admin whose own 2FA is
    /// on and passed by this token.
    pub fn is_admin_with_two_factor(&self) -> bool {
        self.role.is_admin() && self.user.two_factor_on() && self.two_factor_satisfied()
    }

    /// Whether the schema may be introspected in production: 2FA admins acting as themselves.
    pub fn may_introspect(&self) -> bool {
        self.is_admin_with_two_factor() && !self.is_impersonating()
    }

    /// The person really behind the request: the impersonator, or the user.
    pub fn true_user(&self) -> &user::Model {
        self.impersonation
            .as_ref()
            .map(|i| &i.impersonator)
            .unwrap_or(&self.user)
    }
}

impl std::fmt::Debug for ActiveImpersonation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveImpersonation")
            .field("impersonator_id", &self.impersonator.id)
            .field("record_id", &self.record.id)
            .field("started_at", &self.record.started_at)
            .field("expires_at", &self.record.expires_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("user_id", &self.user.id)
            .field("role", &self.role)
            .field("team_id", &self.team_id)
            .field("two_factor_authenticated", &self.two_factor_authenticated)
            .field("pre_two_factor", &self.pre_two_factor)
            .field("impersonation", &self.impersonation)
            .finish()
    }
}

/// Whether something issued at `issued_us` (microseconds since the epoch: a token's
/// `iatUs`, a session's start) predates the user's last password change. Stored times keep
/// microseconds, so a token issued in the same second before the change is refused too.
pub fn issued_before_revocation(user: &user::Model, issued_us: i64) -> bool {
    user.sessions_valid_after
        .is_some_and(|t| issued_us < t.timestamp_micros())
}

/// Facts about the HTTP request that audit rows record.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
}
