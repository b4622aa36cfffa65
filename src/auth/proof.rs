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
