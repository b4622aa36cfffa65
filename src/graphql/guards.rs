//! Reusable resolver guards. Each checks one rule against the request's `AuthContext`;
//! combine them with `.and(..)` in `#[graphql(guard = "..")]`.
use async_graphql::{Context, Guard, Result};

use super::context::{caller, maybe_caller, request_meta};
use crate::auth::Role;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::{
    AdminWithTwoFactor as AdminWithTwoFactorProof, AsThemselves, MayWrite, StaffBehind,
    SuperAdmin as SuperAdminProof,
};
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

/// A valid token was presented (a pre-2FA token counts).
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        caller(ctx)?;
        Ok(())
    }
}

/// Signed in, and past 2FA if the user has it on.
pub struct TwoFactorPassed;

impl Guard for TwoFactorPassed {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if caller(ctx)?.two_factor_satisfied() {
            Ok(())
        } else {
            Err(AppError::TwoFactorRequired.into())
        }
    }
}

/// Admin-only operations and fields: the effective user is an ADMIN (or, with `SUPER_ADMIN`,
/// a SUPER_ADMIN) whose own 2FA is on and passed by this token. An admin whose 2FA is off is
/// refused (`TWO_FACTOR_REQUIRED`) like a token that has not passed it.
pub struct AdminWithTwoFactor {
    super_admin_only: bool,
}

impl AdminWithTwoFactor {
    pub const ADMIN: AdminWithTwoFactor = AdminWithTwoFactor {
        super_admin_only: false,
    };
    pub const SUPER_ADMIN: AdminWithTwoFactor = AdminWithTwoFactor {
        super_admin_only: true,
    };
}

impl Guard for AdminWithTwoFactor {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let c = caller(ctx)?;
        let role_ok = match self.super_admin_only {
            true => c.role == Role::SuperAdmin,
            false => c.role.is_admin(),
        };
        if !role_ok {
            let msg = match self.super_admin_only {
                true => "super admins only",
                false => "admins only",
            };
            return Err(AppError::Forbidden(msg).into());
        }
        if !c.is_admin_with_two_factor() {
            return Err(AppError::TwoFactorRequired.into());
        }
        Ok(())
    }
}

/// The person really behind the request (the impersonator, while impersonating) is an admin.
/// Only `impersonate` uses it, so that an admin who is already impersonating is told
/// `ALREADY_IMPERSONATING` by the policy instead of `FORBIDDEN` for the target's role.
pub struct TrueUserAdmin;

impl Guard for TrueUserAdmin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if caller(ctx)?.true_user().role.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("admins only").into())
        }
    }
}

/// The token is an impersonation token (the impersonating admin's own session's view).
pub struct Impersonating;

impl Guard for Impersonating {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match caller(ctx)?.is_impersonating() {
            true => Ok(()),
            false => Err(AppError::Forbidden("this needs an impersonation token").into()),
        }
    }
}

/// The token is not an impersonation token. Guards the operations the design blocks while
/// impersonating: team changes and the target's security settings. `when(false)` lets an
/// argument decide (e.g. `updateProfile` only when it touches `impersonationAllowed`).
/// Anonymous requests pass: pair it with `SignedIn` where a caller is needed.
pub struct NotImpersonating {
    applies: bool,
}

impl NotImpersonating {
    pub const ALWAYS: NotImpersonating = NotImpersonating { applies: true };

    pub fn when(applies: bool) -> Self {
        NotImpersonating { applies }
    }
}

impl Guard for NotImpersonating {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match maybe_caller(ctx) {
            Some(c) if self.applies => match AsThemselves::check(c) {
                Ok(_) => Ok(()),
                Err(refusal) => {
                    let field = ctx.item.node.name.node.as_str();
                    let meta = request_meta(ctx);
                    Err(refuse_and_audit(ctx.data_opt(), c, field, &meta, refusal)
                        .await
                        .into())
                }
            },
            _ => Ok(()),
        }
    }
}

/// The one refusal of what the design blocks in an impersonation session: an operation
/// blocked while impersonating (`NotImpersonating`) or a write in a read-only session
/// (`graphql::read_only`). The refusal leaves a trace (support tried something the design
/// blocks: an audit row in its own transaction, the refused operation changes nothing), then
/// answers `refusal`.
pub async fn refuse_and_audit(
    state: Option<&AppState>,
    caller: &AuthContext,
    field: &str,
    meta: &RequestMeta,
    refusal: AppError,
) -> AppError {
    if let Some(state) = state
        && let Err(e) = audit::record_blocked(state, caller, field, meta).await
    {
        tracing::error!(error = %e, "cannot audit a blocked operation");
    }
    refusal
}

/// The caller's proof that they act as themselves (`auth::proof`), for the services that
/// must never run in an impersonation session. An impersonation token is refused, and the
/// refusal audited.
pub async fn as_themselves<'a>(ctx: &'a Context<'_>) -> Result<AsThemselves<'a>, AppError> {
    let c = caller(ctx)?;
    match AsThemselves::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

/// The caller's proof that they are an admin with 2FA passed, acting as themselves, for the
/// admin-only services. The guard on the field has already refused anyone else with the
/// contract's code; this is the same rule, made a value the service cannot be called without.
pub async fn admin_with_two_factor<'a>(
    ctx: &'a Context<'_>,
) -> Result<AdminWithTwoFactorProof<'a>, AppError> {
    let c = caller(ctx)?;
    match AdminWithTwoFactorProof::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

/// The proof for `impersonate`, `elevateImpersonation` and `requestSupportAccess`: the person
/// behind the token is staff (the impersonation policy decides the rest).
pub fn staff_behind<'a>(ctx: &'a Context<'_>) -> Result<StaffBehind<'a>, AppError> {
    StaffBehind::check(caller(ctx)?)
}

/// The caller's proof that they are a super admin with 2FA passed, acting as themselves.
pub async fn super_admin<'a>(ctx: &'a Context<'_>) -> Result<SuperAdminProof<'a>, AppError> {
    let c = caller(ctx)?;
    match SuperAdminProof::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

/// The caller's proof that they may change data (not a read-only session), for the services
/// that write the customer's data. A read-only session is refused, and the refusal audited.
pub async fn may_write<'a>(ctx: &'a Context<'_>) -> Result<MayWrite<'a>, AppError> {
    let c = caller(ctx)?;
    match MayWrite::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

async fn refused(ctx: &Context<'_>, c: &AuthContext, refusal: AppError) -> AppError {
    let field = ctx.item.node.name.node.as_str();
    refuse_and_audit(ctx.data_opt(), c, field, &request_meta(ctx), refusal).await
}
