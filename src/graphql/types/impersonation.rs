//! Impersonation sessions.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{SupportAccessGrant, Team, User, load_user, maybe_team};
use crate::entities::impersonation;
use crate::services::support_access;

/// One impersonation session. Its code is a secret and is never exposed.
pub struct Impersonation(pub impersonation::Model);

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
    async fn impersonator_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
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
    async fn mode(&self) -> crate::entities::impersonation::Mode {
        self.0.mode
    }
    /// Why the session ended; null while it runs.
    async fn end_reason(&self) -> Option<crate::services::session_ends::EndReason> {
        self.0
            .end_reason
            .as_deref()
            .and_then(crate::services::session_ends::EndReason::parse)
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
    /// Neither ended nor expired.
    async fn active(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.0.ended_at.is_none() && self.0.expires_at > state(ctx)?.clock.now())
    }
}
