//! Two-factor authentication: enrolment, the second sign-in step, turning it off, and the
//! one check of a TOTP code (each time step accepted once, guesses throttled).
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::auth::context::RequestMeta;
use crate::auth::proof::AsThemselves;
use crate::auth::totp;
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::sealed::Field;
use crate::services::accounts::factors::{self, Change};
use crate::services::accounts::sign_in::{self, Refresh, Session};
use crate::services::accounts::throttle::{self, Scope};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::{accounts::profile, accounts::users, validation};
use crate::state::AppState;

pub struct Enrollment {
    pub otpauth_url: String,
    pub qr_code_data_url: String,
}

/// Starts 2FA enrollment: a new secret, shown once, enabled only by `turnOnTwoFactor`.
pub async fn generate_two_factor_secret(
    state: &AppState,
    caller: AsThemselves<'_>,
    meta: &RequestMeta,
) -> AppResult<Enrollment> {
    if caller.user.totp_enabled {
        return Err(AppError::bad_input(
            "twoFactor",
            "two-factor authentication is already on",
        ));
    }
    let secret = totp::new_secret();
    let (otpauth_url, qr_code_data_url) = totp::enrollment(&secret, &caller.user.email)?;
    let now = state.clock.now();
    let sealed = state.config.data_keys.seal(Field::TotpSecret, &secret)?;
    let txn = crate::db::write_txn(state).await?;
    users::update(&txn, &caller.user.id, now, |u| {
        u.totp_secret = Set(Some(sealed));
        u.totp_last_step = Set(None);
    })
    .await?;
    let entry = Entry::for_caller(action::TWO_FACTOR_SECRET_GENERATED, &caller, meta, now)
        .entity("User", &caller.user.id);
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    Ok(Enrollment {
        otpauth_url,
        qr_code_data_url,
    })
}

/// Checks a TOTP code for `user` and consumes its time step, so the same code (or an older
/// one) is never accepted twice; a conditional update makes racing requests safe. Runs before
/// the mutation's transaction: wrong codes are counted and audited on their own, and after
/// too many the user is `RATE_LIMITED`.
pub async fn verify_totp(
    state: &AppState,
    user: &user::Model,
    code: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let attempt = throttle::take(state, Scope::Totp, &user.id).await?;
    let stored = user
        .totp_secret
        .as_deref()
        .ok_or_else(|| AppError::bad_input("code", "generate a two-factor secret first"))?;
    let secret = &state.config.data_keys.open(Field::TotpSecret, stored)?;
    let now = state.clock.now();
    let step = match validation::totp_code(code) {
        Ok(code) => totp::matching_step(secret, &code, now.timestamp())?,
        Err(_) => None,
    };
    let claimed = match step {
        Some(step) => {
            let txn = crate::db::write_txn(state).await?;
            let claimed = user::Entity::update_many()
                .col_expr(user::Column::TotpLastStep, Expr::value(step))
                .filter(user::Column::Id.eq(user.id.clone()))
                .filter(
                    sea_orm::Condition::any()
                        .add(user::Column::TotpLastStep.is_null())
                        .add(user::Column::TotpLastStep.lt(step)),
                )
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            txn.commit().await?;
            claimed
        }
        None => false,
    };
    if !claimed {
        let entry = Entry::new(action::TWO_FACTOR_FAILED, Attribution::user(&user.id), now)
            .team(user.current_team_id.as_deref())
            .meta(meta);
        audit::record_alone(state, entry).await?;
        attempt.failed();
        return Err(AppError::bad_input("code", "the code is not valid"));
    }
    attempt.succeeded().await
}

/// Reached only through `step_up::turn_on_totp`, which brings the check of the proof by an
/// existing factor (`prove`, awaited once the password is right).
pub(in crate::services::accounts) async fn turn_on_two_factor(
    state: &AppState,
    caller: AsThemselves<'_>,
    code: &str,
    current_password: &str,
    prove: impl std::future::Future<Output = AppResult<Option<crate::auth::step_up::Method>>>,
    meta: &RequestMeta,
) -> AppResult<Session> {
    if caller.user.totp_enabled {
        return Err(AppError::bad_input(
            "twoFactor",
            "two-factor authentication is already on",
        ));
    }
    profile::check_current_password(
        state,
        &caller,
        "password",
        current_password,
        action::TWO_FACTOR_ENABLE_FAILED,
        meta,
    )
    .await?;
    // An account that holds a passkey adds TOTP only with a fresh assertion of it.
    let proved = prove.await?;
    verify_totp(state, &caller.user, code, meta).await?;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let user = users::update(&txn, &caller.user.id, now, |u| {
        u.totp_enabled = Set(true);
    })
    .await?;
    sign_in::revoke_all_refresh_tokens(&txn, &user.id, now).await?;
    let mut entry =
        Entry::for_caller(action::TWO_FACTOR_ENABLED, &caller, meta, now).entity("User", &user.id);
    if let Some(m) = proved {
        entry = entry.details(serde_json::json!({ "proof": m.as_str() }));
    }
    audit::record(&txn, entry).await?;
    factors::told(&txn, &state.config, &user, Change::TotpOn, now).await?;
    let session = sign_in::issue_session(
        state,
        &txn,
        user,
        caller.team_id.clone(),
        true,
        Refresh::NewFamily,
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

pub async fn authenticate_two_factor(
    state: &AppState,
    caller: AsThemselves<'_>,
    code: &str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    if !caller.user.totp_enabled {
        return Err(AppError::bad_input(
            "code",
            "two-factor authentication is off",
        ));
    }
    verify_totp(state, &caller.user, code, meta).await?;
    second_factor_passed(state, caller, action::TWO_FACTOR_AUTHENTICATED, meta).await
}

/// Sign-in's second step passed (a code, or a passkey: `action` says which): audited, and a
/// session past 2FA with a new refresh-token family.
pub async fn second_factor_passed(
    state: &AppState,
    caller: AsThemselves<'_>,
    action: &'static str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let entry = Entry::for_caller(action, &caller, meta, now);
    audit::record(&txn, entry).await?;
    let user = users::find_user(&txn, &caller.user.id).await?;
    let session = sign_in::issue_session(
        state,
        &txn,
        user,
        caller.team_id.clone(),
        true,
        Refresh::NewFamily,
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

pub async fn turn_off_two_factor(
    state: &AppState,
    caller: AsThemselves<'_>,
    code: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    if !caller.user.totp_enabled {
        return Err(AppError::bad_input(
            "code",
            "two-factor authentication is off",
        ));
    }
    verify_totp(state, &caller.user, code, meta).await?;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let before = users::find_user(&txn, &caller.user.id).await?;
    let after = users::update(&txn, &caller.user.id, now, |u| {
        u.totp_enabled = Set(false);
        u.totp_secret = Set(None);
    })
    .await?;
    let config = &state.config;
    crate::services::impersonation::ending::end_for_user_change(
        &txn, config, &before, &after, now, meta,
    )
    .await?;
    sign_in::revoke_all_refresh_tokens(&txn, &caller.user.id, now).await?;
    let entry = Entry::for_caller(action::TWO_FACTOR_DISABLED, &caller, meta, now)
        .entity("User", &caller.user.id);
    audit::record(&txn, entry).await?;
    factors::told(&txn, &state.config, &after, Change::TotpOff, now).await?;
    txn.commit().await?;
    Ok(())
}
