//! Four-eyes reviews, for admins.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{Impersonation, User, load_user, maybe_user};
use crate::entities::impersonation::Mode;
use crate::entities::impersonation_review::{self as review, ReviewStatus};
use crate::services::{impersonation, review as reviews};

/// A second admin's review of a session into an account marked for review.
pub struct ImpersonationReview(pub review::Model);

#[Object]
impl ImpersonationReview {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The admin who asked.
    async fn requester(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.requester_id).await?))
    }
    /// Whose account the session would enter.
    async fn target(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.target_id).await?))
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn ticket(&self) -> Option<&str> {
        self.0.ticket.as_deref()
    }
    async fn mode(&self) -> Mode {
        self.0.mode
    }
    /// The session's lifetime once started (at most IMPERSONATION_TTL_MINUTES).
    async fn minutes(&self) -> i32 {
        self.0.minutes
    }
    /// Where it stands now: PENDING and APPROVED reviews past `expiresAt` read EXPIRED.
    async fn status(&self, ctx: &Context<'_>) -> Result<ReviewStatus> {
        Ok(reviews::status(&self.0, state(ctx)?.clock.now()))
    }
    /// The admin who decided.
    async fn reviewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.reviewer_id.as_deref()).await
    }
    /// The reviewer's words (always given on a denial).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(DateTime)
    }
    /// Pending: when it lapses. Approved: the last moment to start the session.
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
    /// The session it was used for.
    async fn impersonation(&self, ctx: &Context<'_>) -> Result<Option<Impersonation>> {
        let Some(id) = &self.0.impersonation_id else {
            return Ok(None);
        };
        let found = impersonation::find_by_id(&state(ctx)?.db, id).await?;
        Ok(found.map(Impersonation))
    }
}

/// A super admin's request to unmark an account (no more four-eyes review for it), decided by
/// a second super admin; approved, it is applied at once.
pub struct ReviewRequirementChange(pub crate::entities::review_requirement_change::Model);

#[Object]
impl ReviewRequirementChange {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The account to unmark.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.user_id).await?))
    }
    /// The super admin who asked.
    async fn requester(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.requester_id).await?))
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// PENDING, APPROVED (applied), DENIED, or EXPIRED (a pending one past `expiresAt`).
    async fn status(&self, ctx: &Context<'_>) -> Result<ReviewStatus> {
        Ok(reviews::requirement::status(
            &self.0,
            state(ctx)?.clock.now(),
        ))
    }
    /// The second super admin who decided.
    async fn reviewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.reviewer_id.as_deref()).await
    }
    /// The decider's words (always given on a denial).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn decided_at(&self) -> Option<DateTime> {
        self.0.decided_at.map(Into::into)
    }
    /// While pending: when it lapses.
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
}
