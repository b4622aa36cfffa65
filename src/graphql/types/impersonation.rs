//! Impersonation sessions.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{
    AuditLog, ImpersonationActivity, SupportAccessGrant, Team, User, connection, load_user,
    maybe_team, page_args,
};
use crate::auth::context::AuthContext;
use crate::entities::impersonation as session;
use crate::error::AppError;
use crate::graphql::context::caller;
use crate::services::pagination::{DEFAULT_PAGE_SIZE, list_complexity};
use crate::services::{audit, impersonation, impersonation::ledger, support_access};
use async_graphql::connection::Connection;

/// One impersonation session. Its code is a secret and is never exposed.
pub struct Impersonation(pub session::Model);

impl Impersonation {
    /// The caller, if they may read this session's details.
    fn readable<'a>(&self, ctx: &'a Context<'_>) -> Result<&'a AuthContext> {
        let c = caller(ctx)?;
        if !impersonation::may_read(c, &self.0) {
            return Err(AppError::Forbidden("not your account's session").into());
        }
        Ok(c)
    }
}

#[Object]
impl Impersonation {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn impersonator(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.impersonator_id).await?))
    }
    async fn impersonated_user(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.impersonated_user_id).await?))
    }
    /// Support's team the session was started from: admins only (null for the customer).
    async fn impersonator_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        if !impersonation::may_see_support_team(caller(ctx)?) {
            return Ok(None);
        }
        maybe_team(ctx, self.0.impersonator_team_id.as_deref()).await
    }
    async fn started_at(&self) -> DateTime {
        self.0.started_at.into()
    }
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
    async fn ended_at(&self) -> Option<DateTime> {
        self.0.ended_at.map(DateTime)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// READ_ONLY sessions are refused every mutation but `cancelImpersonation` and
    /// `elevateImpersonation`.
    async fn mode(&self) -> session::Mode {
        self.0.mode
    }
    /// Why the session ended; null while it runs.
    async fn end_reason(&self) -> Option<crate::services::impersonation::ending::EndReason> {
        self.0
            .end_reason
            .as_deref()
            .and_then(crate::services::impersonation::ending::EndReason::parse)
    }
    /// The session's last request, to within 30 seconds (the idle timeout counts from it).
    async fn last_activity_at(&self) -> DateTime {
        self.0.last_activity().into()
    }
    /// The customer's grant the session runs under, if any: it ends no later than the grant.
    async fn grant(&self, ctx: &Context<'_>) -> Result<Option<SupportAccessGrant>> {
        let Some(id) = &self.0.grant_id else {
            return Ok(None);
        };
        let g = support_access::find(&state(ctx)?.db, id).await?;
        Ok(g.map(SupportAccessGrant))
    }
    /// The operations made in the session, oldest first (at most 100 a page): for 2FA admins
    /// and the customer whose account it entered.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ImpersonationActivity>> {
        self.readable(ctx)?;
        let args = page_args(first, after)?;
        let page = ledger::list(&state(ctx)?.db, &self.0.id, &args).await?;
        Ok(connection(page, |r| &r.id, ImpersonationActivity))
    }
    /// The audit rows written in the session (its start, comments and other changes,
    /// refusals, elevation, its end), newest first (at most 100 a page). Client addresses and
    /// `details` are null for everyone but 2FA admins.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditLog>> {
        let c = self.readable(ctx)?;
        let args = page_args(first, after)?;
        let page = audit::for_session(&state(ctx)?.db, c, &self.0.id, &args).await?;
        Ok(connection(page, |r| &r.id, AuditLog))
    }
    /// Neither ended nor expired.
    async fn active(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.0.ended_at.is_none() && self.0.expires_at > state(ctx)?.clock.now())
    }
}
