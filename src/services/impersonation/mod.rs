//! Impersonation: start, cancel, elevate, end by an admin, history. The rules themselves
//! live in `auth::policy`; the per-request re-check in `services::accounts::bearer`; how a
//! session ends in `services::impersonation::ending`.
//!
//! - `ending`: how a session ends, exactly once, whoever notices first.
//! - `kill_switch`: impersonation for everyone, on or off.
//! - `ledger`: every operation made in a session, as one row of it.
//! - `session`: a running session read for its per-operation re-check, in one statement.
pub mod ending;
pub mod kill_switch;
pub mod ledger;
pub mod session;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::auth::context::{ActiveImpersonation, AuthContext, RequestMeta};
use crate::auth::policy::{self, Ask, Impersonator, Target};
use crate::auth::proof::{AdminWithTwoFactor, StaffBehind};
use crate::auth::tokens::{self, AccessGrant, ImpersonationClaims};
use crate::db::{db_time, new_id};
use crate::entities::impersonation::{self, Mode};
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::accounts::passkeys::Purpose;
use crate::services::accounts::sign_in::{self, Refresh, Session};
use crate::services::accounts::step_up;
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::impersonation::ending::{EndReason, end_once};
use crate::services::notify::notices::Notice;
use crate::services::pagination::{Page, PageArgs};
use crate::services::webhooks;
use crate::services::{accounts::users, review, support_access, validation, work::memberships};
use crate::state::AppState;

/// What an admin asks for in `impersonate`.
pub struct StartAsk<'a> {
    pub user_id: &'a str,
    pub reason: Option<&'a str>,
    pub mode: Option<Mode>,
    /// A support ticket's reference (`IMPERSONATION_REQUIRE_TICKET` makes it required);
    /// under a grant with a ticket and none given, the grant's.
    pub ticket: Option<&'a str>,
    /// The customer's team to start in (one of theirs); their current team when not given.
    pub team_id: Option<&'a str>,
    /// The fresh proof `IMPERSONATION_STEP_UP` asks for.
    pub proof: step_up::Proof<'a>,
}

/// Starts impersonating `target_id`: stores the record and its audit row in one transaction
/// and returns a 30-minute (configurable) token that acts as the target, with no refresh token.
pub async fn start(
    state: &AppState,
    caller: StaffBehind<'_>,
    ask: StartAsk<'_>,
    meta: &RequestMeta,
) -> AppResult<Session> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let StartAsk {
        user_id: target_id,
        reason,
        mode,
        ticket,
        team_id,
        proof,
    } = ask;
    let reason = validation::optional_reason("reason", reason)?;
    let ticket = validation::ticket(ticket, state.config.require_ticket)?;
    let target = users::find_user(&state.db, target_id).await?;
    let switch = crate::services::impersonation::kill_switch::read(&state.db).await?;
    let now = state.clock.now();
    let admin_id = &caller.true_user().id;
    let grant = support_access::covering(&state.db, admin_id, &target.id, now).await?;
    let review = match target.impersonation_review_required {
        true => review::usable(&state.db, admin_id, &target.id, now).await?,
        false => None,
    };
    let ask = Ask {
        mode,
        default_mode: state.config.impersonation_default_mode,
        grant: grant.as_ref().map(|g| g.mode),
        review: review.as_ref().map(|r| r.mode),
        review_read_only: state.config.review_read_only,
    };
    let mode = match policy::check(
        switch,
        Impersonator::caller(caller),
        Target::of(&target),
        ask,
    ) {
        Ok(mode) => mode,
        Err(reason) => return Err(refuse(state, caller, &target, reason, now, meta).await),
    };
    // Allowed: now the fresh proof, if the deployment asks one (after the policy, so that a
    // refusal never costs the admin a touch of their authenticator).
    let proved = step_up::require(
        state,
        caller.true_user(),
        proof,
        Purpose::Impersonate,
        Some(&target.id),
        false,
        meta,
    )
    .await?
    .map(|m| m.as_str());
    // The review is used only where the session needs one (the policy checked its mode).
    let review = review.filter(|r| r.mode == mode && review::needed(&target, mode, &state.config));
    let reviewer = match review.as_ref().and_then(|r| r.reviewer_id.as_deref()) {
        Some(id) => Some(users::find_user(&state.db, id).await?),
        None => None,
    };
    let admin = caller.true_user().clone();
    let started_at = db_time(now);
    let expires_at = db_time(session_end(state, now, grant.as_ref(), review.as_ref())?);

    // The write is one unit of work (on SQLite it runs on the writer thread): it owns what
    // it needs.
    let (st, meta, caller_team) = (state.clone(), meta.clone(), caller.team_id.clone());
    let team_id = team_id.map(str::to_string);
    crate::db::write(state, move |txn| async move {
        let (state, meta) = (&st, &meta);
        let target_team = match &team_id {
            // Support starts where the customer's problem is: one of their teams, else
            // NOT_FOUND (whether the team exists does not leak).
            Some(t) if memberships::is_member(&txn, t, &target.id).await? => Some(t.clone()),
            Some(_) => return Err(AppError::NotFound("team")),
            None => memberships::valid_current_team(&txn, &target).await?,
        };
        let ticket = ticket.or_else(|| grant.as_ref().and_then(|g| g.ticket.clone()));
        let record = impersonation::ActiveModel {
            id: Set(new_id()),
            code: Set(tokens::new_impersonation_code()),
            impersonator_id: Set(admin.id.clone()),
            impersonated_user_id: Set(target.id.clone()),
            impersonator_team_id: Set(caller_team),
            started_at: Set(started_at),
            expires_at: Set(expires_at),
            ended_at: Set(None),
            end_reason: Set(None),
            reason: Set(reason.clone()),
            mode: Set(mode),
            grant_id: Set(grant.as_ref().map(|g| g.id.clone())),
            last_activity_at: Set(Some(started_at)),
            initial_mode: Set(Some(mode)),
            elevated_at: Set(None),
            elevation_reason: Set(None),
            ticket: Set(ticket.clone()),
            review_id: Set(review.as_ref().map(|r| r.id.clone())),
        }
        .insert(&txn)
        .await?;
        // One review, one session: of two sessions racing for it, one gets it and the other
        // is refused, changing nothing.
        if let Some(r) = &review
            && !review::use_for(&txn, r, &record.id, now).await?
        {
            return Err(AppError::ImpersonationDenied(
                policy::ImpersonationDenial::ReviewRequired,
            ));
        }
        audit::record(
            &txn,
            Entry::new(
                action::IMPERSONATION_STARTED,
                Attribution::admin_on(&admin.id, &target.id),
                now,
            )
            // In the customer's team log: it is about their account.
            .team(target_team.as_deref())
            .entity("Impersonation", &record.id)
            .session(&record.id)
            .details(serde_json::json!({
                "targetUserId": target.id,
                "reason": reason,
                "mode": mode.as_str(),
                "grantId": grant.as_ref().map(|g| &g.id),
                "ticket": ticket,
                "teamId": target_team,
                "reviewId": review.as_ref().map(|r| &r.id),
                "stepUp": proved,
            }))
            .meta(meta),
        )
        .await?;

        tell_started(
            &txn,
            state,
            &admin,
            &target,
            &record,
            reviewer.as_ref(),
            now,
        )
        .await?;

        let (access_token, token_exp, claims) =
            session_token(state, now, &record, &target, target_team.as_deref())?;
        txn.commit().await?;
        crate::metrics::session_started(mode);
        Ok(Session {
            access_token,
            refresh_token: None,
            expires_at: token_exp,
            context: AuthContext {
                role: target.role,
                team_id: target_team,
                two_factor_authenticated: false,
                pre_two_factor: false,
                user: target,
                impersonation: Some(ActiveImpersonation {
                    impersonator: admin,
                    record,
                    claims,
                }),
            },
        })
    })
    .await
}

/// A refused start, audited on its own (nothing else is written): `IMPERSONATION_DENIED` with
/// the policy's reason.
async fn refuse(
    state: &AppState,
    caller: &AuthContext,
    target: &user::Model,
    reason: policy::ImpersonationDenial,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> AppError {
    let by = Attribution::admin_on(&caller.true_user().id, &target.id);
    let entry = Entry::new(action::IMPERSONATION_DENIED, by, now)
        .team(caller.team_id.as_deref())
        .details(serde_json::json!({ "reason": reason.as_str() }))
        .meta(meta);
    match audit::record_alone(state, entry).await {
        Ok(_) => AppError::ImpersonationDenied(reason),
        Err(e) => e,
    }
}

/// When a session started now ends: its lifetime, never past the grant it runs under, and a
/// reviewed session at most the review's minutes.
fn session_end(
    state: &AppState,
    now: DateTime<Utc>,
    grant: Option<&crate::entities::support_access_grant::Model>,
    review: Option<&crate::entities::impersonation_review::Model>,
) -> AppResult<DateTime<Utc>> {
    let lifetime_end = crate::clock::later(now, state.config.impersonation_ttl)?;
    let mut end = match grant.and_then(|g| g.expires_at) {
        Some(grant_end) => lifetime_end.min(grant_end),
        None => lifetime_end,
    };
    if let Some(r) = review {
        let minutes = chrono::Duration::minutes(r.minutes.into());
        end = end.min(crate::clock::later(now, minutes)?);
    }
    Ok(end)
}

/// The customer is told, in the session's own transaction: a notice (and its e-mail), and
/// the webhook event `impersonation.started`.
async fn tell_started(
    txn: &impl ConnectionTrait,
    state: &AppState,
    admin: &user::Model,
    target: &user::Model,
    record: &impersonation::Model,
    reviewer: Option<&user::Model>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let message = format!(
        "{} entered your account ({}{}): {}{}.",
        crate::services::audit::attribution::support_person(admin),
        record.mode.in_words(),
        reviewer
            .map(|r| format!(", approved by a second admin, {}", r.name))
            .unwrap_or_default(),
        record.reason.as_deref().unwrap_or("no reason given"),
        crate::services::notify::notices::ticket_clause(record.ticket.as_deref()),
    );
    let notice = Notice {
        kind: crate::services::notify::notices::kind::IMPERSONATION_STARTED,
        message,
        subject: "Support entered your account",
        impersonation_id: Some(&record.id),
        grant_id: record.grant_id.as_deref(),
    };
    crate::services::notify::notices::notify(txn, &state.config, target, notice, now).await?;
    let started = webhooks::Happening::Session("impersonation.started", &record.id);
    webhooks::emit(txn, started, now).await
}

/// The session's access token: it acts as the customer, in `team`, until the session ends,
/// with no refresh token. The customer's own 2FA is skipped by design: the admin passed theirs.
fn session_token(
    state: &AppState,
    now: DateTime<Utc>,
    record: &impersonation::Model,
    target: &user::Model,
    team: Option<&str>,
) -> AppResult<(String, DateTime<Utc>, ImpersonationClaims)> {
    let claims = ImpersonationClaims {
        impersonated_by: record.impersonator_id.clone(),
        impersonated_at: record.started_at.timestamp(),
        code: record.code.clone(),
        impersonator_team_id: record.impersonator_team_id.clone(),
    };
    let (access_token, exp) = tokens::issue_access(
        &state.config,
        now,
        record.expires_at - now,
        AccessGrant {
            user_id: &target.id,
            team_id: team,
            two_factor_enabled: false,
            two_factor_authenticated: false,
            impersonation: Some(claims.clone()),
        },
    )?;
    Ok((access_token, exp, claims))
}

/// Ends the caller's impersonation and returns the admin's own tokens, back in the team the
/// impersonation started from, 2FA-authenticated as before. The session is the one the
/// request's context matched to the token (impersonator, code and start time, at the
/// one-second precision a JWT carries) and found live.
pub async fn cancel(
    state: &AppState,
    caller: &AuthContext,
    meta: &RequestMeta,
) -> AppResult<Session> {
    let active = caller
        .impersonation
        .as_ref()
        .ok_or(AppError::Forbidden("this is not an impersonation token"))?;
    let now = state.clock.now();
    // The write is one unit of work (on SQLite it runs on the writer thread).
    let (st, meta, record) = (state.clone(), meta.clone(), active.record.clone());
    crate::db::write(state, move |txn| async move {
        let (state, meta, record) = (&st, &meta, &record);
        let admin = users::find_user(&txn, &record.impersonator_id).await?;
        let team =
            memberships::team_to_act_in(&txn, &admin, record.impersonator_team_id.as_deref())
                .await?;
        // Of racing cancels with one token, exactly one ends the session.
        let ended = end_once(
            &txn,
            &state.config,
            record,
            EndReason::Cancelled,
            "CANCELLED",
            now,
            meta,
        )
        .await?;
        if !ended {
            return Err(AppError::Unauthenticated("impersonation session has ended"));
        }
        let mut active_admin = admin.into_active_model();
        active_admin.current_team_id = Set(team.clone());
        let admin = active_admin.update(&txn).await?;
        let session =
            sign_in::issue_session(state, &txn, admin, team, true, Refresh::NewFamily).await?;
        txn.commit().await?;
        Ok(session)
    })
    .await
}

/// Who may read a session's details (its activity, its changes): 2FA admins, and the
/// customer whose account it entered (support inside that account sees what the customer
/// sees). Everything else about support staff the customer sees is trimmed where it is read
/// (`history::log::for_session`, `may_see_support_team`).
pub fn may_read(caller: &AuthContext, record: &impersonation::Model) -> bool {
    caller.is_admin_with_two_factor() || caller.user.id == record.impersonated_user_id
}

/// Whether the caller may see which of support's teams a session was started from: admins
/// only; the customer learns who entered, not support's internal teams.
pub fn may_see_support_team(caller: &AuthContext) -> bool {
    caller.is_admin_with_two_factor()
}

/// The sessions into `user_id`'s account, newest first: the customer's access history.
pub async fn into_account(
    conn: &impl ConnectionTrait,
    user_id: &str,
    page: &PageArgs,
) -> AppResult<Page<impersonation::Model>> {
    let mut q = impersonation::Entity::find()
        .filter(impersonation::Column::ImpersonatedUserId.eq(user_id))
        .order_by_desc(impersonation::Column::Id);
    if let Some(after) = &page.after {
        q = q.filter(impersonation::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// `Team.accessHistory`: the sessions into any member's account of `team`, newest first; for
/// the team's owner only (FORBIDDEN for anyone else).
pub async fn into_team(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    team: &crate::entities::team::Model,
    page: &PageArgs,
) -> AppResult<Page<impersonation::Model>> {
    use crate::entities::team_member;
    use sea_orm::sea_query::Query;
    if caller.user.id != team.owner_id {
        return Err(AppError::Forbidden(
            "only the team's owner reads its access history",
        ));
    }
    let members = Query::select()
        .column(team_member::Column::UserId)
        .from(team_member::Entity)
        .and_where(team_member::Column::TeamId.eq(team.id.clone()))
        .to_owned();
    let mut q = impersonation::Entity::find()
        .filter(impersonation::Column::ImpersonatedUserId.in_subquery(members))
        .order_by_desc(impersonation::Column::Id);
    if let Some(after) = &page.after {
        q = q.filter(impersonation::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// Impersonation history, newest first. `active_only` keeps sessions neither ended nor expired.
pub async fn list(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    active_only: bool,
    page: &PageArgs,
) -> AppResult<Page<impersonation::Model>> {
    let mut q = impersonation::Entity::find().order_by_desc(impersonation::Column::Id);
    if active_only {
        q = q
            .filter(impersonation::Column::EndedAt.is_null())
            .filter(impersonation::Column::ExpiresAt.gt(db_time(now)));
    }
    if let Some(after) = &page.after {
        q = q.filter(impersonation::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// `elevateImpersonation`: a READ_ONLY session becomes READ_WRITE, with the impersonator's own
/// fresh TOTP code (once per time step, counted by the TOTP throttle) and a reason; refused
/// (FORBIDDEN) under a READ_ONLY grant, before any code is spent. Audited under the admin on
/// behalf of the customer, so the customer's history shows it.
pub async fn elevate(
    state: &AppState,
    caller: StaffBehind<'_>,
    proof: step_up::Proof<'_>,
    reason: &str,
    meta: &RequestMeta,
) -> AppResult<impersonation::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let active = caller
        .impersonation
        .as_ref()
        .ok_or(AppError::Forbidden("this is not an impersonation token"))?;
    let reason = validation::reason("reason", reason)?;
    if active.record.mode == Mode::ReadWrite {
        return Err(AppError::bad_input(
            "mode",
            "this session is already read-write",
        ));
    }
    // In an account marked for review, changes need a reviewed read-write session.
    if review::needed(&caller.user, Mode::ReadWrite, &state.config) {
        return Err(AppError::ReviewRequired);
    }
    if let Some(grant_id) = &active.record.grant_id {
        let grant = support_access::find(&state.db, grant_id).await?;
        if grant.is_none_or(|g| g.mode == Mode::ReadOnly) {
            return Err(AppError::Forbidden(
                "the customer granted read-only access: ask them for read-write access",
            ));
        }
    }
    // Elevation always takes a fresh proof of the admin: their code, or (by the step-up rule)
    // a passkey.
    let proved = step_up::require(
        state,
        &active.impersonator,
        proof,
        Purpose::Elevate,
        Some(&active.record.impersonated_user_id),
        true,
        meta,
    )
    .await?
    .map(|m| m.as_str());
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let changed = impersonation::Entity::update_many()
        .col_expr(
            impersonation::Column::Mode,
            Expr::value(Mode::ReadWrite.as_str()),
        )
        .col_expr(
            impersonation::Column::ElevatedAt,
            Expr::value(Some(db_time(now))),
        )
        .col_expr(
            impersonation::Column::ElevationReason,
            Expr::value(Some(reason.clone())),
        )
        .filter(impersonation::Column::Id.eq(active.record.id.clone()))
        .filter(impersonation::Column::EndedAt.is_null())
        .filter(impersonation::Column::Mode.eq(Mode::ReadOnly.as_str()))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AppError::bad_input(
            "mode",
            "this session is no longer read-only",
        ));
    }
    let entry = Entry::for_caller(action::IMPERSONATION_ELEVATED, caller, meta, now)
        .entity("Impersonation", &active.record.id)
        .details(serde_json::json!({
            "reason": reason, "from": "READ_ONLY", "to": "READ_WRITE", "stepUp": proved,
        }));
    audit::record(&txn, entry).await?;
    // The customer is told: support can now change things (the caller's user is the target).
    let message = format!(
        "{} can now make changes in your account: {}.",
        crate::services::audit::attribution::support_person(&active.impersonator),
        reason,
    );
    let notice = Notice {
        kind: crate::services::notify::notices::kind::IMPERSONATION_ELEVATED,
        message,
        subject: "Support can now make changes in your account",
        impersonation_id: Some(&active.record.id),
        grant_id: active.record.grant_id.as_deref(),
    };
    crate::services::notify::notices::notify(&txn, &state.config, &caller.user, notice, now)
        .await?;
    let elevated = webhooks::Happening::Session("impersonation.elevated", &active.record.id);
    webhooks::emit(&txn, elevated, now).await?;
    let record = find(&txn, &active.record.id).await?;
    txn.commit().await?;
    Ok(record)
}

/// `endImpersonation`: a super admin ends any session, an admin their own or one whose
/// review they approved (another admin's
/// session is `NOT_FOUND`, so its existence does not leak). `ENDED_BY_ADMIN`; the reason goes
/// into the audit row. An ended or expired session is `BAD_USER_INPUT`.
pub async fn end_by_admin(
    state: &AppState,
    caller: AdminWithTwoFactor<'_>,
    id: &str,
    reason: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<impersonation::Model> {
    // The proof was checked by its constructor; from here it is the caller.
    let caller: &AuthContext = &caller;
    let reason = validation::optional_reason("reason", reason)?;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let record = find(&txn, id).await?;
    let own = record.impersonator_id == caller.user.id;
    let reviewer = review::reviewer_of(&txn, &record).await?;
    let watching = review::may_watch(caller, reviewer.as_deref());
    if !own && !watching {
        return Err(AppError::NotFound("impersonation"));
    }
    let ended = || AppError::bad_input("id", "this session has already ended");
    if record.ended_at.is_some() || record.expires_at <= now {
        return Err(ended());
    }
    let cause = reason.as_deref().unwrap_or("ENDED_BY_ADMIN");
    if !end_once(
        &txn,
        &state.config,
        &record,
        EndReason::EndedByAdmin,
        cause,
        now,
        meta,
    )
    .await?
    {
        return Err(ended());
    }
    let record = find(&txn, id).await?;
    txn.commit().await?;
    Ok(record)
}

/// The session with this id, if any.
pub async fn find_by_id(
    conn: &impl ConnectionTrait,
    id: &str,
) -> AppResult<Option<impersonation::Model>> {
    Ok(impersonation::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?)
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> AppResult<impersonation::Model> {
    impersonation::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("impersonation"))
}
