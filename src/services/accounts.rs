//! Accounts: registration, login, refresh-token rotation, profile, password, 2FA, roles.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, Set,
};

use super::audit::{self, Entry, action};
use super::throttle::{self, Scope};
use super::{db_time, new_id, teams, validation};
use crate::AppState;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::tokens::{self, AccessGrant};
use crate::auth::{Role, password, totp};
use crate::entities::{refresh_token, user};
use crate::error::{AppError, AppResult};

/// Tokens handed to a client, and who they are for.
pub struct Session {
    pub access_token: String,
    /// `None` for impersonation tokens and pre-2FA tokens: neither can be refreshed.
    pub refresh_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub context: AuthContext,
}

/// Whether a session gets a refresh token.
pub enum Refresh {
    /// None: pre-2FA sessions (impersonation tokens are issued elsewhere and never get one).
    Without,
    /// A refresh token starting a new rotation family (a fresh sign-in).
    NewFamily,
    /// The next token of an existing family (rotation).
    Rotate(String),
}

/// Issues a normal (non-impersonation) session on `conn`, with its refresh token if asked.
pub async fn issue_session(
    state: &AppState,
    conn: &impl ConnectionTrait,
    user: user::Model,
    team_id: Option<String>,
    two_factor_authenticated: bool,
    refresh: Refresh,
) -> AppResult<Session> {
    let now = state.clock.now();
    let (access_token, expires_at) = tokens::issue_access(
        &state.config,
        now,
        state.config.access_token_ttl,
        AccessGrant {
            user_id: &user.id,
            team_id: team_id.as_deref(),
            two_factor_enabled: user.totp_enabled,
            two_factor_authenticated,
            impersonation: None,
        },
    )?;
    let family = match refresh {
        Refresh::Without => None,
        Refresh::NewFamily => Some(new_id()),
        Refresh::Rotate(family) => Some(family),
    };
    let refresh_token = match family {
        None => None,
        Some(family) => {
            let (token, hash) = tokens::new_refresh_token();
            refresh_token::ActiveModel {
                id: Set(new_id()),
                token_hash: Set(hash),
                family_id: Set(family),
                user_id: Set(user.id.clone()),
                team_id: Set(team_id.clone()),
                expires_at: Set(db_time(crate::clock::later(
                    now,
                    state.config.refresh_token_ttl,
                )?)),
                used_at: Set(None),
                revoked_at: Set(None),
                created_at: Set(db_time(now)),
            }
            .insert(conn)
            .await?;
            Some(token)
        }
    };
    Ok(Session {
        access_token,
        refresh_token,
        expires_at,
        context: AuthContext {
            role: Role::parse(&user.role),
            team_id,
            two_factor_authenticated,
            pre_two_factor: user.totp_enabled && !two_factor_authenticated,
            user,
            impersonation: None,
        },
    })
}

pub async fn find_user(conn: &impl ConnectionTrait, id: &str) -> AppResult<user::Model> {
    user::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))
}

pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(conn)
        .await?)
}

/// A validated new account, its password already hashed.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: String,
    pub name: &'a str,
    pub role: Role,
}

/// Creates a user and the team it owns, on `conn` (a transaction). Returns the user with its
/// current team set.
pub async fn create_user_with_team(
    state: &AppState,
    conn: &impl ConnectionTrait,
    new: NewUser<'_>,
    audit_action: &'static str,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    let NewUser {
        email,
        password_hash,
        name,
        role,
    } = new;
    if find_by_email(conn, email).await?.is_some() {
        return Err(taken_email());
    }
    let now = db_time(state.clock.now());
    let user = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        role: Set(role.as_str().to_string()),
        password_hash: Set(password_hash),
        impersonation_allowed: Set(true),
        totp_secret: Set(None),
        totp_enabled: Set(false),
        totp_last_step: Set(None),
        current_team_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sessions_valid_after: Set(None),
    }
    .insert(conn)
    .await
    .map_err(|e| match e.sql_err() {
        // A concurrent registration of the same email won the race (PostgreSQL; SQLite
        // serializes writers and finds it above).
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => taken_email(),
        _ => e.into(),
    })?;
    let by = audit::self_acting(&user.id);
    audit::record(
        conn,
        Entry::new(audit_action, by.clone(), now)
            .entity("User", &user.id)
            .ip(meta.ip.as_deref()),
    )
    .await?;
    let team_name = validation::own_team_name(name);
    let team = teams::create_team(state, conn, &user, &team_name, by, meta).await?;
    let mut active = user.into_active_model();
    active.current_team_id = Set(Some(team.id.clone()));
    Ok(active.update(conn).await?)
}

fn taken_email() -> AppError {
    AppError::bad_input("email", "this email is already registered")
}

pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// Validates the input, hashes the password and creates the user with its team in `txn`.
async fn create_account(
    state: &AppState,
    txn: &DatabaseTransaction,
    input: RegisterInput,
    role: Role,
    audit_action: &'static str,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    let email = validation::email(&input.email)?;
    let name = validation::person_name("name", &input.name)?;
    validation::password("password", &input.password)?;
    let password_hash = password::hash(&state.hashing, input.password).await?;
    let new = NewUser {
        email: &email,
        password_hash,
        name: &name,
        role,
    };
    create_user_with_team(state, txn, new, audit_action, meta).await
}

/// `register`: a new user, the team it owns, and its first tokens, in one transaction.
pub async fn register(
    state: &AppState,
    input: RegisterInput,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let txn = super::write_txn(&state.db).await?;
    let user = create_account(
        state,
        &txn,
        input,
        Role::User,
        action::USER_REGISTERED,
        meta,
    )
    .await?;
    let team = user.current_team_id.clone();
    let session = issue_session(state, &txn, user, team, false, Refresh::NewFamily).await?;
    txn.commit().await?;
    Ok(session)
}

/// Checks credentials. Unknown emails and wrong passwords get the same answer after the same
/// work (a dummy hash is verified for unknown emails). Failures are counted per email and
/// audited. A user with 2FA on gets a token good only for `authenticateTwoFactor` and `me`.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let denied = AppError::Unauthenticated("invalid email or password");
    let email = email.trim().to_lowercase();
    if email.len() > validation::MAX_EMAIL {
        return Err(denied);
    }
    // The guess is taken before the (slow) hash is checked, so parallel guesses cannot
    // overrun the limit while they wait for a hashing worker.
    let attempt = throttle::take(state, Scope::Login, &email).await?;
    let user = find_by_email(&state.db, &email).await?;
    // Over-long passwords are checked as wrong, after the same work, without hashing them.
    let too_long = password.chars().count() > validation::MAX_PASSWORD;
    let guess = if too_long {
        String::new()
    } else {
        password.to_string()
    };
    let ok = password::verify(
        &state.hashing,
        guess,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match (ok && !too_long, user) {
        (true, Some(u)) => u,
        (_, user) => {
            audit::record_refusal(
                &state.db,
                action::LOGIN_FAILED,
                user.as_ref().map(|u| u.id.as_str()),
                None,
                serde_json::json!({ "email": email }),
                meta.ip.as_deref(),
                state.clock.now(),
            )
            .await?;
            attempt.failed();
            return Err(denied);
        }
    };
    attempt.succeeded().await?;
    let txn = super::write_txn(&state.db).await?;
    let team = teams::valid_current_team(&txn, &user).await?;
    audit::record(
        &txn,
        Entry::new(
            action::LOGIN,
            audit::self_acting(&user.id),
            state.clock.now(),
        )
        .team(team.as_deref())
        .ip(meta.ip.as_deref())
        .details(serde_json::json!({ "twoFactorPending": user.totp_enabled })),
    )
    .await?;
    let refresh = if user.totp_enabled {
        Refresh::Without
    } else {
        Refresh::NewFamily
    };
    let session = issue_session(state, &txn, user, team, false, refresh).await?;
    txn.commit().await?;
    Ok(session)
}

/// Rotates a refresh token. A token already used is refused, and its whole family is revoked
/// (someone replayed it: both holders must sign in again).
pub async fn refresh(state: &AppState, token: &str, meta: &RequestMeta) -> AppResult<Session> {
    let denied = || AppError::Unauthenticated("invalid refresh token");
    if token.len() > 200 {
        return Err(denied());
    }
    let now = state.clock.now();
    let hash = tokens::hash_refresh_token(token);
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(&state.db)
        .await?
        .ok_or_else(denied)?;
    if row.used_at.is_some() || row.revoked_at.is_some() {
        reuse_detected(state, &row, meta).await?;
        return Err(denied());
    }
    if row.expires_at <= now {
        return Err(denied());
    }
    let txn = super::write_txn(&state.db).await?;
    // Conditional update: of two racing refreshes with one token, one wins.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(db_time(now)))
        .filter(refresh_token::Column::Id.eq(row.id.clone()))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        // Another request used this token a moment ago: a replay as much as a later reuse.
        txn.rollback().await?;
        reuse_detected(state, &row, meta).await?;
        return Err(denied());
    }
    let user = find_user(&txn, &row.user_id).await.map_err(|_| denied())?;
    let team = teams::team_to_act_in(&txn, &user, row.team_id.as_deref()).await?;
    audit::record(
        &txn,
        Entry::new(action::TOKEN_REFRESHED, audit::self_acting(&user.id), now)
            .team(team.as_deref())
            .ip(meta.ip.as_deref()),
    )
    .await?;
    // Refresh tokens are only issued to sessions past 2FA.
    let two_factor = user.totp_enabled;
    let session = issue_session(
        state,
        &txn,
        user,
        team,
        two_factor,
        Refresh::Rotate(row.family_id),
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

/// A refresh token was presented again: someone replayed it, so both holders must sign in
/// again. Its whole family is revoked and the reuse audited, in one transaction.
async fn reuse_detected(
    state: &AppState,
    row: &refresh_token::Model,
    meta: &RequestMeta,
) -> AppResult<()> {
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    revoke_family(&txn, &row.family_id, now).await?;
    audit::record(
        &txn,
        Entry::new(
            action::REFRESH_TOKEN_REUSED,
            audit::self_acting(&row.user_id),
            now,
        )
        .team(row.team_id.as_deref())
        .entity("RefreshTokenFamily", &row.family_id)
        .ip(meta.ip.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn revoke_family(
    conn: &impl ConnectionTrait,
    family: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(db_time(now)))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes every refresh token of a user: after a change to their security settings.
pub async fn revoke_all_refresh_tokens(
    conn: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(db_time(now)))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

pub struct ProfileInput {
    pub name: Option<String>,
    pub impersonation_allowed: Option<bool>,
}

/// Updates the effective user's profile. (Changing `impersonationAllowed` while impersonating
/// is refused by the resolver's guard before this runs.)
pub async fn update_profile(
    state: &AppState,
    caller: &AuthContext,
    input: ProfileInput,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    let name = input
        .name
        .as_deref()
        .map(|n| validation::person_name("name", n))
        .transpose()?;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let mut active = find_user(&txn, &caller.user.id).await?.into_active_model();
    let mut changed = serde_json::Map::new();
    if let Some(name) = name {
        changed.insert("name".into(), name.clone().into());
        active.name = Set(name);
    }
    if let Some(allowed) = input.impersonation_allowed {
        changed.insert("impersonationAllowed".into(), allowed.into());
        active.impersonation_allowed = Set(allowed);
    }
    active.updated_at = Set(db_time(now));
    let user = active.update(&txn).await?;
    audit::record(
        &txn,
        Entry::new(action::PROFILE_UPDATED, caller.attribution(), now)
            .team(caller.team_id.as_deref())
            .entity("User", &user.id)
            .details(changed.into())
            .ip(meta.ip.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Checks the caller's current password before a security change (`changePassword`,
/// `turnOnTwoFactor`): a stolen access token alone must not be enough. Guesses are counted
/// with the login throttle of the caller's email, so this is no side door for guessing, and a
/// wrong one is audited with `failed_action`.
async fn check_current_password(
    state: &AppState,
    caller: &AuthContext,
    field: &'static str,
    current: &str,
    failed_action: &'static str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let attempt = throttle::take(state, Scope::Login, &caller.user.email).await?;
    let ok = current.chars().count() <= validation::MAX_PASSWORD
        && password::verify(
            &state.hashing,
            current.to_string(),
            Some(caller.user.password_hash.clone()),
        )
        .await?;
    if ok {
        return attempt.succeeded().await;
    }
    audit::record_refusal(
        &state.db,
        failed_action,
        Some(&caller.user.id),
        None,
        serde_json::json!({}),
        meta.ip.as_deref(),
        state.clock.now(),
    )
    .await?;
    attempt.failed();
    Err(AppError::bad_input(field, "the current password is wrong"))
}

pub async fn change_password(
    state: &AppState,
    caller: &AuthContext,
    current: &str,
    new: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    validation::password("newPassword", new)?;
    check_current_password(
        state,
        caller,
        "currentPassword",
        current,
        action::PASSWORD_CHANGE_FAILED,
        meta,
    )
    .await?;
    let hash = password::hash(&state.hashing, new.to_string()).await?;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let mut active = find_user(&txn, &caller.user.id).await?.into_active_model();
    active.password_hash = Set(hash);
    active.updated_at = Set(db_time(now));
    // Every session signed in with the old password ends, on every server.
    active.sessions_valid_after = Set(Some(db_time(now)));
    active.update(&txn).await?;
    revoke_all_refresh_tokens(&txn, &caller.user.id, now).await?;
    audit::record(
        &txn,
        Entry::new(action::PASSWORD_CHANGED, caller.attribution(), now)
            .team(caller.team_id.as_deref())
            .entity("User", &caller.user.id)
            .ip(meta.ip.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub struct Enrollment {
    pub otpauth_url: String,
    pub qr_code_data_url: String,
}

/// Starts 2FA enrollment: a new secret, shown once, enabled only by `turnOnTwoFactor`.
pub async fn generate_two_factor_secret(
    state: &AppState,
    caller: &AuthContext,
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
    let txn = super::write_txn(&state.db).await?;
    let mut active = find_user(&txn, &caller.user.id).await?.into_active_model();
    active.totp_secret = Set(Some(secret));
    active.totp_last_step = Set(None);
    active.updated_at = Set(db_time(now));
    active.update(&txn).await?;
    audit::record(
        &txn,
        Entry::new(
            action::TWO_FACTOR_SECRET_GENERATED,
            caller.attribution(),
            now,
        )
        .entity("User", &caller.user.id)
        .ip(meta.ip.as_deref()),
    )
    .await?;
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
async fn verify_totp(
    state: &AppState,
    user: &user::Model,
    code: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let attempt = throttle::take(state, Scope::Totp, &user.id).await?;
    let secret = user
        .totp_secret
        .as_deref()
        .ok_or_else(|| AppError::bad_input("code", "generate a two-factor secret first"))?;
    let now = state.clock.now();
    let step = match validation::totp_code(code) {
        Ok(code) => totp::matching_step(secret, &code, now.timestamp())?,
        Err(_) => None,
    };
    let claimed = match step {
        Some(step) => {
            user::Entity::update_many()
                .col_expr(user::Column::TotpLastStep, Expr::value(step))
                .filter(user::Column::Id.eq(user.id.clone()))
                .filter(
                    sea_orm::Condition::any()
                        .add(user::Column::TotpLastStep.is_null())
                        .add(user::Column::TotpLastStep.lt(step)),
                )
                .exec(&state.db)
                .await?
                .rows_affected
                == 1
        }
        None => false,
    };
    if !claimed {
        audit::record_refusal(
            &state.db,
            action::TWO_FACTOR_FAILED,
            Some(&user.id),
            None,
            serde_json::json!({}),
            meta.ip.as_deref(),
            now,
        )
        .await?;
        attempt.failed();
        return Err(AppError::bad_input("code", "the code is not valid"));
    }
    attempt.succeeded().await
}

pub async fn turn_on_two_factor(
    state: &AppState,
    caller: &AuthContext,
    code: &str,
    current_password: &str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    if caller.user.totp_enabled {
        return Err(AppError::bad_input(
            "twoFactor",
            "two-factor authentication is already on",
        ));
    }
    check_current_password(
        state,
        caller,
        "password",
        current_password,
        action::TWO_FACTOR_ENABLE_FAILED,
        meta,
    )
    .await?;
    verify_totp(state, &caller.user, code, meta).await?;
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let mut active = find_user(&txn, &caller.user.id).await?.into_active_model();
    active.totp_enabled = Set(true);
    active.updated_at = Set(db_time(now));
    let user = active.update(&txn).await?;
    revoke_all_refresh_tokens(&txn, &user.id, now).await?;
    audit::record(
        &txn,
        Entry::new(action::TWO_FACTOR_ENABLED, caller.attribution(), now)
            .entity("User", &user.id)
            .ip(meta.ip.as_deref()),
    )
    .await?;
    let session = issue_session(
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
    caller: &AuthContext,
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
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    audit::record(
        &txn,
        Entry::new(action::TWO_FACTOR_AUTHENTICATED, caller.attribution(), now)
            .team(caller.team_id.as_deref())
            .ip(meta.ip.as_deref()),
    )
    .await?;
    let user = find_user(&txn, &caller.user.id).await?;
    let session = issue_session(
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
    caller: &AuthContext,
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
    let txn = super::write_txn(&state.db).await?;
    let mut active = find_user(&txn, &caller.user.id).await?.into_active_model();
    active.totp_enabled = Set(false);
    active.totp_secret = Set(None);
    active.updated_at = Set(db_time(now));
    active.update(&txn).await?;
    revoke_all_refresh_tokens(&txn, &caller.user.id, now).await?;
    audit::record(
        &txn,
        Entry::new(action::TWO_FACTOR_DISABLED, caller.attribution(), now)
            .entity("User", &caller.user.id)
            .ip(meta.ip.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Super admins set roles; nobody changes their own.
pub async fn set_user_role(
    state: &AppState,
    caller: &AuthContext,
    user_id: &str,
    role: Role,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    if user_id == caller.user.id {
        return Err(AppError::Forbidden("nobody changes their own role"));
    }
    let now = state.clock.now();
    let txn = super::write_txn(&state.db).await?;
    let target = find_user(&txn, user_id).await?;
    let previous = target.role.clone();
    let mut active = target.into_active_model();
    active.role = Set(role.as_str().to_string());
    active.updated_at = Set(db_time(now));
    let user = active.update(&txn).await?;
    audit::record(
        &txn,
        Entry::new(action::ROLE_CHANGED, caller.attribution(), now)
            .entity("User", &user.id)
            .details(serde_json::json!({ "from": previous, "to": role.as_str() }))
            .ip(meta.ip.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// `create-user`: an account made by an operator on the command line (and its team).
/// Returns its id.
pub async fn create_operator_account(
    state: &AppState,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
) -> AppResult<String> {
    let input = RegisterInput {
        email: email.into(),
        password: password.into(),
        name: name.into(),
    };
    let txn = super::write_txn(&state.db).await?;
    let meta = RequestMeta::default();
    let user = create_account(state, &txn, input, role, action::USER_CREATED, &meta).await?;
    txn.commit().await?;
    Ok(user.id)
}
