//! Rate limiting of failed credentials, in the database so all servers share it: after
//! `max_failures` failed logins for an email (or failed TOTP codes for a user) within the
//! lockout window, further attempts get `RATE_LIMITED` until the window has passed.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{db_time, new_id};
use crate::AppState;
use crate::entities::auth_failure::{self, Column as C};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Failed logins, per normalized email (known or not).
    Login,
    /// Failed TOTP codes, per user id.
    Totp,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Login => "LOGIN",
            Scope::Totp => "TOTP",
        }
    }
}

/// Refuses with `RATE_LIMITED` while the subject is locked out.
pub async fn ensure_allowed(state: &AppState, scope: Scope, subject: &str) -> AppResult<()> {
    let now = state.clock.now();
    let row = auth_failure::Entity::find()
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .one(&state.db)
        .await?;
    match row.and_then(|r| r.locked_until) {
        Some(until) if until > now => Err(AppError::RateLimited {
            retry_after_seconds: Ord::max((until - now).num_seconds(), 1),
        }),
        _ => Ok(()),
    }
}

/// Counts one failure, outside any mutation's transaction (the refused mutation itself
/// writes nothing else). The attempt that reaches the limit sets the lockout.
pub async fn record_failure(state: &AppState, scope: Scope, subject: &str) -> AppResult<()> {
    let now = state.clock.now();
    let limits = &state.config.throttle;
    let window_start = now - limits.lockout;
    let conn = &state.db;
    // Create the counter if missing; concurrent creators meet at the unique index.
    auth_failure::Entity::insert(auth_failure::ActiveModel {
        id: Set(new_id()),
        scope: Set(scope.as_str().to_string()),
        subject: Set(subject.to_string()),
        failures: Set(0),
        locked_until: Set(None),
        updated_at: Set(db_time(now)),
    })
    .on_conflict_do_nothing_on([C::Scope, C::Subject])
    .exec(conn)
    .await?;
    // Failures older than the window no longer count.
    auth_failure::Entity::update_many()
        .col_expr(C::Failures, Expr::value(0))
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .filter(C::UpdatedAt.lt(db_time(window_start)))
        .exec(conn)
        .await?;
    // An atomic increment: racing failures each count.
    auth_failure::Entity::update_many()
        .col_expr(C::Failures, Expr::col(C::Failures).add(1))
        .col_expr(C::UpdatedAt, Expr::value(db_time(now)))
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .exec(conn)
        .await?;
    let locked_until = db_time(now + limits.lockout);
    let locked = auth_failure::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::value(locked_until))
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .filter(C::Failures.gte(limits.max_failures as i32))
        .exec(conn)
        .await?;
    if locked.rows_affected > 0 {
        reset_count(conn, scope, subject).await?;
    }
    Ok(())
}

/// The count restarts once a lockout is set, so the next window starts clean.
async fn reset_count(conn: &impl ConnectionTrait, scope: Scope, subject: &str) -> AppResult<()> {
    auth_failure::Entity::update_many()
        .col_expr(C::Failures, Expr::value(0))
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .exec(conn)
        .await?;
    Ok(())
}

/// A success clears the failures.
pub async fn record_success(state: &AppState, scope: Scope, subject: &str) -> AppResult<()> {
    reset_count(&state.db, scope, subject).await
}
