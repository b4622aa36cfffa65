//! Rules the types carry, at the service boundary (lldap's permission-as-a-type). A service
//! that must never run in an impersonation session takes an `AsThemselves`; one that changes
//! the customer's data, which a read-only session may not, takes a `MayWrite`. Each proof has
//! one constructor, the check of its rule, so a service cannot be reached without the rule
//! having been checked: a new mutation that calls it cannot forget it. The GraphQL layer makes
//! them (`graphql::guards::as_themselves` and `may_write`, which also audit a refusal); the
//! guards and the read-only pipeline use the same checks.
use std::ops::Deref;

use super::AuthContext;
use crate::entities::impersonation::Mode;
use crate::error::AppError;

/// Proof that the caller acts as themselves: the token is not an impersonation token. For
/// what the design blocks while impersonating: the account's security settings, consent, its
/// support access grants, team changes.
#[derive(Clone, Copy)]
pub struct AsThemselves<'a>(&'a AuthContext);

impl<'a> AsThemselves<'a> {
    /// The rule: an impersonation token is `BLOCKED_WHILE_IMPERSONATING`.
    pub fn check(caller: &'a AuthContext) -> Result<Self, AppError> {
        match caller.is_impersonating() {
            true => Err(AppError::BlockedWhileImpersonating),
            false => Ok(AsThemselves(caller)),
        }
    }
}

impl Deref for AsThemselves<'_> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        self.0
    }
}

/// Proof that the caller may change data: not in a READ_ONLY impersonation session.
#[derive(Clone, Copy)]
pub struct MayWrite<'a>(&'a AuthContext);

impl<'a> MayWrite<'a> {
    /// The rule: a READ_ONLY session is `BLOCKED_WHILE_IMPERSONATING` (reason `READ_ONLY`).
    pub fn check(caller: &'a AuthContext) -> Result<Self, AppError> {
        match &caller.impersonation {
            Some(i) if i.record.mode == Mode::ReadOnly => Err(AppError::ReadOnlySession),
            _ => Ok(MayWrite(caller)),
        }
    }
}

impl Deref for MayWrite<'_> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        self.0
    }
}

/// Proof that the caller is an admin (or super admin) with two-factor authentication on and
/// passed, acting as themselves: what every admin-only service takes (reviews, support-access
/// requests, ending a session, the admin audit read), so that one cannot be reached by a new
/// entry point that forgot the guard. The GraphQL guard `AdminWithTwoFactor` stays, to order
/// the refusal codes; this is the same rule, once more at the service's door.
#[derive(Clone, Copy)]
pub struct AdminWithTwoFactor<'a>(&'a AuthContext);

impl<'a> AdminWithTwoFactor<'a> {
    /// The rule: an impersonation token is `BLOCKED_WHILE_IMPERSONATING`; a caller who is no
    /// admin `FORBIDDEN`; an admin without 2FA passed `TWO_FACTOR_REQUIRED`.
    pub fn check(caller: &'a AuthContext) -> Result<Self, AppError> {
        AsThemselves::check(caller)?;
        if !caller.role.is_admin() {
            return Err(AppError::Forbidden("admins only"));
        }
        if !caller.is_admin_with_two_factor() {
            return Err(AppError::TwoFactorRequired);
        }
        Ok(AdminWithTwoFactor(caller))
    }
}

impl Deref for AdminWithTwoFactor<'_> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        self.0
    }
}

/// Proof that the caller is a super admin with 2FA passed, acting as themselves: what the kill
/// switch, webhook endpoints and marking accounts for review take.
#[derive(Clone, Copy)]
pub struct SuperAdmin<'a>(AdminWithTwoFactor<'a>);

impl<'a> SuperAdmin<'a> {
    /// The rule: `AdminWithTwoFactor`'s, and the role is SUPER_ADMIN (else `FORBIDDEN`).
    pub fn check(caller: &'a AuthContext) -> Result<Self, AppError> {
        AsThemselves::check(caller)?;
        if caller.role != crate::auth::Role::SuperAdmin {
            return Err(AppError::Forbidden("super admins only"));
        }
        Ok(SuperAdmin(AdminWithTwoFactor::check(caller)?))
    }
}

impl Deref for SuperAdmin<'_> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        self.0.0
    }
}

/// Proof that the person really behind the request is staff (an admin or super admin),
/// whether or not the token is already an impersonation token: what `impersonate`,
/// `elevateImpersonation` and `requestSupportAccess` take. The rest (two-factor on, not
/// already impersonating, the target, the customer's consent) is the impersonation policy's,
/// which those services run first, audited, with its own refusal reasons
/// (`TWO_FACTOR_DISABLED`, `ALREADY_IMPERSONATING`, …).
#[derive(Clone, Copy)]
pub struct StaffBehind<'a>(&'a AuthContext);

impl<'a> StaffBehind<'a> {
    /// The rule: the true user (the impersonator, while impersonating) is an admin or super
    /// admin; anyone else is `FORBIDDEN`.
    pub fn check(caller: &'a AuthContext) -> Result<Self, AppError> {
        match caller.true_user().role.is_admin() {
            true => Ok(StaffBehind(caller)),
            false => Err(AppError::Forbidden("admins only")),
        }
    }
}

impl Deref for StaffBehind<'_> {
    type Target = AuthContext;
    fn deref(&self) -> &AuthContext {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::auth::context::ActiveImpersonation;
    use crate::entities::{impersonation, user};
    use chrono::{TimeZone, Utc};

    fn person(role: Role, totp: bool) -> user::Model {
        user::Model::sample(&format!("{role:?}"), "P", role, totp)
    }

    fn caller(role: Role, totp: bool, passed: bool) -> AuthContext {
        AuthContext {
            user: person(role, totp),
            role,
            team_id: None,
            two_factor_authenticated: passed,
            pre_two_factor: false,
            impersonation: None,
        }
    }

    /// An admin (with 2FA) signed in as a customer.
    fn impersonating() -> AuthContext {
        let admin = person(Role::Admin, true);
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let record = impersonation::Model {
            id: "s".into(),
            code: "c".into(),
            impersonator_id: admin.id.clone(),
            impersonated_user_id: "User".into(),
            impersonator_team_id: None,
            started_at: at,
            expires_at: at,
            ended_at: None,
            end_reason: None,
            reason: None,
            mode: Mode::ReadWrite,
            grant_id: None,
            last_activity_at: None,
            initial_mode: None,
            elevated_at: None,
            elevation_reason: None,
            ticket: None,
            review_id: None,
        };
        AuthContext {
            impersonation: Some(ActiveImpersonation {
                impersonator: admin,
                record,
                claims: crate::auth::tokens::ImpersonationClaims {
                    impersonated_by: "Admin".into(),
                    impersonated_at: 0,
                    code: "c".into(),
                    impersonator_team_id: None,
                },
            }),
            ..caller(Role::User, false, false)
        }
    }

    fn code<T>(r: Result<T, AppError>) -> &'static str {
        match r {
            Ok(_) => "OK",
            Err(AppError::Forbidden(_)) => "FORBIDDEN",
            Err(AppError::TwoFactorRequired) => "TWO_FACTOR_REQUIRED",
            Err(AppError::BlockedWhileImpersonating) => "BLOCKED_WHILE_IMPERSONATING",
            Err(_) => "OTHER",
        }
    }

    #[test]
    fn an_admin_with_two_factor_passed_gets_the_proof() {
        assert_eq!(
            code(AdminWithTwoFactor::check(&caller(Role::Admin, true, true))),
            "OK"
        );
        let sup = caller(Role::SuperAdmin, true, true);
        assert_eq!(code(AdminWithTwoFactor::check(&sup)), "OK");
    }

    #[test]
    fn a_customer_is_forbidden() {
        let c = caller(Role::User, true, true);
        assert_eq!(code(AdminWithTwoFactor::check(&c)), "FORBIDDEN");
        assert_eq!(code(StaffBehind::check(&c)), "FORBIDDEN");
    }

    #[test]
    fn an_admin_without_two_factor_passed_is_told_to_pass_it() {
        let no_totp = caller(Role::Admin, false, false);
        assert_eq!(
            code(AdminWithTwoFactor::check(&no_totp)),
            "TWO_FACTOR_REQUIRED"
        );
        let not_passed = caller(Role::Admin, true, false);
        assert_eq!(
            code(AdminWithTwoFactor::check(&not_passed)),
            "TWO_FACTOR_REQUIRED"
        );
    }

    #[test]
    fn an_impersonation_token_is_blocked_but_its_admin_is_behind_it() {
        let imp = impersonating();
        assert_eq!(
            code(AdminWithTwoFactor::check(&imp)),
            "BLOCKED_WHILE_IMPERSONATING"
        );
        assert_eq!(code(StaffBehind::check(&imp)), "OK");
        assert_eq!(code(SuperAdmin::check(&imp)), "BLOCKED_WHILE_IMPERSONATING");
    }

    #[test]
    fn staff_behind_a_token_is_the_true_users_role_and_two_factor_is_the_policys() {
        // An admin without 2FA is staff: the policy refuses them TWO_FACTOR_DISABLED, audited.
        assert_eq!(
            code(StaffBehind::check(&caller(Role::Admin, false, false))),
            "OK"
        );
        assert_eq!(
            code(StaffBehind::check(&caller(Role::SuperAdmin, true, true))),
            "OK"
        );
    }

    #[test]
    fn only_a_super_admin_gets_the_super_admin_proof() {
        assert_eq!(
            code(SuperAdmin::check(&caller(Role::Admin, true, true))),
            "FORBIDDEN"
        );
        assert_eq!(
            code(SuperAdmin::check(&caller(Role::User, true, true))),
            "FORBIDDEN"
        );
        let sup = caller(Role::SuperAdmin, true, false);
        assert_eq!(code(SuperAdmin::check(&sup)), "TWO_FACTOR_REQUIRED");
        assert_eq!(
            code(SuperAdmin::check(&caller(Role::SuperAdmin, true, true))),
            "OK"
        );
    }
}
