//! Support access grants: the customer's permission for support to enter their account.
//! An admin asks (`request`, PENDING, lapsing after `SUPPORT_REQUEST_TTL_HOURS`), the customer
//! approves (the window starts then, never longer than asked) or denies; the customer may also
//! open a window unasked, for any admin (`open`), and revoke an open one, which ends every
//! session running under it in the same transaction. Only the user a grant is for decides, as
//! themselves: the guards refuse impersonation tokens before anything here runs, and a grant
//! of someone else is NOT_FOUND.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::policy::{self, Ask, Impersonator, Target};
use crate::auth::proof::{AsThemselves, StaffBehind};
use crate::db::{db_time, new_id};
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::{self as grant, Status};
use crate::error::{AppError, AppResult};
use crate::events::{self, NewEvent};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::impersonation::ending::{self, EndReason};
use crate::services::notify::notices::{self, Notice};
use crate::services::webhooks;
use crate::services::{accounts::users, validation, work::memberships};
use crate::state::AppState;

mod lookup;

use lookup::with_status;
pub use lookup::{covering, find, list, mine, status};

/// The longest window, in minutes (a week).
pub const MAX_MINUTES: i32 = 10_080;
/// A request's window when the admin does not say.
pub const DEFAULT_MINUTES: i32 = 60;
/// How many of a user's own grants `me.supportAccessGrants` lists, newest first.
pub const MAX_OWN_LISTED: u64 = 100;

/// What an admin asks for in `requestSupportAccess`.
pub struct AccessRequest<'a> {
    pub user_id: &'a str,
    pub reason: &'a str,
    pub mode: Mode,
    pub minutes: i32,
    pub ticket: Option<&'a str>,
}

/// `requestSupportAccess`: an admin who could impersonate the user but for approval asks for
/// a window. PENDING until the user decides or it lapses. The checks run in `impersonate`'s
/// order, then the reason's, then the minutes'.
pub async fn request(
    state: &AppState,
    caller: StaffBehind<'_>,
    ask: AccessRequest<'_>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let now = state.clock.now();
    let target = users::find_user(&state.db, ask.user_id).await?;
    let switch = crate::services::impersonation::kill_switch::read(&state.db).await?;
    let but_for_approval = Target::of(&target).but_for_approval_and_review();
    let wanted = Ask::mode(Some(ask.mode), ask.mode);
    if let Err(denial) = policy::check(
        switch,
        Impersonator::caller(caller),
        but_for_approval,
        wanted,
    ) {
        let by = Attribution::admin_on(&caller.true_user().id, &target.id);
        let entry = Entry::new(action::SUPPORT_ACCESS_REFUSED, by, now)
            .team(caller.team_id.as_deref())
            .details(serde_json::json!({
                "operation": "requestSupportAccess",
                "code": "IMPERSONATION_DENIED",
                "reason": denial.as_str(),
            }))
            .meta(meta);
        audit::record_alone(state, entry).await?;
        return Err(AppError::ImpersonationDenied(denial));
    }
    let reason = validation::reason("reason", ask.reason)?;
    let minutes = window("minutes", ask.minutes, MAX_MINUTES)?;
    let ticket = validation::ticket(ask.ticket, state.config.require_ticket)?;
    let lapses = crate::clock::later(now, state.config.support_request_ttl)?;
    let txn = crate::db::write_txn(state).await?;
    // One request of this admin's waits for this customer at a time: a repeat would only
    // flood their notices. The customer's row is locked (PostgreSQL; SQLite writes one at a
    // time), so two requests at once cannot both pass.
    crate::entities::user::Entity::find_by_id(target.id.clone())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let waiting = grant::Entity::find()
        .filter(grant::Column::UserId.eq(target.id.clone()))
        .filter(grant::Column::RequestedById.eq(caller.user.id.clone()))
        .filter(grant::Column::Status.eq(Status::Pending))
        .filter(grant::Column::ExpiresAt.gt(db_time(now)))
        .one(&txn)
        .await?;
    if waiting.is_some() {
        return Err(AppError::bad_input(
            "userId",
            "your earlier request is still waiting for this customer's answer",
        ));
    }
    let row = grant::ActiveModel {
        id: Set(new_id()),
        user_id: Set(target.id.clone()),
        requested_by_id: Set(Some(caller.user.id.clone())),
        reason: Set(reason.clone()),
        mode: Set(ask.mode),
        requested_minutes: Set(minutes),
        status: Set(Status::Pending),
        created_at: Set(db_time(now)),
        decided_at: Set(None),
        expires_at: Set(Some(db_time(lapses))),
        ticket: Set(ticket.clone()),
    }
    .insert(&txn)
    .await?;
    // In the customer's team log: it is about their account.
    let team = memberships::valid_current_team(&txn, &target).await?;
    let entry = Entry::new(
        action::SUPPORT_ACCESS_REQUESTED,
        Attribution::admin_on(&caller.user.id, &target.id),
        now,
    )
    .team(team.as_deref())
    .entity("SupportAccessGrant", &row.id)
    .details(serde_json::json!({
        "reason": reason, "mode": ask.mode.as_str(), "minutes": minutes, "ticket": ticket,
    }))
    .meta(meta);
    audit::record(&txn, entry).await?;
    let message = format!(
        "{} asks to enter your account for {} ({}): {}{}.",
        crate::services::audit::attribution::support_person(caller.true_user()),
        notices::minutes_in_words(chrono::Duration::minutes(minutes.into())),
        ask.mode.in_words(),
        reason,
        notices::ticket_clause(ticket.as_deref()),
    );
    let notice = Notice {
        kind: notices::kind::SUPPORT_ACCESS_REQUESTED,
        message,
        subject: "Support asks to enter your account",
        impersonation_id: None,
        grant_id: Some(&row.id),
    };
    notices::notify(&txn, &state.config, &target, notice, now).await?;
    let requested = webhooks::Happening::Grant("support_access.requested", &row.id);
    webhooks::emit(&txn, requested, now).await?;
    txn.commit().await?;
    Ok(row)
}

/// `approveSupportAccess`: the user approves a PENDING request, for at most the minutes asked
/// (all of them by default). The window starts now.
pub async fn approve(
    state: &AppState,
    caller: AsThemselves<'_>,
    id: &str,
    minutes: Option<i32>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, &caller, "approveSupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, &caller, id).await?;
        if status(&g, now) != Status::Pending {
            return Err(not_in(Status::Pending, &g, now));
        }
        access_on(&caller)?;
        let asked = g.requested_minutes;
        let minutes = window("minutes", minutes.unwrap_or(asked), asked)?;
        let until = crate::clock::later(now, chrono::Duration::minutes(minutes.into()))?;
        let txn = crate::db::write_txn(state).await?;
        let d = Decision {
            from: Status::Pending,
            to: Status::Approved,
            until: Some(until),
            action: action::SUPPORT_ACCESS_APPROVED,
            details: serde_json::json!({ "minutes": minutes, "mode": g.mode.as_str() }),
        };
        let g = decide(&txn, &state.config, &caller, &g, d, now, meta).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// `denySupportAccess`: the user turns down a PENDING request.
pub async fn deny(
    state: &AppState,
    caller: AsThemselves<'_>,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, &caller, "denySupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, &caller, id).await?;
        let txn = crate::db::write_txn(state).await?;
        let d = Decision {
            from: Status::Pending,
            to: Status::Denied,
            until: None,
            action: action::SUPPORT_ACCESS_DENIED,
            details: serde_json::json!({}),
        };
        let g = decide(&txn, &state.config, &caller, &g, d, now, meta).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// `revokeSupportAccess`: the user closes an open window. Every session running under it
/// ends in the same transaction (`REVOKED_BY_USER`), so on every server at once.
pub async fn revoke(
    state: &AppState,
    caller: AsThemselves<'_>,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, &caller, "revokeSupportAccess", id, meta, async {
        let now = state.clock.now();
        let g = own(&state.db, &caller, id).await?;
        let txn = crate::db::write_txn(state).await?;
        let d = Decision {
            from: Status::Approved,
            to: Status::Revoked,
            until: Some(now),
            action: action::SUPPORT_ACCESS_REVOKED,
            details: serde_json::json!({}),
        };
        let g = decide(&txn, &state.config, &caller, &g, d, now, meta).await?;
        let under = ending::Running::UnderGrant(&g.id);
        let reason = EndReason::RevokedByUser;
        ending::end_running(
            &txn,
            &state.config,
            under,
            reason,
            "GRANT_REVOKED",
            now,
            meta,
        )
        .await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// What the user says in `grantSupportAccess`.
pub struct Window<'a> {
    pub reason: &'a str,
    pub mode: Mode,
    pub minutes: i32,
}

/// `grantSupportAccess`: the user opens a window for any admin, unasked, starting now.
pub async fn open(
    state: &AppState,
    caller: AsThemselves<'_>,
    w: Window<'_>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    audited_refusal(state, &caller, "grantSupportAccess", "", meta, async {
        access_on(&caller)?;
        let reason = validation::reason("reason", w.reason)?;
        let minutes = window("minutes", w.minutes, MAX_MINUTES)?;
        let now = state.clock.now();
        let until = crate::clock::later(now, chrono::Duration::minutes(minutes.into()))?;
        let txn = crate::db::write_txn(state).await?;
        let g = grant::ActiveModel {
            id: Set(new_id()),
            user_id: Set(caller.user.id.clone()),
            requested_by_id: Set(None),
            reason: Set(reason),
            mode: Set(w.mode),
            requested_minutes: Set(minutes),
            status: Set(Status::Approved),
            created_at: Set(db_time(now)),
            decided_at: Set(Some(db_time(now))),
            expires_at: Set(Some(db_time(until))),
            ticket: Set(None),
        }
        .insert(&txn)
        .await?;
        let entry = Entry::for_caller(action::SUPPORT_ACCESS_GRANTED, &caller, meta, now)
            .entity("SupportAccessGrant", &g.id)
            .details(serde_json::json!({ "minutes": minutes, "mode": w.mode.as_str() }));
        audit::record(&txn, entry).await?;
        let event =
            NewEvent::new(events::kind::SUPPORT_ACCESS_GRANTED, &g.user_id).grant(Some(&g.id));
        events::publish(&txn, event, now).await?;
        // Opened unasked: for a SIEM, an approval like any other.
        let opened = webhooks::Happening::Grant("support_access.approved", &g.id);
        webhooks::emit(&txn, opened, now).await?;
        txn.commit().await?;
        Ok(g)
    })
    .await
}

/// A grant of the caller's; anyone else's is NOT_FOUND (its existence does not leak).
async fn own(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<grant::Model> {
    find(conn, id)
        .await?
        .filter(|g| g.user_id == caller.user.id)
        .ok_or(AppError::NotFound("support access grant"))
}

async fn reload(conn: &impl ConnectionTrait, id: &str) -> AppResult<grant::Model> {
    find(conn, id)
        .await?
        .ok_or(AppError::NotFound("support access grant"))
}

/// Moves a live grant from `from` to `to` with one conditional update, so of two racing
/// decisions one wins. `expires_at` becomes `until` when given (the approved window, or the
/// revocation time); a denial clears it.
async fn transition(
    conn: &impl ConnectionTrait,
    g: &grant::Model,
    from: Status,
    to: Status,
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> AppResult<bool> {
    use grant::Column as C;
    let mut update = grant::Entity::update_many()
        .col_expr(C::Status, Expr::value(to.as_str()))
        .col_expr(C::ExpiresAt, Expr::value(until.map(db_time)));
    if to != Status::Revoked {
        update = update.col_expr(C::DecidedAt, Expr::value(Some(db_time(now))));
    }
    let moved = update
        .filter(C::Id.eq(g.id.clone()))
        .filter(with_status(from, now))
        .exec(conn)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// One decision of the user on a grant: the state it moves from and to, the new
/// `expires_at` (the approved window, or the revocation time; a denial clears it), and its
/// audit row.
struct Decision {
    from: Status,
    to: Status,
    until: Option<DateTime<Utc>>,
    action: &'static str,
    details: serde_json::Value,
}

/// Makes the decision in `txn`: the move (refused, `BAD_USER_INPUT`, when the grant is no
/// longer in `from`) and its audit row in the user's team log. Returns the grant as it is now.
async fn decide(
    txn: &impl ConnectionTrait,
    config: &crate::config::Config,
    caller: &AuthContext,
    g: &grant::Model,
    d: Decision,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppResult<grant::Model> {
    if !transition(txn, g, d.from, d.to, now, d.until).await? {
        return Err(not_in(d.from, g, now));
    }
    let entry = Entry::for_caller(d.action, caller, meta, now)
        .entity("SupportAccessGrant", &g.id)
        .details(d.details);
    audit::record(txn, entry).await?;
    // The live event's kind and the webhook's type.
    let (kind, hook) = match d.to {
        Status::Approved => (
            events::kind::SUPPORT_ACCESS_APPROVED,
            "support_access.approved",
        ),
        Status::Denied => (events::kind::SUPPORT_ACCESS_DENIED, "support_access.denied"),
        Status::Revoked => (
            events::kind::SUPPORT_ACCESS_REVOKED,
            "support_access.revoked",
        ),
        Status::Expired => (
            events::kind::SUPPORT_ACCESS_EXPIRED,
            "support_access.expired",
        ),
        Status::Pending => (
            events::kind::SUPPORT_ACCESS_REQUESTED,
            "support_access.requested",
        ),
    };
    let event = NewEvent::new(kind, &g.user_id).grant(Some(&g.id));
    events::publish(txn, event, now).await?;
    webhooks::emit(txn, webhooks::Happening::Grant(hook, &g.id), now).await?;
    let g = reload(txn, &g.id).await?;
    tell_requester(txn, config, caller, &g, now).await?;
    Ok(g)
}

/// The admin who asked is told what the customer decided: a notice, and with it an event on
/// their own `myAccountEvents` (so the Teams List can offer "Enter now" at once).
async fn tell_requester(
    txn: &impl ConnectionTrait,
    config: &crate::config::Config,
    caller: &AuthContext,
    g: &grant::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(admin_id) = &g.requested_by_id else {
        return Ok(());
    };
    let who = &caller.user.name;
    let (kind, message, subject) = match g.status {
        Status::Approved => (
            notices::kind::SUPPORT_ACCESS_APPROVED,
            format!(
                "{who} approved your request: you may enter their account ({}) until {}.",
                g.mode.in_words(),
                g.expires_at
                    .map(|t| t.format("%H:%M UTC").to_string())
                    .unwrap_or_default(),
            ),
            "Your request for support access was approved",
        ),
        Status::Denied => (
            notices::kind::SUPPORT_ACCESS_DENIED,
            format!("{who} denied your request to enter their account."),
            "Your request for support access was denied",
        ),
        Status::Revoked => (
            notices::kind::SUPPORT_ACCESS_REVOKED,
            format!("{who} withdrew the access they had approved."),
            "Support access was withdrawn",
        ),
        Status::Pending | Status::Expired => return Ok(()),
    };
    let admin = users::find_user(txn, admin_id).await?;
    let notice = Notice {
        kind,
        message,
        subject,
        impersonation_id: None,
        grant_id: Some(&g.id),
    };
    notices::notify(txn, config, &admin, notice, now).await?;
    Ok(())
}

/// Marks the grants that lapsed (a request nobody answered, a window that ran out) EXPIRED,
/// each with one conditional update and its `SUPPORT_ACCESS_EXPIRED` event, so the customer
/// sees it go. Their status already reads EXPIRED without this (`status`): this is the news.
/// Returns how many it marked. Every server's sweep runs it; each grant is marked once.
pub async fn expire_lapsed(state: &AppState) -> AppResult<usize> {
    use grant::Column as C;
    let now = state.clock.now();
    let lapsed = grant::Entity::find()
        .filter(C::Status.is_in([Status::Pending.as_str(), Status::Approved.as_str()]))
        .filter(C::ExpiresAt.lte(db_time(now)))
        .limit(500)
        .all(&state.db)
        .await?;
    let mut n = 0;
    for g in lapsed {
        let txn = crate::db::write_txn(state).await?;
        let moved = grant::Entity::update_many()
            .col_expr(C::Status, Expr::value(Status::Expired.as_str()))
            .filter(C::Id.eq(g.id.clone()))
            .filter(C::Status.eq(g.status.as_str()))
            .filter(C::ExpiresAt.lte(db_time(now)))
            .exec(&txn)
            .await?;
        if moved.rows_affected == 1 {
            let event =
                NewEvent::new(events::kind::SUPPORT_ACCESS_EXPIRED, &g.user_id).grant(Some(&g.id));
            let at = g.expires_at.unwrap_or(now).min(now);
            events::publish(&txn, event, at).await?;
            let lapsed = webhooks::Happening::Grant("support_access.expired", &g.id);
            webhooks::emit(&txn, lapsed, at).await?;
            n += 1;
        }
        txn.commit().await?;
    }
    Ok(n)
}

fn not_in(wanted: Status, g: &grant::Model, now: DateTime<Utc>) -> AppError {
    let is = status(g, now).as_str();
    AppError::bad_input(
        "grantId",
        format!("this grant is {is}, not {}", wanted.as_str()),
    )
}

/// A window opens only while the customer's own setting lets support in: with it off, no
/// session could use it, and a listed window would say the opposite of what is true.
fn access_on(caller: &AuthContext) -> AppResult<()> {
    if caller.user.impersonation_allowed {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "impersonationAllowed",
            "Support access is off: turn on “Support staff may sign in as me” in your profile first",
        ))
    }
}

fn window(field: &'static str, minutes: i32, max: i32) -> AppResult<i32> {
    if (1..=max).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(AppError::bad_input(
            field,
            format!("must be between 1 and {max} minutes"),
        ))
    }
}

/// Runs a decision; a refusal (someone else's grant, a grant not in the right state, bad
/// minutes) is audited on the database itself, so the row stands while nothing else changes.
async fn audited_refusal<T>(
    state: &AppState,
    caller: &AuthContext,
    operation: &'static str,
    grant_id: &str,
    meta: &RequestMeta,
    run: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let result = run.await;
    if let Err(e) = &result
        && !matches!(e, AppError::Internal(_))
    {
        let mut entry = Entry::for_caller(
            action::SUPPORT_ACCESS_REFUSED,
            caller,
            meta,
            state.clock.now(),
        )
        .details(serde_json::json!({ "operation": operation, "code": e.code() }));
        if !grant_id.is_empty() {
            entry = entry.entity("SupportAccessGrant", grant_id);
        }
        audit::record_alone(state, entry).await?;
    }
    result
}
