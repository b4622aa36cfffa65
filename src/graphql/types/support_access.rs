//! Support access grants and the impersonation settings admins read.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::super::state;
use super::{User, load_user, maybe_user};
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::{self as grant, Status};
use crate::services::support_access;

/// The customer's permission for support to enter their account.
pub struct SupportAccessGrant(pub grant::Model);

#[Object]
impl SupportAccessGrant {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Whose account it opens.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.user_id).await?))
    }
    /// The admin who asked; null when the customer opened it unasked (for any admin).
    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.requested_by_id.as_deref()).await
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// The most a session under it may do.
    async fn mode(&self) -> Mode {
        self.0.mode
    }
    async fn requested_minutes(&self) -> i32 {
        self.0.requested_minutes
    }
    /// As of now: a pending request that lapsed, or a window that ran out, is EXPIRED.
    async fn status(&self, ctx: &Context<'_>) -> Result<Status> {
        Ok(support_access::status(&self.0, state(ctx)?.clock.now()))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// When the customer approved or denied it (or opened it).
    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(DateTime)
    }
    /// Approved: the end of the window. Pending: when the request lapses. Revoked: when it
    /// was revoked. Denied: null.
    async fn expires_at(&self) -> Option<DateTime> {
        self.0.expires_at.map(DateTime)
    }
    /// The support ticket it was asked for.
    async fn ticket(&self) -> Option<&str> {
        self.0.ticket.as_deref()
    }
    /// SUPPORT_TICKET_URL with the ticket in it, when both are set.
    async fn ticket_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(super::impersonation::ticket_url(
            &state(ctx)?.config,
            self.0.ticket.as_deref(),
        ))
    }
}

/// How impersonation is set up, as the server handling the request sees it.
#[derive(SimpleObject)]
pub struct ImpersonationSettings {
    /// The kill switch: false refuses every new session (IMPERSONATION_DISABLED).
    pub enabled: bool,
    /// The mode of a session when `impersonate` does not say (IMPERSONATION_DEFAULT_MODE).
    pub default_mode: Mode,
    /// A session's absolute lifetime (IMPERSONATION_TTL_MINUTES).
    pub ttl_minutes: i32,
    /// A session with no request for this long ends; 0 is off (IMPERSONATION_IDLE_MINUTES).
    pub idle_minutes: i32,
    /// `impersonate` and `requestSupportAccess` need a ticket (IMPERSONATION_REQUIRE_TICKET).
    pub require_ticket: bool,
    /// The fresh proofs `impersonate` accepts (PASSKEY, TOTP), per IMPERSONATION_STEP_UP;
    /// empty when it needs none.
    pub start_proofs: Vec<String>,
    /// The fresh proofs `elevateImpersonation` accepts (it always needs one).
    pub elevate_proofs: Vec<String>,
}
