//! Reusable resolver guards. Each checks one rule against the request's `AuthContext`;
//! combine them with `.and(..)` in `#[graphql(guard = "..")]`.
use async_graphql::{Context, Guard, Result};

use super::Role;
use super::context::{caller, maybe_caller};
use crate::error::AppError;

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

/// The effective user is an ADMIN or SUPER_ADMIN.
pub struct Admin;

impl Guard for Admin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if caller(ctx)?.role.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("admins only").into())
        }
    }
}

/// The effective user is a SUPER_ADMIN.
pub struct SuperAdmin;

impl Guard for SuperAdmin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if caller(ctx)?.role == Role::SuperAdmin {
            Ok(())
        } else {
            Err(AppError::Forbidden("super admins only").into())
        }
    }
}

/// The person really behind the request (the impersonator, while impersonating) is an admin.
/// Only `impersonate` uses it, so that an admin who is already impersonating is told
/// `ALREADY_IMPERSONATING` by the policy instead of `FORBIDDEN` for the target's role.
pub struct TrueUserAdmin;

impl Guard for TrueUserAdmin {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if Role::parse(&caller(ctx)?.true_user().role).is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("admins only").into())
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
            Some(c) if self.applies && c.is_impersonating() => {
                Err(AppError::BlockedWhileImpersonating.into())
            }
            _ => Ok(()),
        }
    }
}
