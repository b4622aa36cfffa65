//! Sessions: signing in, the tokens a client holds, and refresh-token rotation.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::password;
use crate::auth::tokens::{self, AccessGrant};
use crate::db::{db_time, new_id};
use crate::entities::{refresh_token, user};
use crate::error::{AppError, AppResult};
use crate::services::accounts::throttle::{self, Scope};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::{accounts::users, validation, work::memberships};
use crate::state::AppState;

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
    let grant = AccessGrant {
        user_id: &user.id,
        team_id: team_id.as_deref(),
        two_factor_enabled: user.two_factor_on(),
        two_factor_authenticated,
        impersonation: None,
    };
    let pre_two_factor = grant.waits_for_two_factor();
    let (access_token, expires_at) =
        tokens::issue_access(&state.config, now, state.config.access_token_ttl, grant)?;
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
            role: user.role,
            team_id,
            two_factor_authenticated,
            pre_two_factor,
            user,
            impersonation: None,
        },
    })
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
    let user = users::find_by_email(&state.db, &email).await?;
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
            let by = user.as_ref().map(|u| Attribution::user(&u.id));
            let entry = Entry::by(action::LOGIN_FAILED, by, state.clock.now())
                .details(serde_json::json!({ "email": email }))
                .meta(meta);
            audit::record_alone(state, entry).await?;
            attempt.failed();
            return Err(denied);
        }
    };
    attempt.succeeded().await?;
    let txn = crate::db::write_txn(state).await?;
    let team = memberships::valid_current_team(&txn, &user).await?;
    audit::record(
        &txn,
        Entry::new(
            action::LOGIN,
            Attribution::user(&user.id),
            state.clock.now(),
        )
        .team(team.as_deref())
        .meta(meta)
        .details(serde_json::json!({ "twoFactorPending": user.two_factor_on() })),
    )
    .await?;
    let refresh = if user.two_factor_on() {
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
    let now = state.clock.now();
    let row = find_refresh_token(state, token).await?.ok_or_else(denied)?;
    if row.used_at.is_some() || row.revoked_at.is_some() {
        reuse_detected(state, &row, meta).await?;
        return Err(denied());
    }
    if row.expires_at <= now {
        return Err(denied());
    }
    let txn = crate::db::write_txn(state).await?;
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
    let user = users::find_user(&txn, &row.user_id)
        .await
        .map_err(|_| denied())?;
    let team = memberships::team_to_act_in(&txn, &user, row.team_id.as_deref()).await?;
    audit::record(
        &txn,
        Entry::new(action::TOKEN_REFRESHED, Attribution::user(&user.id), now)
            .team(team.as_deref())
            .meta(meta),
    )
    .await?;
    // Refresh tokens are only issued to sessions past 2FA.
    let two_factor = user.two_factor_on();
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

/// Signs a device out (`logout`): the refresh token's whole family is revoked, so neither it
/// nor any token rotated from it works again; the user's other sign-ins are untouched. As in
/// RFC 7009, an unknown, expired or already revoked token is not an error: the answer says
/// nothing about the token. Access tokens already issued are not stored, so they run out at
/// their expiry (`ACCESS_TOKEN_TTL_MINUTES`).
pub async fn logout(state: &AppState, token: &str, meta: &RequestMeta) -> AppResult<()> {
    let Some(row) = find_refresh_token(state, token).await? else {
        return Ok(());
    };
    if row.revoked_at.is_some() {
        return Ok(());
    }
    end_family(state, &row, action::LOGGED_OUT, meta).await
}

/// The stored row of a presented refresh token, found by its hash (an over-long string is no
/// token: it is not hashed).
async fn find_refresh_token(
    state: &AppState,
    token: &str,
) -> AppResult<Option<refresh_token::Model>> {
    if token.len() > 200 {
        return Ok(None);
    }
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(tokens::hash_refresh_token(token)))
        .one(&state.db)
        .await?)
}

/// A refresh token was presented again: someone replayed it, so both holders must sign in
/// again.
async fn reuse_detected(
    state: &AppState,
    row: &refresh_token::Model,
    meta: &RequestMeta,
) -> AppResult<()> {
    end_family(state, row, action::REFRESH_TOKEN_REUSED, meta).await
}

/// Revokes a refresh token's whole family and audits why (`LOGGED_OUT`,
/// `REFRESH_TOKEN_REUSED`), in one transaction.
async fn end_family(
    state: &AppState,
    row: &refresh_token::Model,
    why: &'static str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    revoke_family(&txn, &row.family_id, now).await?;
    audit::record(
        &txn,
        Entry::new(why, Attribution::user(&row.user_id), now)
            .team(row.team_id.as_deref())
            .entity("RefreshTokenFamily", &row.family_id)
            .meta(meta),
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
