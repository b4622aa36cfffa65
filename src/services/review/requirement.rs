//! Unmarking an account (no more four-eyes review for it) is not one super admin's to do: one
//! asks (`request`), a second decides (`decide`), with a review's life: PENDING, then APPROVED
//! (applied at once) or DENIED, or EXPIRED after `IMPERSONATION_REVIEW_TTL_MINUTES`. The
//! decider is never the requester, and counts only if they held their rights before the ask
//! and their role was not set by the requester (`auth::policy::decider_counts`).
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{apply_required, decision_note, may_decide};
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::SuperAdmin;
use crate::db::{db_time, new_id};
use crate::entities::impersonation_review::ReviewStatus;
use crate::entities::review_requirement_change as change;
use crate::error::{AppError, AppResult};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::notify::notices;
use crate::services::{accounts::users, validation};
use crate::state::AppState;

/// Where a request stands now: a PENDING one past its time has lapsed.
pub fn status(c: &change::Model, now: DateTime<Utc>) -> ReviewStatus {
    match c.status {
        ReviewStatus::Pending if c.expires_at <= now => ReviewStatus::Expired,
        s => s,
    }
}

/// `requestReviewRequirementChange`: a super admin asks to unmark a marked account. The
/// other super admins are told.
pub async fn request(
    state: &AppState,
    caller: SuperAdmin<'_>,
    user_id: &str,
    reason: &str,
    meta: &RequestMeta,
) -> AppResult<change::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let target = users::find_user(&state.db, user_id).await?;
    if !target.impersonation_review_required {
        return Err(AppError::bad_input(
            "userId",
            "this account is not marked for review",
        ));
    }
    let reason = validation::reason("reason", reason)?;
    let lapses = crate::clock::later(now, state.config.review_ttl)?;
    let txn = crate::db::write_txn(state).await?;
    let row = change::ActiveModel {
        id: Set(new_id()),
        user_id: Set(target.id.clone()),
        requester_id: Set(caller.user.id.clone()),
        reason: Set(reason.clone()),
        status: Set(ReviewStatus::Pending),
        reviewer_id: Set(None),
        note: Set(None),
        created_at: Set(db_time(now)),
        decided_at: Set(None),
        expires_at: Set(db_time(lapses)),
    }
    .insert(&txn)
    .await?;
    let entry = Entry::new(
        action::REVIEW_REQUIREMENT_CHANGE_REQUESTED,
        Attribution::admin_on(&caller.user.id, &target.id),
        now,
    )
    .entity("ReviewRequirementChange", &row.id)
    .details(serde_json::json!({ "reason": reason, "required": false }))
    .meta(meta);
    audit::record(&txn, entry).await?;
    let message = format!(
        "{} asks to unmark the account of {} (no more four-eyes review): \u{201c}{reason}\u{201d}. A second super admin decides.",
        caller.user.name, target.name
    );
    notices::tell_super_admins(
        &txn,
        &state.config,
        &caller.user.id,
        crate::events::kind::SECURITY_CHANGED,
        "A super admin asks to unmark an account",
        &message,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// `approveReviewRequirementChange` / `denyReviewRequirementChange`: a second super admin
/// decides; an approval unmarks the account at once. Exactly one decision wins a race.
pub async fn decide(
    state: &AppState,
    caller: SuperAdmin<'_>,
    id: &str,
    approve: bool,
    note: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<change::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let c = get(&state.db, id).await?;
    may_decide(caller, &c.requester_id, c.created_at)?;
    let note = decision_note(approve, note)?;
    if status(&c, now) != ReviewStatus::Pending {
        return Err(not_pending(&c, now));
    }
    let to = match approve {
        true => ReviewStatus::Approved,
        false => ReviewStatus::Denied,
    };
    let txn = crate::db::write_txn(state).await?;
    use change::Column as C;
    let done = change::Entity::update_many()
        .col_expr(C::Status, Expr::value(to.as_str()))
        .col_expr(C::ReviewerId, Expr::value(Some(caller.user.id.clone())))
        .col_expr(C::Note, Expr::value(note.clone()))
        .col_expr(C::DecidedAt, Expr::value(Some(db_time(now))))
        .filter(C::Id.eq(c.id.clone()))
        .filter(C::Status.eq(ReviewStatus::Pending.as_str()))
        .filter(C::ExpiresAt.gt(db_time(now)))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(not_pending(&get(&txn, id).await?, now));
    }
    let act = match approve {
        true => action::REVIEW_REQUIREMENT_CHANGE_APPROVED,
        false => action::REVIEW_REQUIREMENT_CHANGE_DENIED,
    };
    let entry = Entry::new(act, Attribution::admin_on(&caller.user.id, &c.user_id), now)
        .entity("ReviewRequirementChange", &c.id)
        .details(serde_json::json!({ "note": note, "requesterId": c.requester_id }))
        .meta(meta);
    audit::record(&txn, entry).await?;
    let requester = users::find_user(&txn, &c.requester_id).await?;
    if approve {
        let target = users::find_user(&txn, &c.user_id).await?;
        if target.impersonation_review_required {
            apply_required(
                state,
                &txn,
                &requester,
                &target,
                false,
                Some(&caller.user),
                now,
                meta,
            )
            .await?;
        }
    } else {
        let message = format!(
            "{} denied your request to unmark an account: \u{201c}{}\u{201d}.",
            caller.user.name,
            note.as_deref().unwrap_or("")
        );
        let notice = notices::Notice {
            kind: crate::events::kind::SECURITY_CHANGED,
            message,
            subject: "Your request to unmark an account was denied",
            impersonation_id: None,
            grant_id: None,
        };
        notices::notify(&txn, &state.config, &requester, notice, now).await?;
    }
    let c = get(&txn, id).await?;
    txn.commit().await?;
    Ok(c)
}

/// `reviewRequirementChanges`: the requests, newest first (the latest 100), optionally of one
/// status as of now.
pub async fn list(state: &AppState, only: Option<ReviewStatus>) -> AppResult<Vec<change::Model>> {
    let now = state.clock.now();
    let rows = change::Entity::find()
        .order_by_desc(change::Column::Id)
        .limit(100)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|c| only.is_none_or(|s| status(c, now) == s))
        .collect())
}

async fn get(conn: &impl sea_orm::ConnectionTrait, id: &str) -> AppResult<change::Model> {
    change::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("review requirement change"))
}

fn not_pending(c: &change::Model, now: DateTime<Utc>) -> AppError {
    AppError::bad_input(
        "id",
        format!(
            "this request is {}, not pending",
            status(c, now).as_str().to_lowercase()
        ),
    )
}
