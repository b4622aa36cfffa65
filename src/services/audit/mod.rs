//! The audit trail. A row is written in the same transaction as the change it records.
//! Who a row is shown as written by: `attribution`.
pub mod attribution;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::auth::AuthContext;
use crate::auth::context::RequestMeta;
use crate::db::{db_time, new_id};
use crate::entities::audit_log;
use crate::error::AppResult;
use crate::services::audit::attribution::Attribution;

/// Actions recorded in `audit_logs.action`.
pub mod action {
    pub const USER_REGISTERED: &str = "USER_REGISTERED";
    pub const USER_CREATED: &str = "USER_CREATED";
    pub const LOGIN: &str = "LOGIN";
    pub const TOKEN_REFRESHED: &str = "TOKEN_REFRESHED";
    pub const LOGGED_OUT: &str = "LOGGED_OUT";
    pub const PROFILE_UPDATED: &str = "PROFILE_UPDATED";
    pub const PASSWORD_CHANGED: &str = "PASSWORD_CHANGED";
    pub const TWO_FACTOR_SECRET_GENERATED: &str = "TWO_FACTOR_SECRET_GENERATED";
    pub const TWO_FACTOR_ENABLED: &str = "TWO_FACTOR_ENABLED";
    pub const TWO_FACTOR_AUTHENTICATED: &str = "TWO_FACTOR_AUTHENTICATED";
    pub const TWO_FACTOR_DISABLED: &str = "TWO_FACTOR_DISABLED";
    pub const ROLE_CHANGED: &str = "ROLE_CHANGED";
    pub const TEAM_CREATED: &str = "TEAM_CREATED";
    pub const TEAM_SWITCHED: &str = "TEAM_SWITCHED";
    pub const BUSINESS_CREATED: &str = "BUSINESS_CREATED";
    pub const LEAD_CREATED: &str = "LEAD_CREATED";
    pub const COMMENT_CREATED: &str = "COMMENT_CREATED";
    pub const IMPERSONATION_STARTED: &str = "IMPERSONATION_STARTED";
    pub const IMPERSONATION_ENDED: &str = "IMPERSONATION_ENDED";
    pub const LOGIN_FAILED: &str = "LOGIN_FAILED";
    pub const TWO_FACTOR_FAILED: &str = "TWO_FACTOR_FAILED";
    pub const IMPERSONATION_DENIED: &str = "IMPERSONATION_DENIED";
    pub const PASSWORD_CHANGE_FAILED: &str = "PASSWORD_CHANGE_FAILED";
    pub const TWO_FACTOR_ENABLE_FAILED: &str = "TWO_FACTOR_ENABLE_FAILED";
    pub const BLOCKED_WHILE_IMPERSONATING: &str = "BLOCKED_WHILE_IMPERSONATING";
    pub const REFRESH_TOKEN_REUSED: &str = "REFRESH_TOKEN_REUSED";
    pub const DEMO_ACCOUNT_DISABLED: &str = "DEMO_ACCOUNT_DISABLED";
    pub const IMPERSONATION_ENABLED: &str = "IMPERSONATION_ENABLED";
    pub const IMPERSONATION_DISABLED: &str = "IMPERSONATION_DISABLED";
    pub const IMPERSONATION_ELEVATED: &str = "IMPERSONATION_ELEVATED";
    pub const SUPPORT_ACCESS_REQUESTED: &str = "SUPPORT_ACCESS_REQUESTED";
    pub const SUPPORT_ACCESS_APPROVED: &str = "SUPPORT_ACCESS_APPROVED";
    pub const SUPPORT_ACCESS_DENIED: &str = "SUPPORT_ACCESS_DENIED";
    pub const SUPPORT_ACCESS_GRANTED: &str = "SUPPORT_ACCESS_GRANTED";
    pub const SUPPORT_ACCESS_REVOKED: &str = "SUPPORT_ACCESS_REVOKED";
    pub const SUPPORT_ACCESS_REFUSED: &str = "SUPPORT_ACCESS_REFUSED";
    pub const NOTIFICATIONS_READ: &str = "NOTIFICATIONS_READ";
    pub const IMPERSONATION_REVIEW_REQUIRED_SET: &str = "IMPERSONATION_REVIEW_REQUIRED_SET";
    pub const IMPERSONATION_REVIEW_REQUESTED: &str = "IMPERSONATION_REVIEW_REQUESTED";
    pub const IMPERSONATION_REVIEW_APPROVED: &str = "IMPERSONATION_REVIEW_APPROVED";
    pub const IMPERSONATION_REVIEW_DENIED: &str = "IMPERSONATION_REVIEW_DENIED";
    pub const IMPERSONATION_REVIEW_WITHDRAWN: &str = "IMPERSONATION_REVIEW_WITHDRAWN";
    pub const REVIEW_REQUIREMENT_CHANGE_REQUESTED: &str = "REVIEW_REQUIREMENT_CHANGE_REQUESTED";
    pub const REVIEW_REQUIREMENT_CHANGE_APPROVED: &str = "REVIEW_REQUIREMENT_CHANGE_APPROVED";
    pub const REVIEW_REQUIREMENT_CHANGE_DENIED: &str = "REVIEW_REQUIREMENT_CHANGE_DENIED";
    pub const PASSKEY_ADDED: &str = "PASSKEY_ADDED";
    pub const PASSKEY_REMOVED: &str = "PASSKEY_REMOVED";
    pub const PASSKEY_AUTHENTICATED: &str = "PASSKEY_AUTHENTICATED";
    pub const PASSKEY_FAILED: &str = "PASSKEY_FAILED";
    pub const PASSKEY_CHANGE_FAILED: &str = "PASSKEY_CHANGE_FAILED";
    pub const WEBHOOK_ENDPOINT_CREATED: &str = "WEBHOOK_ENDPOINT_CREATED";
    pub const WEBHOOK_ENDPOINT_UPDATED: &str = "WEBHOOK_ENDPOINT_UPDATED";
    pub const WEBHOOK_ENDPOINT_DELETED: &str = "WEBHOOK_ENDPOINT_DELETED";
    pub const WEBHOOK_SECRET_ROTATED: &str = "WEBHOOK_SECRET_ROTATED";
    pub const WEBHOOK_ENDPOINT_DISABLED: &str = "WEBHOOK_ENDPOINT_DISABLED";

    /// Who may filter the audit log by an action: everyone, or support staff only (actions
    /// no customer's team log holds).
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub enum Audience {
        Everyone,
        Staff,
    }

    /// Every action recorded, in words for the log's Action filter (the console's list comes
    /// from here, never from a copy of its own). A unit test holds it equal to the constants
    /// above.
    pub const KNOWN: &[(&str, &str, Audience)] = {
        use Audience::{Everyone as E, Staff as S};
        &[
            (LOGIN, "Signed in", E),
            (LOGIN_FAILED, "Sign-in failed", E),
            (LOGGED_OUT, "Signed out", E),
            (TOKEN_REFRESHED, "Session renewed", E),
            (
                REFRESH_TOKEN_REUSED,
                "An old sign-in was reused and refused",
                E,
            ),
            (USER_REGISTERED, "Account created", E),
            (USER_CREATED, "Account created by an admin", S),
            (PROFILE_UPDATED, "Profile changed", E),
            (PASSWORD_CHANGED, "Password changed", E),
            (PASSWORD_CHANGE_FAILED, "Password change refused", E),
            (ROLE_CHANGED, "Role changed", S),
            (TWO_FACTOR_SECRET_GENERATED, "Two-factor set-up started", E),
            (TWO_FACTOR_ENABLED, "Two-factor turned on", E),
            (TWO_FACTOR_ENABLE_FAILED, "Two-factor set-up refused", E),
            (TWO_FACTOR_AUTHENTICATED, "Two-factor code accepted", E),
            (TWO_FACTOR_FAILED, "Two-factor code refused", E),
            (TWO_FACTOR_DISABLED, "Two-factor turned off", E),
            (PASSKEY_ADDED, "Passkey added", E),
            (PASSKEY_REMOVED, "Passkey removed", E),
            (PASSKEY_AUTHENTICATED, "Passkey accepted", E),
            (PASSKEY_FAILED, "Passkey refused", E),
            (PASSKEY_CHANGE_FAILED, "Passkey change refused", E),
            (TEAM_CREATED, "Team created", E),
            (TEAM_SWITCHED, "Team switched", E),
            (BUSINESS_CREATED, "Business added", E),
            (LEAD_CREATED, "Lead added", E),
            (COMMENT_CREATED, "Comment added", E),
            (NOTIFICATIONS_READ, "Notices marked read", E),
            (IMPERSONATION_STARTED, "Support entered an account", E),
            (
                IMPERSONATION_ELEVATED,
                "Support was allowed to make changes",
                E,
            ),
            (IMPERSONATION_ENDED, "Support left an account", E),
            (IMPERSONATION_DENIED, "Support was refused entry", E),
            (
                BLOCKED_WHILE_IMPERSONATING,
                "Support was stopped from doing something",
                E,
            ),
            (SUPPORT_ACCESS_REQUESTED, "Support asked for access", E),
            (SUPPORT_ACCESS_APPROVED, "Support access approved", E),
            (SUPPORT_ACCESS_DENIED, "Support access denied", E),
            (
                SUPPORT_ACCESS_GRANTED,
                "Support let in without a request",
                E,
            ),
            (SUPPORT_ACCESS_REVOKED, "Support access revoked", E),
            (SUPPORT_ACCESS_REFUSED, "Support access change refused", E),
            (
                IMPERSONATION_REVIEW_REQUIRED_SET,
                "Account marked for a second admin's review",
                E,
            ),
            (
                IMPERSONATION_REVIEW_REQUESTED,
                "Second admin's review asked for",
                S,
            ),
            (
                IMPERSONATION_REVIEW_APPROVED,
                "Second admin's review approved",
                S,
            ),
            (
                IMPERSONATION_REVIEW_DENIED,
                "Second admin's review denied",
                S,
            ),
            (
                IMPERSONATION_REVIEW_WITHDRAWN,
                "Second admin's review withdrawn",
                S,
            ),
            (
                REVIEW_REQUIREMENT_CHANGE_REQUESTED,
                "Unmarking an account asked for",
                S,
            ),
            (
                REVIEW_REQUIREMENT_CHANGE_APPROVED,
                "Unmarking an account approved",
                S,
            ),
            (
                REVIEW_REQUIREMENT_CHANGE_DENIED,
                "Unmarking an account denied",
                S,
            ),
            (
                IMPERSONATION_ENABLED,
                "Impersonation switched on for everyone",
                S,
            ),
            (
                IMPERSONATION_DISABLED,
                "Impersonation switched off for everyone",
                S,
            ),
            (WEBHOOK_ENDPOINT_CREATED, "Webhook endpoint added", S),
            (WEBHOOK_ENDPOINT_UPDATED, "Webhook endpoint changed", S),
            (
                WEBHOOK_ENDPOINT_DISABLED,
                "Webhook endpoint switched off",
                S,
            ),
            (WEBHOOK_ENDPOINT_DELETED, "Webhook endpoint removed", S),
            (WEBHOOK_SECRET_ROTATED, "Webhook secret rotated", S),
            (DEMO_ACCOUNT_DISABLED, "Demo account switched off", S),
        ]
    };

    /// The actions `staff` (an admin with 2FA acting as themselves) or a customer may filter
    /// by, with their words.
    pub fn for_reader(staff: bool) -> impl Iterator<Item = (&'static str, &'static str)> {
        KNOWN
            .iter()
            .filter(move |(_, _, who)| staff || *who == Audience::Everyone)
            .map(|(code, words, _)| (*code, *words))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Every `pub const` of this module is in `KNOWN` once: an action added later and
        /// forgotten here fails this test.
        #[test]
        fn every_action_has_words_once() {
            let source = include_str!("mod.rs");
            let start = source.find("pub mod action {").unwrap();
            let end = source[start..].find("pub enum Audience").unwrap() + start;
            let declared: Vec<&str> = source[start..end]
                .lines()
                .filter_map(|l| l.trim().strip_prefix("pub const "))
                .filter_map(|l| l.split('"').nth(1))
                .collect();
            assert!(declared.len() >= 50, "{declared:?}");
            for code in &declared {
                let n = KNOWN.iter().filter(|(c, _, _)| c == code).count();
                assert_eq!(n, 1, "{code} is in KNOWN {n} times");
            }
            assert_eq!(KNOWN.len(), declared.len());
            for (code, words, _) in KNOWN {
                assert!(!words.contains('_') && words != code, "{code}: {words}");
            }
        }

        #[test]
        fn customers_see_their_own_actions_not_the_staffs() {
            let theirs: Vec<&str> = for_reader(false).map(|(c, _)| c).collect();
            assert!(theirs.contains(&IMPERSONATION_STARTED));
            assert!(!theirs.contains(&WEBHOOK_ENDPOINT_CREATED));
            assert_eq!(for_reader(true).count(), KNOWN.len());
        }
    }
}

/// One row to write.
pub struct Entry<'a> {
    pub action: &'static str,
    /// `None` when nobody is known (a failed login for an unknown email).
    pub by: Option<Attribution>,
    pub team_id: Option<&'a str>,
    pub entity: Option<(&'static str, &'a str)>,
    pub details: Option<serde_json::Value>,
    pub ip: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// The impersonation session it belongs to, when the attribution does not say (an
    /// impersonated write carries its session in its `Attribution`).
    pub session: Option<&'a str>,
}

impl<'a> Entry<'a> {
    pub fn new(action: &'static str, by: Attribution, at: DateTime<Utc>) -> Self {
        Self::by(action, Some(by), at)
    }

    /// An entry for what the request's caller did: attributed per `Attribution::caller`, in
    /// the team the caller acts in, from the request's client address.
    pub fn for_caller(
        action: &'static str,
        caller: &'a AuthContext,
        meta: &'a RequestMeta,
        at: DateTime<Utc>,
    ) -> Self {
        Self::new(action, Attribution::caller(caller), at)
            .team(caller.team_id.as_deref())
            .meta(meta)
    }

    /// An entry whose actor may be unknown.
    pub fn by(action: &'static str, by: Option<Attribution>, at: DateTime<Utc>) -> Self {
        Entry {
            action,
            by,
            team_id: None,
            entity: None,
            details: None,
            ip: None,
            at,
            session: None,
        }
    }

    /// The impersonation session the row belongs to.
    pub fn session(mut self, impersonation_id: &'a str) -> Self {
        self.session = Some(impersonation_id);
        self
    }

    pub fn team(mut self, team_id: Option<&'a str>) -> Self {
        self.team_id = team_id;
        self
    }

    pub fn entity(mut self, kind: &'static str, id: &'a str) -> Self {
        self.entity = Some((kind, id));
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The request's client address.
    pub fn meta(mut self, meta: &'a RequestMeta) -> Self {
        self.ip = meta.ip.as_deref();
        self
    }
}

/// Writes the row on `conn`: the mutation's transaction, or for a refusal (a failed login, a
/// wrong code, a blocked operation) the database itself, so the row stands while the refused
/// mutation changes nothing.
/// Writes `e` in a write of its own (a refusal, a failure: nothing else changes).
pub async fn record_alone(
    state: &crate::state::AppState,
    e: Entry<'_>,
) -> AppResult<audit_log::Model> {
    let txn = crate::db::record_txn(state).await?;
    let row = record(&txn, e).await?;
    txn.commit().await?;
    Ok(row)
}

pub async fn record(conn: &impl ConnectionTrait, e: Entry<'_>) -> AppResult<audit_log::Model> {
    let session = e.session.map(str::to_string);
    let (actor_id, on_behalf_of_id, is_impersonated, session) = match e.by {
        Some(by) => (
            Some(by.actor_id),
            by.on_behalf_of_id,
            by.is_impersonated,
            by.session.or(session),
        ),
        None => (None, None, false, session),
    };
    let row = audit_log::ActiveModel {
        id: Set(new_id()),
        actor_id: Set(actor_id),
        on_behalf_of_id: Set(on_behalf_of_id),
        team_id: Set(e.team_id.map(str::to_string)),
        action: Set(e.action.to_string()),
        entity_type: Set(e.entity.map(|(k, _)| k.to_string())),
        entity_id: Set(e.entity.map(|(_, id)| id.to_string())),
        is_impersonated: Set(is_impersonated),
        details: Set(e.details.map(|d| d.to_string())),
        ip_address: Set(e.ip.map(str::to_string)),
        created_at: Set(db_time(e.at)),
        impersonation_id: Set(session),
    };
    Ok(row.insert(conn).await?)
}

/// Records an operation refused because the token is an impersonation token, in its own
/// statement (the refused operation changes nothing): the impersonator acting on behalf of the
/// target, and the operation's field name.
pub async fn record_blocked(
    state: &crate::state::AppState,
    caller: &AuthContext,
    operation: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let entry = Entry::for_caller(
        action::BLOCKED_WHILE_IMPERSONATING,
        caller,
        meta,
        state.clock.now(),
    )
    .details(serde_json::json!({ "operation": operation }));
    record_alone(state, entry).await?;
    Ok(())
}

/// Actions that record no change to the customer's data: refusals, failures and the
/// session's own bookkeeping.
const NOT_CHANGES: [&str; 6] = [
    action::BLOCKED_WHILE_IMPERSONATING,
    action::IMPERSONATION_STARTED,
    action::IMPERSONATION_ENDED,
    action::IMPERSONATION_ELEVATED,
    action::SUPPORT_ACCESS_REFUSED,
    action::TWO_FACTOR_FAILED,
];

/// How many changes an impersonation session made: its audit rows written with the
/// impersonation token, refusals and failures aside.
pub async fn changes_in(conn: &impl ConnectionTrait, impersonation_id: &str) -> AppResult<u64> {
    let counts = changes_in_each(conn, &[impersonation_id.to_string()]).await?;
    Ok(counts.get(impersonation_id).copied().unwrap_or(0))
}

/// `changes_in` for several sessions in one statement (a page of them): sessions with no
/// change are absent.
pub async fn changes_in_each(
    conn: &impl ConnectionTrait,
    impersonation_ids: &[String],
) -> AppResult<std::collections::HashMap<String, u64>> {
    use audit_log::Column as C;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let rows: Vec<(Option<String>, i64)> = audit_log::Entity::find()
        .select_only()
        .column(C::ImpersonationId)
        .column_as(C::Id.count(), "n")
        .filter(C::ImpersonationId.is_in(impersonation_ids.iter().cloned()))
        .filter(C::IsImpersonated.eq(true))
        .filter(C::Action.is_not_in(NOT_CHANGES))
        .filter(C::Action.not_like("%_FAILED"))
        .group_by(C::ImpersonationId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, n)| Some((id?, u64::try_from(n).unwrap_or(0))))
        .collect())
}
