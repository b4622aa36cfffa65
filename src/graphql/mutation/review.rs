//! Four-eyes review: super admins mark accounts; an admin asks, a second admin decides.
use async_graphql::{Context, ID, Object, Result};

use crate::entities::impersonation::Mode;
use crate::graphql::context::request_meta;
use crate::graphql::guards::{
    AdminWithTwoFactor, NotImpersonating, admin_with_two_factor, super_admin,
};
use crate::graphql::state;
use crate::graphql::types::{ImpersonationReview, ReviewRequirementChange, StepUp, User};
use crate::services::review;

#[derive(Default)]
pub struct ReviewMutation;

/// Every review mutation is for an admin with 2FA passed, acting as themselves.
#[Object]
impl ReviewMutation {
    /// SUPER_ADMIN: marks an account so that a session that can change it needs a second
    /// admin's review (READ_WRITE sessions; READ_ONLY ones too with
    /// IMPERSONATION_REVIEW_READ_ONLY). Running sessions without a review end at their next
    /// request. Audited in the customer's team log; told to the SIEM
    /// (`user.review_requirement_changed`) and to every other super admin. Unmarking
    /// (`required: false`) needs a second super admin: `requestReviewRequirementChange`, then
    /// `approveReviewRequirementChange` by another; asked here, it is FORBIDDEN.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn set_impersonation_review_required(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        required: bool,
    ) -> Result<User> {
        let (s, c, meta) = (state(ctx)?, super_admin(ctx).await?, request_meta(ctx));
        Ok(User(
            review::set_required(s, c, &user_id, required, &meta).await?,
        ))
    }

    /// SUPER_ADMIN: asks to unmark a marked account. PENDING until a second super admin
    /// decides, or lapsed after IMPERSONATION_REVIEW_TTL_MINUTES; the others are told.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn request_review_requirement_change(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> Result<ReviewRequirementChange> {
        let (s, c, meta) = (state(ctx)?, super_admin(ctx).await?, request_meta(ctx));
        Ok(ReviewRequirementChange(
            review::requirement::request(s, c, &user_id, &reason, &meta).await?,
        ))
    }

    /// SUPER_ADMIN, never the requester, who held the rights before it was asked and whose
    /// role the requester did not set: approves, and the account is unmarked at once.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn approve_review_requirement_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> Result<ReviewRequirementChange> {
        let (s, c, meta) = (state(ctx)?, super_admin(ctx).await?, request_meta(ctx));
        let row = review::requirement::decide(s, c, &id, true, note.as_deref(), &meta).await?;
        Ok(ReviewRequirementChange(row))
    }

    /// As `approveReviewRequirementChange`, to refuse (a note is required).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn deny_review_requirement_change(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> Result<ReviewRequirementChange> {
        let (s, c, meta) = (state(ctx)?, super_admin(ctx).await?, request_meta(ctx));
        let row = review::requirement::decide(s, c, &id, false, Some(&note), &meta).await?;
        Ok(ReviewRequirementChange(row))
    }

    /// An admin who could impersonate the user but for the review asks a second admin:
    /// PENDING until decided, withdrawn, or lapsed after IMPERSONATION_REVIEW_TTL_MINUTES.
    /// `minutes` (1 to IMPERSONATION_TTL_MINUTES) is the session's lifetime once started.
    /// BAD_USER_INPUT when the account needs no review for a session in `mode`.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn request_impersonation_review(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
        #[graphql(default_with = "Some(Mode::ReadWrite)")] mode: Option<Mode>,
        #[graphql(default_with = "Some(review::DEFAULT_MINUTES)")] minutes: Option<i32>,
        ticket: Option<String>,
    ) -> Result<ImpersonationReview> {
        let ask = review::ReviewAsk {
            user_id: &user_id,
            reason: &reason,
            mode: mode.unwrap_or(Mode::ReadWrite),
            minutes: minutes.unwrap_or(review::DEFAULT_MINUTES),
            ticket: ticket.as_deref(),
        };
        let (s, c, meta) = (
            state(ctx)?,
            admin_with_two_factor(ctx).await?,
            request_meta(ctx),
        );
        Ok(ImpersonationReview(
            review::request(s, c, ask, &meta).await?,
        ))
    }

    /// Another admin approves: never the requester (FORBIDDEN), only an admin who could enter
    /// the account themselves; a review that is not PENDING is BAD_USER_INPUT, and of racing
    /// decisions exactly one wins. The requester has 15 minutes to start the session.
    /// `stepUp`: the fresh proof IMPERSONATION_STEP_UP asks for (else STEP_UP_REQUIRED).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn approve_impersonation_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
        step_up: Option<StepUp>,
    ) -> Result<ImpersonationReview> {
        let (s, c, meta) = (
            state(ctx)?,
            admin_with_two_factor(ctx).await?,
            request_meta(ctx),
        );
        let proof = StepUp::proof(step_up.as_ref(), None);
        let r = review::decide(s, c, &id, true, note.as_deref(), proof, &meta).await?;
        Ok(ImpersonationReview(r))
    }

    /// Another admin denies, with a note (required): the rules of `approveImpersonationReview`.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn deny_impersonation_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> Result<ImpersonationReview> {
        let (s, c, meta) = (
            state(ctx)?,
            admin_with_two_factor(ctx).await?,
            request_meta(ctx),
        );
        let proof = Default::default();
        let r = review::decide(s, c, &id, false, Some(&note), proof, &meta).await?;
        Ok(ImpersonationReview(r))
    }

    /// The requester takes back a PENDING or unused APPROVED review (anyone else's is
    /// NOT_FOUND).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn withdraw_impersonation_review(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<ImpersonationReview> {
        let (s, c, meta) = (
            state(ctx)?,
            admin_with_two_factor(ctx).await?,
            request_meta(ctx),
        );
        Ok(ImpersonationReview(
            review::withdraw(s, c, &id, &meta).await?,
        ))
    }
}
