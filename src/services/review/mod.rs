//! Four-eyes review: in an account a super admin marked (`setImpersonationReviewRequired`), a
//! session that can change anything (READ_WRITE; READ_ONLY too with
//! `IMPERSONATION_REVIEW_READ_ONLY`) needs a second admin's approval. One admin asks
//! (`request`), another decides (`decide`: never the requester, an admin with 2FA who could
//! enter the account themselves; exactly one decision wins a race), the requester may withdraw,
//! and one session uses an approved review (`use_for`, in `impersonate`'s transaction), lasting
//! at most the review's minutes. Pending reviews lapse after `IMPERSONATION_REVIEW_TTL_MINUTES`;
//! approved ones must be used within `USE_WITHIN`. The policy itself (`auth::policy::check`)
//! says REVIEW_REQUIRED; this module keeps the reviews.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::policy::{self, Ask, Impersonator, Target};
use crate::auth::proof::{AdminWithTwoFactor, SuperAdmin};
use crate::db::{db_time, new_id};
use crate::entities::impersonation::{self as session, Mode};
use crate::entities::impersonation_review::{self as review, ReviewStatus};
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::events::{self, NewEvent};
use crate::services::accounts::passkeys::Purpose;
use crate::services::accounts::step_up;
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::impersonation::kill_switch;
use crate::services::notify::notices::{self, Notice};
use crate::services::pagination::{Page, PageArgs};
use crate::services::webhooks;
use crate::services::{accounts::users, validation};
use crate::state::AppState;

pub mod requirement;

/// An approved review must be used within this long.
pub const USE_WITHIN: chrono::Duration = chrono::Duration::minutes(15);
/// A session's lifetime when the requester does not say, in minutes.
pub const DEFAULT_MINUTES: i32 = 30;

/// Where the review stands now: a PENDING or APPROVED review past `expires_at` has lapsed
/// (EXPIRED), whether or not anything has written that down.
pub fn status(r: &review::Model, now: DateTime<Utc>) -> ReviewStatus {
    match r.status {
        ReviewStatus::Pending | ReviewStatus::Approved if r.expires_at <= now => {
            ReviewStatus::Expired
        }
        s => s,
    }
}

/// The same rule as `status`, as a filter on stored rows.
fn with_status(s: ReviewStatus, now: DateTime<Utc>) -> Condition {
    use review::Column as C;
    let now = db_time(now);
    match s {
        ReviewStatus::Pending | ReviewStatus::Approved => Condition::all()
            .add(C::Status.eq(s.as_str()))
            .add(C::ExpiresAt.gt(now)),
        ReviewStatus::Expired => Condition::any().add(C::Status.eq(s.as_str())).add(
            Condition::all()
                .add(C::Status.is_in([
                    ReviewStatus::Pending.as_str(),
                    ReviewStatus::Approved.as_str(),
                ]))
                .add(C::ExpiresAt.lte(now)),
        ),
        s => Condition::all().add(C::Status.eq(s.as_str())),
    }
}

/// Whether a session in `mode` into `target` needs a review (the policy's rule).
pub fn needed(target: &user::Model, mode: Mode, config: &crate::config::Config) -> bool {
    policy::needs_review(Target::of(target), mode, config.review_read_only)
}

/// The approved, unused, unexpired review of `requester_id` for `target_id`: the one the next
/// session would use (of several, READ_WRITE first, then the newest).
pub async fn usable(
    conn: &impl ConnectionTrait,
    requester_id: &str,
    target_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<review::Model>> {
    use review::Column as C;
    let rows = review::Entity::find()
        .filter(C::RequesterId.eq(requester_id))
        .filter(C::TargetId.eq(target_id))
        .filter(with_status(ReviewStatus::Approved, now))
        .filter(C::ImpersonationId.is_null())
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .max_by_key(|r| (r.mode == Mode::ReadWrite, r.id.clone())))
}

/// Uses `r` for the session `impersonation_id`, in `conn` (the session's own transaction):
/// one conditional update, so of two sessions racing for one review exactly one gets it.
pub async fn use_for(
    conn: &impl ConnectionTrait,
    r: &review::Model,
    impersonation_id: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    use review::Column as C;
    let done = review::Entity::update_many()
        .col_expr(C::Status, Expr::value(ReviewStatus::Used.as_str()))
        .col_expr(C::ImpersonationId, Expr::value(Some(impersonation_id)))
        .filter(C::Id.eq(r.id.clone()))
        .filter(C::Status.eq(ReviewStatus::Approved.as_str()))
        .filter(C::ImpersonationId.is_null())
        .filter(C::ExpiresAt.gt(db_time(now)))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> AppResult<Option<review::Model>> {
    Ok(review::Entity::find_by_id(id.to_string()).one(conn).await?)
}

async fn get(conn: &impl ConnectionTrait, id: &str) -> AppResult<review::Model> {
    find(conn, id).await?.ok_or(AppError::NotFound("review"))
}

/// `impersonationReviews`: every review, newest first, optionally of one status (admins).
pub async fn list(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    only: Option<ReviewStatus>,
    page: &PageArgs,
) -> AppResult<Page<review::Model>> {
    let mut q = review::Entity::find().order_by_desc(review::Column::Id);
    if let Some(s) = only {
        q = q.filter(with_status(s, now));
    }
    if let Some(after) = &page.after {
        q = q.filter(review::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// Who may follow a running session operation by operation (`sessionActivity`) and end it:
/// super admins, and the admin who approved its review.
pub fn may_watch(caller: &AuthContext, reviewer_id: Option<&str>) -> bool {
    caller.is_admin_with_two_factor()
        && !caller.is_impersonating()
        && (caller.role == crate::auth::Role::SuperAdmin
            || reviewer_id == Some(caller.user.id.as_str()))
}

/// `setImpersonationReviewRequired`: a super admin marks an account as needing review,
/// audited in the customer's team log and told to the SIEM and to every other super admin.
/// Sessions running in it without a review end at their next request (the per-request
/// re-check: a policy change). Unmarking is not one person's to do: it is asked for
/// (`requirement::request`) and applied when a second super admin approves; asking this for
/// a marked account is FORBIDDEN. Unmarking an unmarked account changes nothing.
pub async fn set_required(
    state: &AppState,
    caller: SuperAdmin<'_>,
    user_id: &str,
    required: bool,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let target = users::find_user(&state.db, user_id).await?;
    if required == target.impersonation_review_required {
        return Ok(target);
    }
    if !required {
        return Err(AppError::Forbidden(
            "unmarking an account needs a second super admin: ask with requestReviewRequirementChange",
        ));
    }
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let target = apply_required(state, &txn, &caller.user, &target, true, None, now, meta).await?;
    txn.commit().await?;
    Ok(target)
}

/// Sets `target`'s review requirement on `conn`, as `by` asked: the row, the audit row (in the
/// customer's team log: it is about their account), the webhook and every other super
/// admin's notice. `approved_by`: the second super admin, for an unmarking.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_required(
    state: &AppState,
    conn: &impl ConnectionTrait,
    by: &user::Model,
    target: &user::Model,
    required: bool,
    approved_by: Option<&user::Model>,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    let mut active = target.clone().into_active_model();
    active.impersonation_review_required = Set(required);
    let target = active.update(conn).await?;
    let team = crate::services::work::memberships::valid_current_team(conn, &target).await?;
    let entry = Entry::new(
        action::IMPERSONATION_REVIEW_REQUIRED_SET,
        Attribution::admin_on(&by.id, &target.id),
        now,
    )
    .team(team.as_deref())
    .entity("User", &target.id)
    .details(serde_json::json!({
        "required": required,
        "approvedBy": approved_by.map(|u| u.id.clone()),
    }))
    .meta(meta);
    audit::record(conn, entry).await?;
    let h = webhooks::Happening::ReviewRequirement {
        user: &target,
        by,
        approved_by,
    };
    webhooks::emit(conn, h, now).await?;
    let message = match (required, approved_by) {
        (true, _) => format!(
            "{} marked the account of {} for four-eyes review.",
            by.name, target.name
        ),
        (false, Some(a)) => format!(
            "{} unmarked the account of {} (four-eyes review no longer needed), approved by {}.",
            by.name, target.name, a.name
        ),
        (false, None) => format!("{} unmarked the account of {}.", by.name, target.name),
    };
    // Everyone but the one who acted (for an unmarking, the approver acted).
    let actor = approved_by.map_or(by.id.as_str(), |a| a.id.as_str());
    notices::tell_super_admins(
        conn,
        &state.config,
        actor,
        events::kind::SECURITY_CHANGED,
        "An account's four-eyes review changed",
        &message,
        now,
    )
    .await?;
    Ok(target)
}

/// The one check of who may decide a four-eyes ask (a review, an unmarking) that
/// `requester_id` made at `asked_at`: FORBIDDEN unless `policy::decider_counts`.
pub(crate) fn may_decide(
    caller: &AuthContext,
    requester_id: &str,
    asked_at: DateTime<Utc>,
) -> AppResult<()> {
    let me = &caller.user;
    match policy::decider_counts(
        &me.id,
        me.role_changed_at.unwrap_or(me.created_at),
        me.role_changed_by.as_deref(),
        asked_at,
        requester_id,
    ) {
        true => Ok(()),
        false => Err(AppError::Forbidden(
            "decided by a second admin who held the rights before it was asked: never the one who asked, nor an account whose role they set",
        )),
    }
}

/// The decider's note: optional on an approval, required on a denial.
pub(crate) fn decision_note(approve: bool, note: Option<&str>) -> AppResult<Option<String>> {
    match approve {
        true => validation::optional_reason("note", note),
        false => Ok(Some(validation::reason("note", note.unwrap_or(""))?)),
    }
}

/// What an admin asks for in `requestImpersonationReview`.
pub struct ReviewAsk<'a> {
    pub user_id: &'a str,
    pub reason: &'a str,
    pub mode: Mode,
    pub minutes: i32,
    pub ticket: Option<&'a str>,
}

/// `requestImpersonationReview`: an admin who could enter the account but for the review (and
/// the customer's approval, which is asked for apart) asks a second admin. PENDING until
/// decided, withdrawn or lapsed. Every admin hears of it live (`REVIEW_REQUESTED`).
pub async fn request(
    state: &AppState,
    caller: AdminWithTwoFactor<'_>,
    ask: ReviewAsk<'_>,
    meta: &RequestMeta,
) -> AppResult<review::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let target = users::find_user(&state.db, ask.user_id).await?;
    let switch = kill_switch::read(&state.db).await?;
    let but_for_review = Target::of(&target).but_for_approval_and_review();
    policy::check(
        switch,
        Impersonator::caller(caller),
        but_for_review,
        Ask::mode(Some(ask.mode), ask.mode),
    )
    .map_err(AppError::ImpersonationDenied)?;
    if !needed(&target, ask.mode, &state.config) {
        return Err(AppError::bad_input(
            "userId",
            "this account needs no review for a session in this mode",
        ));
    }
    let reason = validation::reason("reason", ask.reason)?;
    let ticket = validation::ticket(ask.ticket, state.config.require_ticket)?;
    let longest = state.config.impersonation_ttl.num_minutes();
    if ask.minutes < 1 || i64::from(ask.minutes) > longest {
        return Err(AppError::bad_input(
            "minutes",
            format!("minutes must be between 1 and {longest} (IMPERSONATION_TTL_MINUTES)"),
        ));
    }
    let lapses = crate::clock::later(now, state.config.review_ttl)?;
    let admin = caller.true_user();
    let txn = crate::db::write_txn(state).await?;
    let row = review::ActiveModel {
        id: Set(new_id()),
        requester_id: Set(admin.id.clone()),
        target_id: Set(target.id.clone()),
        reason: Set(reason.clone()),
        ticket: Set(ticket.clone()),
        mode: Set(ask.mode),
        minutes: Set(ask.minutes),
        status: Set(ReviewStatus::Pending),
        reviewer_id: Set(None),
        note: Set(None),
        created_at: Set(db_time(now)),
        decided_at: Set(None),
        expires_at: Set(db_time(lapses)),
        impersonation_id: Set(None),
    }
    .insert(&txn)
    .await?;
    let entry = Entry::new(
        action::IMPERSONATION_REVIEW_REQUESTED,
        Attribution::admin_on(&admin.id, &target.id),
        now,
    )
    .entity("ImpersonationReview", &row.id)
    .details(serde_json::json!({
        "reason": reason, "mode": ask.mode.as_str(), "minutes": ask.minutes, "ticket": ticket,
    }))
    .meta(meta);
    audit::record(&txn, entry).await?;
    let event = NewEvent::new(events::kind::REVIEW_REQUESTED, &admin.id).review(&row.id);
    events::publish(&txn, event, now).await?;
    let requested = webhooks::Happening::Review("impersonation_review.requested", &row.id);
    webhooks::emit(&txn, requested, now).await?;
    txn.commit().await?;
    Ok(row)
}

/// `approveImpersonationReview` / `denyImpersonationReview`: another admin with 2FA, acting as
/// themselves, who could enter the account themselves; never the requester (FORBIDDEN). The
/// note is required on denial. A review that is not PENDING is BAD_USER_INPUT, and of several
/// decisions racing exactly one wins (a conditional update). An approval must be used within
/// `USE_WITHIN`. The requester is told (a notice) and every admin hears of it live.
pub async fn decide(
    state: &AppState,
    caller: AdminWithTwoFactor<'_>,
    id: &str,
    approve: bool,
    note: Option<&str>,
    proof: step_up::Proof<'_>,
    meta: &RequestMeta,
) -> AppResult<review::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let r = get(&state.db, id).await?;
    may_decide(caller, &r.requester_id, r.created_at)?;
    let target = users::find_user(&state.db, &r.target_id).await?;
    let switch = kill_switch::read(&state.db).await?;
    let could_enter = policy::check(
        switch,
        Impersonator::caller(caller),
        Target::of(&target).but_for_approval_and_review(),
        Ask::mode(Some(r.mode), r.mode),
    );
    if could_enter.is_err() {
        return Err(AppError::Forbidden(
            "only an admin who could enter this account themselves may review a session into it",
        ));
    }
    let note = decision_note(approve, note)?;
    if status(&r, now) != ReviewStatus::Pending {
        return Err(not_pending(&r, now));
    }
    // An approval opens a sensitive account: IMPERSONATION_STEP_UP asks a fresh proof of it.
    let proved = match approve {
        true => step_up::require(
            state,
            &caller.user,
            proof,
            Purpose::ApproveReview,
            Some(&r.target_id),
            false,
            meta,
        )
        .await?
        .map(|m| m.as_str()),
        false => None,
    };
    let (to, until, act) = match approve {
        true => (
            ReviewStatus::Approved,
            crate::clock::later(now, USE_WITHIN)?,
            action::IMPERSONATION_REVIEW_APPROVED,
        ),
        false => (
            ReviewStatus::Denied,
            now,
            action::IMPERSONATION_REVIEW_DENIED,
        ),
    };
    let txn = crate::db::write_txn(state).await?;
    use review::Column as C;
    let done = review::Entity::update_many()
        .col_expr(C::Status, Expr::value(to.as_str()))
        .col_expr(C::ReviewerId, Expr::value(Some(caller.user.id.clone())))
        .col_expr(C::Note, Expr::value(note.clone()))
        .col_expr(C::DecidedAt, Expr::value(Some(db_time(now))))
        .col_expr(C::ExpiresAt, Expr::value(db_time(until)))
        .filter(C::Id.eq(r.id.clone()))
        .filter(C::Status.eq(ReviewStatus::Pending.as_str()))
        .filter(C::ExpiresAt.gt(db_time(now)))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        // Another decision (or a withdrawal) came first.
        return Err(not_pending(&get(&txn, id).await?, now));
    }
    let entry = Entry::new(
        act,
        Attribution::admin_on(&caller.user.id, &r.target_id),
        now,
    )
    .entity("ImpersonationReview", &r.id)
    .details(serde_json::json!({ "note": note, "requesterId": r.requester_id, "stepUp": proved }))
    .meta(meta);
    audit::record(&txn, entry).await?;
    let r = get(&txn, id).await?;
    let hook = match approve {
        true => "impersonation_review.approved",
        false => "impersonation_review.denied",
    };
    webhooks::emit(&txn, webhooks::Happening::Review(hook, &r.id), now).await?;
    tell_requester(&txn, state, caller, &r, &target, now).await?;
    txn.commit().await?;
    Ok(r)
}

/// `withdrawImpersonationReview`: the requester takes back a PENDING or unused APPROVED
/// review; anyone else's is NOT_FOUND.
pub async fn withdraw(
    state: &AppState,
    caller: AdminWithTwoFactor<'_>,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<review::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let r = get(&state.db, id).await?;
    if r.requester_id != caller.user.id {
        return Err(AppError::NotFound("review"));
    }
    let txn = crate::db::write_txn(state).await?;
    use review::Column as C;
    let done = review::Entity::update_many()
        .col_expr(C::Status, Expr::value(ReviewStatus::Withdrawn.as_str()))
        .col_expr(C::DecidedAt, Expr::value(Some(db_time(now))))
        .filter(C::Id.eq(r.id.clone()))
        .filter(C::Status.is_in([
            ReviewStatus::Pending.as_str(),
            ReviewStatus::Approved.as_str(),
        ]))
        .filter(C::ImpersonationId.is_null())
        .filter(C::ExpiresAt.gt(db_time(now)))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(AppError::bad_input(
            "id",
            format!(
                "this review is {} and cannot be withdrawn",
                status(&r, now).as_str().to_lowercase()
            ),
        ));
    }
    let entry = Entry::new(
        action::IMPERSONATION_REVIEW_WITHDRAWN,
        Attribution::admin_on(&caller.user.id, &r.target_id),
        now,
    )
    .entity("ImpersonationReview", &r.id)
    .meta(meta);
    audit::record(&txn, entry).await?;
    let event = NewEvent::new(events::kind::REVIEW_DECIDED, &r.requester_id).review(&r.id);
    events::publish(&txn, event, now).await?;
    let r = get(&txn, id).await?;
    txn.commit().await?;
    Ok(r)
}

fn not_pending(r: &review::Model, now: DateTime<Utc>) -> AppError {
    AppError::bad_input(
        "id",
        format!(
            "this review is {}, not pending",
            status(r, now).as_str().to_lowercase()
        ),
    )
}

/// The requester's notice of the decision (with its live event), and the admins' event.
async fn tell_requester(
    conn: &impl ConnectionTrait,
    state: &AppState,
    reviewer: &AuthContext,
    r: &review::Model,
    target: &user::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let requester = users::find_user(conn, &r.requester_id).await?;
    let message = match r.status {
        ReviewStatus::Approved => format!(
            "{} approved your session into {}'s account ({}, {} minutes): start it by {}.",
            reviewer.user.name,
            target.name,
            r.mode.in_words(),
            r.minutes,
            r.expires_at.format("%H:%M UTC"),
        ),
        _ => format!(
            "{} denied your session into {}'s account: {}.",
            reviewer.user.name,
            target.name,
            r.note.as_deref().unwrap_or("no note"),
        ),
    };
    let notice = Notice {
        kind: notices::kind::REVIEW_DECIDED,
        message,
        subject: "A second admin decided on your session",
        impersonation_id: None,
        grant_id: None,
    };
    notices::notify(conn, &state.config, &requester, notice, now).await?;
    let event = NewEvent::new(events::kind::REVIEW_DECIDED, &r.requester_id).review(&r.id);
    events::publish(conn, event, now).await?;
    Ok(())
}

/// The admin who approved the session's review, if it was started under one.
pub async fn reviewer_of(
    conn: &impl ConnectionTrait,
    record: &session::Model,
) -> AppResult<Option<String>> {
    let Some(id) = &record.review_id else {
        return Ok(None);
    };
    Ok(find(conn, id).await?.and_then(|r| r.reviewer_id))
}
