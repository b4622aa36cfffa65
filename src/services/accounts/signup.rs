//! New accounts: `register`, and `create-user` for operators. Each is a user and the team it
//! owns, created in one transaction with their audit rows.
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::auth::context::RequestMeta;
use crate::auth::{Role, password};
use crate::db::{db_time, new_id};
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::accounts::sign_in::{self, Refresh, Session};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::{accounts::users, validation, work::teams};
use crate::state::AppState;

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
    if users::find_by_email(conn, email).await?.is_some() {
        return Err(taken_email());
    }
    let now = db_time(state.clock.now());
    let user = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        role: Set(role),
        password_hash: Set(password_hash),
        impersonation_allowed: Set(true),
        impersonation_requires_approval: Set(false),
        impersonation_review_required: Set(false),
        totp_secret: Set(None),
        totp_enabled: Set(false),
        totp_last_step: Set(None),
        has_passkey: Set(false),
        current_team_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        sessions_valid_after: Set(None),
        role_changed_at: Set(None),
        role_changed_by: Set(None),
    }
    .insert(conn)
    .await
    .map_err(|e| match e.sql_err() {
        // A concurrent registration of the same email won the race (PostgreSQL; SQLite
        // serializes writers and finds it above).
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => taken_email(),
        _ => e.into(),
    })?;
    let by = Attribution::user(&user.id);
    audit::record(
        conn,
        Entry::new(audit_action, by.clone(), now)
            .entity("User", &user.id)
            .meta(meta),
    )
    .await?;
    let team_name = validation::own_team_name(name);
    let team = teams::create_team(state, conn, &user, &team_name, by, meta).await?;
    users::update(conn, &user.id, now, |u| {
        u.current_team_id = Set(Some(team.id))
    })
    .await
}

fn taken_email() -> AppError {
    AppError::bad_input("email", "this email is already registered")
}

/// What `register` and `create-user` ask for.
pub struct NewAccount {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// Validates the input, hashes the password and creates the user with its team in `txn`.
async fn create_account(
    state: &AppState,
    txn: &crate::db::WriteTxn,
    input: NewAccount,
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
    input: NewAccount,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let txn = crate::db::write_txn(state).await?;
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
    let session =
        sign_in::issue_session(state, &txn, user, team, false, Refresh::NewFamily).await?;
    txn.commit().await?;
    Ok(session)
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
    let input = NewAccount {
        email: email.into(),
        password: password.into(),
        name: name.into(),
    };
    let txn = crate::db::write_txn(state).await?;
    let meta = RequestMeta::default();
    let user = create_account(state, &txn, input, role, action::USER_CREATED, &meta).await?;
    txn.commit().await?;
    Ok(user.id)
}
