//! Step-up: the fresh proof `IMPERSONATION_STEP_UP` asks of an admin for `impersonate`,
//! `elevateImpersonation` and `approveImpersonationReview`, checked for each operation (one
//! proof proves one operation: a code's time step and a passkey challenge are used up).
use crate::auth::context::RequestMeta;
use crate::auth::step_up::{Method, NewFactor, accepted, to_add_factor};
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::accounts::passkeys::{self, Answer, Purpose};
use crate::services::accounts::two_factor;
use crate::state::AppState;

/// The proof an operation came with (GraphQL `StepUp`).
#[derive(Default)]
pub struct Proof<'a> {
    pub code: Option<&'a str>,
    pub passkey: Option<Answer<'a>>,
}

/// Checks `proof` of `admin` (the person really behind the request) for `purpose`, on the
/// customer `target` (a passkey challenge that named another customer proves nothing here).
/// `always`:
/// the operation needs a fresh proof whatever the rule. Returns the method that proved it,
/// `None` when none was needed; STEP_UP_REQUIRED (with the accepted methods) when the proof
/// is missing or of a kind not accepted.
pub async fn require(
    state: &AppState,
    admin: &user::Model,
    proof: Proof<'_>,
    purpose: Purpose,
    target: Option<&str>,
    always: bool,
    meta: &RequestMeta,
) -> AppResult<Option<Method>> {
    let methods = accepted(state.config.step_up, always);
    check(state, admin, proof, purpose, target, methods, meta).await
}

/// `finishPasskeyRegistration`: a new passkey, with the current password and, when the
/// account already has a second factor, a fresh proof of it.
pub async fn add_passkey(
    state: &AppState,
    caller: crate::auth::proof::AsThemselves<'_>,
    name: &str,
    password: &str,
    answer: Answer<'_>,
    proof: Proof<'_>,
    meta: &RequestMeta,
) -> AppResult<crate::entities::passkey::Model> {
    let user = caller.user.clone();
    let prove = require_existing_factor(state, &user, NewFactor::Passkey, proof, meta);
    passkeys::finish_registration(state, caller, name, password, answer, prove, meta).await
}

/// `turnOnTwoFactor`: TOTP on, with the new authenticator's code, the current password and,
/// when the account holds a passkey, a fresh assertion of it.
pub async fn turn_on_totp(
    state: &AppState,
    caller: crate::auth::proof::AsThemselves<'_>,
    code: &str,
    password: &str,
    proof: Proof<'_>,
    meta: &RequestMeta,
) -> AppResult<crate::services::accounts::sign_in::Session> {
    let user = caller.user.clone();
    let prove = require_existing_factor(state, &user, NewFactor::Totp, proof, meta);
    two_factor::turn_on_two_factor(state, caller, code, password, prove, meta).await
}

/// Checks the proof by an existing factor that adding another needs (`to_add_factor`).
/// Returns the method that proved it, `None` when the account had no factor to prove with.
pub async fn require_existing_factor(
    state: &AppState,
    user: &user::Model,
    adding: NewFactor,
    proof: Proof<'_>,
    meta: &RequestMeta,
) -> AppResult<Option<Method>> {
    let methods = to_add_factor(
        adding,
        user.has_passkey,
        user.totp_enabled,
        user.role.is_admin(),
        state.config.step_up,
    );
    check(state, user, proof, Purpose::AddFactor, None, methods, meta).await
}

async fn check(
    state: &AppState,
    admin: &user::Model,
    proof: Proof<'_>,
    purpose: Purpose,
    target: Option<&str>,
    methods: &'static [Method],
    meta: &RequestMeta,
) -> AppResult<Option<Method>> {
    if methods.is_empty() {
        return Ok(None);
    }
    if let Some(answer) = proof.passkey.filter(|_| methods.contains(&Method::Passkey)) {
        passkeys::verify(state, admin, answer, purpose, target, meta).await?;
        return Ok(Some(Method::Passkey));
    }
    if let Some(code) = proof.code.filter(|_| methods.contains(&Method::Totp)) {
        // A secret generated but never confirmed is nobody's factor yet.
        if !admin.totp_enabled {
            return Err(AppError::bad_input(
                "code",
                "no authenticator app (TOTP) is on for this account",
            ));
        }
        two_factor::verify_totp(state, admin, code, meta).await?;
        return Ok(Some(Method::Totp));
    }
    Err(AppError::StepUpRequired { methods })
}
