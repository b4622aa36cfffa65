//! Passkeys (WebAuthn), through webauthn-rs: registration, the list, removal, and the one
//! check of an assertion, used by sign-in's second step and by step-up.
//!
//! A ceremony's server half (webauthn-rs's state) is kept in `webauthn_challenges` between its
//! two steps, so that any server can finish what another began. A challenge belongs to one
//! user, is used once (a conditional update claims it), and lapses after 5 minutes. A
//! passkey's signature counter only goes up: a conditional update refuses an assertion whose
//! counter is not above the one stored (a cloned authenticator), even two at once.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder,
};

use crate::auth::context::RequestMeta;
use crate::auth::proof::AsThemselves;
use crate::config::RelyingParty;
use crate::db::{db_time, new_id};
use crate::entities::{passkey, user, webauthn_challenge as challenge};
use crate::error::{AppError, AppResult};
use crate::services::accounts::factors::{self, Change};
use crate::services::accounts::sign_in::{self, Session};
use crate::services::accounts::throttle;
use crate::services::accounts::{profile, users};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::state::AppState;

/// How long a challenge may be answered.
pub const CHALLENGE_MINUTES: i64 = 5;
/// The longest name a passkey may have.
const MAX_NAME: usize = 100;

const REGISTRATION: &str = "REGISTRATION";
const AUTHENTICATION: &str = "AUTHENTICATION";

/// What an assertion is asked for. A challenge started for one purpose proves only that one;
/// a challenge started without one proves any one operation (and is then used up).
#[derive(Copy, Clone, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "PasskeyPurpose")]
pub enum Purpose {
    /// The second factor at sign-in (`authenticateWithPasskey`).
    SignIn,
    /// Step-up for `impersonate`.
    Impersonate,
    /// Step-up for `elevateImpersonation`.
    Elevate,
    /// Step-up for `approveImpersonationReview`.
    ApproveReview,
    /// The proof by an existing factor that adds another (`finishPasskeyRegistration`,
    /// `turnOnTwoFactor`).
    AddFactor,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "SIGN_IN",
            Purpose::Impersonate => "IMPERSONATE",
            Purpose::Elevate => "ELEVATE",
            Purpose::ApproveReview => "APPROVE_REVIEW",
            Purpose::AddFactor => "ADD_FACTOR",
        }
    }
}

/// A challenge for the browser: `options` is the `publicKey` member of the options to
/// `navigator.credentials.create()` or `.get()`, binary values in base64url.
pub struct Challenge {
    pub id: String,
    pub options: serde_json::Value,
}

/// The browser's answer to a challenge: `PublicKeyCredential.toJSON()`.
pub struct Answer<'a> {
    pub challenge_id: &'a str,
    pub credential: &'a serde_json::Value,
}

/// The relying party, as webauthn-rs checks it.
fn relying_party(rp: &RelyingParty) -> AppResult<Webauthn> {
    WebauthnBuilder::new(&rp.rp_id, &rp.origin)
        .and_then(|b| b.rp_name("CRM").build())
        .map_err(AppError::internal)
}

/// The user handle the authenticator keeps: the user's id (a UUID).
fn user_handle(user: &user::Model) -> Uuid {
    Uuid::parse_str(&user.id).unwrap_or_else(|_| {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(user.id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    })
}

fn stored(row: &passkey::Model) -> AppResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(AppError::internal)
}

fn to_json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

/// The user's passkeys, oldest first.
pub async fn list(conn: &impl ConnectionTrait, user_id: &str) -> AppResult<Vec<passkey::Model>> {
    Ok(passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .order_by_asc(passkey::Column::Id)
        .all(conn)
        .await?)
}

async fn keep_challenge(
    state: &AppState,
    user_id: &str,
    kind: &str,
    purpose: Option<Purpose>,
    target: Option<&str>,
    server_state: String,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let id = new_id();
    let txn = crate::db::write_txn(state).await?;
    challenge::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        kind: Set(kind.to_string()),
        purpose: Set(purpose.map(|p| p.as_str().to_string())),
        target_id: Set(target.map(str::to_string)),
        state: Set(server_state),
        created_at: Set(db_time(now)),
        expires_at: Set(db_time(now + chrono::Duration::minutes(CHALLENGE_MINUTES))),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Claims the challenge `id` of `user_id` for one use: `None` when it is not theirs, not of
/// this kind or purpose, already used, or lapsed. The claim commits on its own: a challenge
/// is spent whether or not the answer turns out valid.
async fn claim(
    state: &AppState,
    id: &str,
    user_id: &str,
    kind: &str,
    purpose: Option<Purpose>,
    target: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    let mut fits = Condition::any().add(challenge::Column::Purpose.is_null());
    if let Some(p) = purpose {
        fits = fits.add(challenge::Column::Purpose.eq(p.as_str()));
    }
    // A challenge that named a customer proves an operation on that customer only.
    let mut aimed = Condition::any().add(challenge::Column::TargetId.is_null());
    if let Some(t) = target {
        aimed = aimed.add(challenge::Column::TargetId.eq(t));
    }
    let txn = crate::db::write_txn(state).await?;
    let claimed = challenge::Entity::update_many()
        .col_expr(challenge::Column::UsedAt, Expr::value(Some(db_time(now))))
        .filter(challenge::Column::Id.eq(id))
        .filter(challenge::Column::UserId.eq(user_id))
        .filter(challenge::Column::Kind.eq(kind))
        .filter(challenge::Column::UsedAt.is_null())
        .filter(challenge::Column::ExpiresAt.gt(db_time(now)))
        .filter(fits)
        .filter(aimed)
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let row = match claimed {
        true => challenge::Entity::find_by_id(id).one(&txn).await?,
        false => None,
    };
    txn.commit().await?;
    Ok(row.map(|r| r.state))
}

/// Records a refused answer (audited on its own: the refusal commits, the operation does
/// not) and returns the error for it.
async fn refused(
    state: &AppState,
    user: &user::Model,
    cause: &'static str,
    failed_action: &'static str,
    meta: &RequestMeta,
) -> AppResult<AppError> {
    let entry = Entry::new(
        failed_action,
        Attribution::user(&user.id),
        state.clock.now(),
    )
    .team(user.current_team_id.as_deref())
    .details(serde_json::json!({ "cause": cause }))
    .meta(meta);
    audit::record_alone(state, entry).await?;
    let message = match cause {
        "CHALLENGE" => "the passkey challenge is unknown, used or expired: start a new one",
        "COUNTER" => "the passkey's counter went backwards: it may have been copied",
        "FORMAT" => "the passkey's answer is not a WebAuthn credential",
        _ => "the passkey's answer is not valid",
    };
    Ok(AppError::bad_input("passkey", message))
}

/// `startPasskeyRegistration`: a challenge to create a passkey for the caller. Their
/// existing passkeys are excluded, so one authenticator is registered once.
pub async fn start_registration(
    state: &AppState,
    caller: AsThemselves<'_>,
    password: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<Challenge> {
    // Checked before the browser's ceremony when given: a wrong password then leaves no
    // passkey on the device that the server never kept.
    if let Some(password) = password {
        let failed = action::PASSKEY_CHANGE_FAILED;
        profile::check_current_password(state, &caller, "password", password, failed, meta).await?;
    }
    let user = &caller.user;
    let webauthn = relying_party(&state.config.relying_party)?;
    let existing = list(&state.db, &user.id).await?;
    let exclude = existing
        .iter()
        .map(|row| stored(row).map(|p| p.cred_id().clone()))
        .collect::<AppResult<Vec<_>>>()?;
    let (options, registration) = webauthn
        .start_passkey_registration(user_handle(user), &user.email, &user.name, Some(exclude))
        .map_err(AppError::internal)?;
    let now = state.clock.now();
    let id = keep_challenge(
        state,
        &user.id,
        REGISTRATION,
        None,
        None,
        to_json(&registration)?,
        now,
    )
    .await?;
    let options = serde_json::to_value(&options.public_key).map_err(AppError::internal)?;
    Ok(Challenge { id, options })
}

/// `finishPasskeyRegistration`: checks the current password and the authenticator's answer,
/// then keeps the passkey. A user who had no second factor now has one: their other
/// sign-ins end (refresh tokens revoked), as when TOTP is turned on.
/// Reached only through `step_up::add_passkey`, which brings the check of the proof by an
/// existing factor (`prove`, awaited once the password is right).
pub(in crate::services::accounts) async fn finish_registration(
    state: &AppState,
    caller: AsThemselves<'_>,
    name: &str,
    password: &str,
    answer: Answer<'_>,
    prove: impl std::future::Future<Output = AppResult<Option<crate::auth::step_up::Method>>>,
    meta: &RequestMeta,
) -> AppResult<passkey::Model> {
    // The rules of names: it reaches admins in the audit log's sentences.
    let name = crate::services::validation::name("name", name, MAX_NAME)?;
    let name = name.as_str();
    let failed = action::PASSKEY_CHANGE_FAILED;
    profile::check_current_password(state, &caller, "password", password, failed, meta).await?;
    // A second factor is added only by someone who holds a first one, freshly proved: a
    // phished password and sign-in code are not enough.
    let proved = prove.await?;
    let user = &caller.user;
    let now = state.clock.now();
    let Some(server_state) = claim(
        state,
        answer.challenge_id,
        &user.id,
        REGISTRATION,
        None,
        None,
        now,
    )
    .await?
    else {
        return Err(refused(state, user, "CHALLENGE", failed, meta).await?);
    };
    let Ok(credential) =
        serde_json::from_value::<RegisterPublicKeyCredential>(answer.credential.clone())
    else {
        return Err(refused(state, user, "FORMAT", failed, meta).await?);
    };
    let registration: PasskeyRegistration =
        serde_json::from_str(&server_state).map_err(AppError::internal)?;
    let webauthn = relying_party(&state.config.relying_party)?;
    let key = match webauthn.finish_passkey_registration(&credential, &registration) {
        Ok(key) => key,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return Err(refused(state, user, "SIGNATURE", failed, meta).await?);
        }
    };
    let credential_id = URL_SAFE_NO_PAD.encode(key.cred_id());
    let txn = crate::db::write_txn(state).await?;
    let taken = passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_id.clone()))
        .one(&txn)
        .await?
        .is_some();
    if taken {
        return Err(AppError::bad_input(
            "passkey",
            "this passkey is already registered",
        ));
    }
    let row = passkey::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user.id.clone()),
        name: Set(name.to_string()),
        credential_id: Set(credential_id),
        credential: Set(to_json(&key)?),
        counter: Set(0),
        created_at: Set(db_time(now)),
        last_used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let before = users::find_user(&txn, &user.id).await?;
    let mut after = before.clone();
    if !before.has_passkey {
        after = users::update(&txn, &user.id, now, |u| u.has_passkey = Set(true)).await?;
        if !before.two_factor_on() {
            sign_in::revoke_all_refresh_tokens(&txn, &user.id, now).await?;
        }
    }
    let mut details = serde_json::json!({ "name": name });
    if let Some(m) = proved {
        details["proof"] = m.as_str().into();
    }
    let entry = Entry::for_caller(action::PASSKEY_ADDED, &caller, meta, now)
        .entity("User", &user.id)
        .details(details);
    audit::record(&txn, entry).await?;
    factors::told(&txn, &state.config, &after, Change::PasskeyAdded(name), now).await?;
    txn.commit().await?;
    Ok(row)
}

/// `deletePasskey`: with the current password. The last passkey of a user without TOTP turns
/// their 2FA off: their sessions into other accounts end and their other sign-ins with them,
/// as `turnOffTwoFactor` does.
pub async fn delete(
    state: &AppState,
    caller: AsThemselves<'_>,
    id: &str,
    password: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let failed = action::PASSKEY_CHANGE_FAILED;
    profile::check_current_password(state, &caller, "password", password, failed, meta).await?;
    let user_id = &caller.user.id;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let row = passkey::Entity::find_by_id(id)
        .filter(passkey::Column::UserId.eq(user_id.as_str()))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("passkey"))?;
    passkey::Entity::delete_by_id(row.id.clone())
        .exec(&txn)
        .await?;
    let left = passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id.as_str()))
        .one(&txn)
        .await?
        .is_some();
    if !left {
        let before = users::find_user(&txn, user_id).await?;
        let after = users::update(&txn, user_id, now, |u| u.has_passkey = Set(false)).await?;
        if !after.two_factor_on() {
            crate::services::impersonation::ending::end_for_user_change(
                &txn,
                &state.config,
                &before,
                &after,
                now,
                meta,
            )
            .await?;
            sign_in::revoke_all_refresh_tokens(&txn, user_id, now).await?;
        }
    }
    let entry = Entry::for_caller(action::PASSKEY_REMOVED, &caller, meta, now)
        .entity("User", user_id)
        .details(serde_json::json!({ "name": row.name }));
    audit::record(&txn, entry).await?;
    let after = users::find_user(&txn, user_id).await?;
    factors::told(
        &txn,
        &state.config,
        &after,
        Change::PasskeyRemoved(&row.name),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `startPasskeyAuthentication`: a challenge for `user`'s passkeys, for `purpose` (or any
/// one operation). A user without a passkey gets BAD_USER_INPUT.
pub async fn start_authentication(
    state: &AppState,
    user: &user::Model,
    purpose: Option<Purpose>,
    target: Option<&str>,
) -> AppResult<Challenge> {
    let keys = list(&state.db, &user.id)
        .await?
        .iter()
        .map(stored)
        .collect::<AppResult<Vec<_>>>()?;
    if keys.is_empty() {
        return Err(AppError::bad_input(
            "passkey",
            "you have no passkey: add one on your profile first",
        ));
    }
    let webauthn = relying_party(&state.config.relying_party)?;
    let (options, authentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(AppError::internal)?;
    let now = state.clock.now();
    let server_state = to_json(&authentication)?;
    let id = keep_challenge(
        state,
        &user.id,
        AUTHENTICATION,
        purpose,
        target,
        server_state,
        now,
    )
    .await?;
    let options = serde_json::to_value(&options.public_key).map_err(AppError::internal)?;
    Ok(Challenge { id, options })
}

/// The one check of an assertion by `user` for `purpose`: the challenge is theirs, unused,
/// fresh and for this purpose; the signature is by one of their passkeys, for this relying
/// party and origin, with user verification; the counter went up. Refusals are audited and
/// are BAD_USER_INPUT (`field: "passkey"`).
pub async fn verify(
    state: &AppState,
    user: &user::Model,
    answer: Answer<'_>,
    purpose: Purpose,
    target: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<()> {
    // Guesses share the TOTP codes' throttle (per user): a refused assertion, whatever the
    // cause, counts (a dropped attempt is a failed one); after too many, RATE_LIMITED.
    let attempt = throttle::take(state, throttle::Scope::Totp, &user.id).await?;
    let failed = action::PASSKEY_FAILED;
    let now = state.clock.now();
    let Some(server_state) = claim(
        state,
        answer.challenge_id,
        &user.id,
        AUTHENTICATION,
        Some(purpose),
        target,
        now,
    )
    .await?
    else {
        return Err(refused(state, user, "CHALLENGE", failed, meta).await?);
    };
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(answer.credential.clone())
    else {
        return Err(refused(state, user, "FORMAT", failed, meta).await?);
    };
    let authentication: PasskeyAuthentication =
        serde_json::from_str(&server_state).map_err(AppError::internal)?;
    let webauthn = relying_party(&state.config.relying_party)?;
    let result = match webauthn.finish_passkey_authentication(&credential, &authentication) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            return Err(refused(state, user, "SIGNATURE", failed, meta).await?);
        }
    };
    let credential_id = URL_SAFE_NO_PAD.encode(result.cred_id());
    let txn = crate::db::write_txn(state).await?;
    let row = passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_id))
        .filter(passkey::Column::UserId.eq(user.id.as_str()))
        .one(&txn)
        .await?;
    let Some(row) = row else {
        txn.rollback().await?;
        return Err(refused(state, user, "SIGNATURE", failed, meta).await?);
    };
    let mut key = stored(&row)?;
    key.update_credential(&result);
    let counter = i64::from(result.counter());
    // Counters only go up; an authenticator that keeps none always says 0.
    let rises = match counter {
        0 => passkey::Column::Counter.eq(0),
        _ => passkey::Column::Counter.lt(counter),
    };
    let updated = passkey::Entity::update_many()
        .col_expr(passkey::Column::Counter, Expr::value(counter))
        .col_expr(passkey::Column::Credential, Expr::value(to_json(&key)?))
        .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(db_time(now))))
        .filter(passkey::Column::Id.eq(row.id.clone()))
        .filter(rises)
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !updated {
        txn.rollback().await?;
        return Err(refused(state, user, "COUNTER", failed, meta).await?);
    }
    txn.commit().await?;
    attempt.succeeded().await
}

/// `authenticateWithPasskey`: the second sign-in step with a passkey, as
/// `authenticateTwoFactor` is with a code.
pub async fn authenticate(
    state: &AppState,
    caller: AsThemselves<'_>,
    answer: Answer<'_>,
    meta: &RequestMeta,
) -> AppResult<Session> {
    verify(state, &caller.user, answer, Purpose::SignIn, None, meta).await?;
    let passed = action::PASSKEY_AUTHENTICATED;
    super::two_factor::second_factor_passed(state, caller, passed, meta).await
}

/// Deletes challenges past their expiry (the sweep).
pub async fn sweep_challenges(state: &AppState) -> AppResult<u64> {
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let n = challenge::Entity::delete_many()
        .filter(challenge::Column::ExpiresAt.lte(db_time(now)))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(n)
}
