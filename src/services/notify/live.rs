//! What a live subscriber receives of an event (`crate::events`), decided under the
//! subscriber's own `AuthContext`: events carry ids only, and each subscriber loads what it
//! may see. A customer gets events about their own account and nothing else; admins with 2FA
//! get every session's start, elevation and end; the impersonating admin hears about their
//! own session.
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::auth::context::AuthContext;
use crate::entities::{impersonation as session, notification, support_access_grant as grant};
use crate::error::AppResult;
use crate::events::{Event, kind};
use crate::services::{impersonation, support_access};
use crate::state::AppState;

/// An event about the customer's account, as the customer may see it.
#[derive(Debug, Clone)]
pub struct AccountEvent {
    pub kind: String,
    pub notification: Option<notification::Model>,
    pub impersonation: Option<session::Model>,
    pub grant: Option<grant::Model>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// `myAccountEvents`: the event if it is about the caller's own account (acting as
/// themselves), with what it refers to that the caller may read; otherwise none.
pub async fn for_account(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    e: &Event,
) -> AppResult<Option<AccountEvent>> {
    let me = &caller.user.id;
    if caller.is_impersonating() || e.account_id.as_deref() != Some(me.as_str()) {
        return Ok(None);
    }
    // Reviews are the admins' own business: the requester hears of a decision through its
    // notice, not the bare event.
    if e.review_id.is_some() {
        return Ok(None);
    }
    let notification = match &e.notification_id {
        Some(id) => notification::Entity::find_by_id(id.clone())
            .one(conn)
            .await?
            .filter(|n| &n.user_id == me),
        None => None,
    };
    let impersonation = match &e.impersonation_id {
        Some(id) => impersonation::find_by_id(conn, id)
            .await?
            .filter(|r| impersonation::may_read(caller, r)),
        None => None,
    };
    let grant = match &e.grant_id {
        Some(id) => support_access::find(conn, id)
            .await?
            .filter(|g| &g.user_id == me),
        None => None,
    };
    Ok(Some(AccountEvent {
        kind: e.kind.clone(),
        notification,
        impersonation,
        grant,
        at: e.at,
    }))
}

/// What an admin's `impersonationEvents` shows of an event.
#[derive(Debug, Clone)]
pub struct AdminEvent {
    /// STARTED, ELEVATED, ENDED, REVIEW_REQUESTED, REVIEW_DECIDED or ACCESS_CHANGED.
    pub kind: &'static str,
    pub impersonation: Option<session::Model>,
    pub review: Option<crate::entities::impersonation_review::Model>,
    /// On ACCESS_CHANGED: the customer's window, opened, approved, denied, revoked or lapsed.
    pub grant: Option<grant::Model>,
}

/// `impersonationEvents`: for an admin with 2FA acting as themselves, the session event as
/// STARTED, ELEVATED or ENDED with the session, and reviews asked for or decided with the
/// review; otherwise none.
pub async fn for_admin(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    e: &Event,
) -> AppResult<Option<AdminEvent>> {
    if !caller.is_admin_with_two_factor() || caller.is_impersonating() {
        return Ok(None);
    }
    let short = match e.kind.as_str() {
        kind::IMPERSONATION_STARTED => "STARTED",
        kind::IMPERSONATION_ELEVATED => "ELEVATED",
        kind::IMPERSONATION_ENDED => "ENDED",
        kind::REVIEW_REQUESTED => "REVIEW_REQUESTED",
        kind::REVIEW_DECIDED => "REVIEW_DECIDED",
        // A customer's window opened (asked or not), decided, revoked or lapsed: what the
        // admins' Teams List shows of that customer changes.
        kind::SUPPORT_ACCESS_GRANTED
        | kind::SUPPORT_ACCESS_APPROVED
        | kind::SUPPORT_ACCESS_DENIED
        | kind::SUPPORT_ACCESS_REVOKED
        | kind::SUPPORT_ACCESS_EXPIRED => "ACCESS_CHANGED",
        _ => return Ok(None),
    };
    if short == "ACCESS_CHANGED" {
        // The event carrying the grant (not a notice about it).
        let Some(id) = &e.grant_id else {
            return Ok(None);
        };
        let g = support_access::find(conn, id).await?;
        return Ok(g.map(|g| AdminEvent {
            kind: short,
            impersonation: None,
            review: None,
            grant: Some(g),
        }));
    }
    if matches!(short, "REVIEW_REQUESTED" | "REVIEW_DECIDED") {
        // Only the events that carry the review (not the requester's notice of it).
        let Some(id) = &e.review_id else {
            return Ok(None);
        };
        let review = crate::services::review::find(conn, id).await?;
        return Ok(review.map(|r| AdminEvent {
            kind: short,
            impersonation: None,
            review: Some(r),
            grant: None,
        }));
    }
    let Some(id) = &e.impersonation_id else {
        return Ok(None);
    };
    Ok(impersonation::find_by_id(conn, id)
        .await?
        .map(|r| AdminEvent {
            kind: short,
            impersonation: Some(r),
            review: None,
            grant: None,
        }))
}

/// `currentImpersonation`: whether the event is about the caller's own running session.
pub fn about_own_session(caller: &AuthContext, e: &Event) -> bool {
    caller
        .impersonation
        .as_ref()
        .is_some_and(|a| e.impersonation_id.as_deref() == Some(a.record.id.as_str()))
}

/// This server's feed of events, from now on.
pub async fn subscribe(
    state: &AppState,
) -> AppResult<tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>> {
    state
        .events
        .subscribe(&state.db, &state.config.database_url)
        .await
}

/// Whether the subscriber may still be told what its subscription tells, read afresh before
/// each event it is given (a demotion, 2FA turned off or the account gone stops the stream at
/// once, not at the socket's next re-check). `admin`: the subscription is for admins with 2FA.
pub async fn may_still_hear(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    admin: bool,
) -> bool {
    let fresh = crate::entities::user::Entity::find_by_id(caller.user.id.clone())
        .one(conn)
        .await;
    match fresh {
        Ok(Some(u)) => !admin || (u.role.is_admin() && u.two_factor_on()),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot re-check a subscriber: nothing told");
            false
        }
    }
}
