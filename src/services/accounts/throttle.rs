//! Rate limiting of credential guesses, in the database so all servers share it.
//!
//! A guess is *taken* before it is evaluated, with one atomic conditional update
//! (`failures = failures + 1 WHERE failures < max`): whatever the concurrency, on every server
//! sharing the database, at most `max_failures` guesses are evaluated per window. A correct
//! guess releases the count; a wrong one keeps it. The window is `lockout` long and restarts
//! at each taken guess, so a subject that used up its guesses waits `lockout` after the last
//! one (`RATE_LIMITED` with `retryAfterSeconds`).
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set};

use crate::db::{db_time, new_id};
use crate::entities::auth_failure::{self, Column as C};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Password guesses, per normalized email (known or not): `login`, and the current
    /// password asked by `changePassword` and `turnOnTwoFactor`.
    Login,
    /// TOTP codes, per user id.
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

/// A guess that was allowed to be evaluated. Report its outcome with `succeeded` or
/// `failed`; a dropped attempt counts as failed.
#[must_use = "report the outcome of the guess"]
pub struct Attempt<'a> {
    state: &'a AppState,
    scope: Scope,
    subject: String,
}

/// Takes one guess for `subject`, or refuses with `RATE_LIMITED` when the window's guesses
/// are used up. Runs outside any mutation's transaction.
pub async fn take<'a>(state: &'a AppState, scope: Scope, subject: &str) -> AppResult<Attempt<'a>> {
    let now = state.clock.now();
    let limits = &state.config.throttle;
    let window_start = db_time(checked_sub(now, limits.lockout)?);
    let txn = crate::db::write_txn(state).await?;
    let conn = &txn;
    // The counter row; concurrent creators meet at the unique index.
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
    let stale = Expr::col(C::UpdatedAt).lt(window_start);
    let taken = auth_failure::Entity::update_many()
        .col_expr(
            C::Failures,
            Expr::case(stale.clone(), Expr::val(1))
                .finally(Expr::col(C::Failures).add(1))
                .into(),
        )
        .col_expr(C::UpdatedAt, Expr::value(db_time(now)))
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .filter(
            Condition::any()
                .add(C::Failures.lt(limits.max_failures as i32))
                .add(stale),
        )
        .exec(conn)
        .await?;
    if taken.rows_affected == 1 {
        txn.commit().await?;
        return Ok(Attempt {
            state,
            scope,
            subject: subject.to_string(),
        });
    }
    let row = auth_failure::Entity::find()
        .filter(C::Scope.eq(scope.as_str()))
        .filter(C::Subject.eq(subject))
        .one(conn)
        .await?;
    txn.commit().await?;
    let until = row.map(|r| r.updated_at + limits.lockout).unwrap_or(now);
    Err(AppError::RateLimited {
        retry_after_seconds: Ord::max((until - now).num_seconds(), 1),
    })
}

impl Attempt<'_> {
    /// The guess was right: the subject's count starts again.
    pub async fn succeeded(self) -> AppResult<()> {
        let txn = crate::db::write_txn(self.state).await?;
        auth_failure::Entity::update_many()
            .col_expr(C::Failures, Expr::value(0))
            .filter(C::Scope.eq(self.scope.as_str()))
            .filter(C::Subject.eq(self.subject.as_str()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The guess was wrong: it stays counted.
    pub fn failed(self) {}
}

fn checked_sub(now: DateTime<Utc>, d: chrono::Duration) -> AppResult<DateTime<Utc>> {
    now.checked_sub_signed(d)
        .ok_or_else(|| AppError::internal("time out of range"))
}
