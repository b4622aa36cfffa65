//! Impersonation: start, elevate, end by an admin, the kill switch, and the way back.
use async_graphql::{Context, ID, Object, Result};

use crate::entities::impersonation::Mode;
use crate::graphql::context::{caller, request_meta};
use crate::graphql::guards::{
    AdminWithTwoFactor, NotImpersonating, SignedIn, TrueUserAdmin, TwoFactorPassed,
};
use crate::graphql::guards::{admin_with_two_factor, staff_behind, super_admin};
use crate::graphql::state;
use crate::graphql::types::*;
use crate::services::{impersonation, impersonation::kill_switch};

#[derive(Default)]
pub struct ImpersonationMutation;

#[Object]
impl ImpersonationMutation {
    /// Sign in as `userId`. Needs a 2FA-authenticated admin; the rules are in
    /// `auth::policy` and refusals are IMPERSONATION_DENIED with the reason. `mode` defaults
    /// to IMPERSONATION_DEFAULT_MODE (READ_WRITE unless configured). `ticket`: a support
    /// ticket's reference (at most 100 characters; required with IMPERSONATION_REQUIRE_TICKET;
    /// under a grant that has one, the grant's when not given), shown to the customer beside
    /// the reason. `teamId`: the customer's team to start in (one of theirs, else NOT_FOUND);
    /// their current team when not given; the token's team claim is it. `stepUp`: the fresh
    /// proof IMPERSONATION_STEP_UP asks for (else STEP_UP_REQUIRED with `extensions.methods`),
    /// checked once the policy allows the session.
    #[graphql(guard = "TwoFactorPassed.and(TrueUserAdmin)")]
    // The arguments are the contract's.
    #[allow(clippy::too_many_arguments)]
    async fn impersonate(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: Option<String>,
        mode: Option<Mode>,
        ticket: Option<String>,
        team_id: Option<ID>,
        step_up: Option<StepUp>,
    ) -> Result<AuthPayload> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let ask = impersonation::StartAsk {
            user_id: &user_id,
            reason: reason.as_deref(),
            mode,
            ticket: ticket.as_deref(),
            team_id: team_id.as_ref().map(|t| t.as_str()),
            proof: StepUp::proof(step_up.as_ref(), None),
        };
        let session = impersonation::start(s, staff_behind(ctx)?, ask, &meta).await?;
        if let Some(active) = &session.context.impersonation {
            // What the answer's selection reads of the customer goes into the new session's
            // ledger.
            crate::graphql::gate::StartedSession::note(ctx, &active.record.id);
        }
        Ok(AuthPayload(session))
    }

    /// Turns the caller's READ_ONLY session into READ_WRITE, with a fresh proof of the
    /// impersonator (their current TOTP `code`, or `stepUp`: a code or a passkey's answer;
    /// with IMPERSONATION_STEP_UP=passkey, a passkey only) and a reason. Without one,
    /// STEP_UP_REQUIRED. Audited; the customer's history shows it.
    #[graphql(guard = "SignedIn")]
    async fn elevate_impersonation(
        &self,
        ctx: &Context<'_>,
        code: Option<String>,
        reason: String,
        step_up: Option<StepUp>,
    ) -> Result<Impersonation> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let proof = StepUp::proof(step_up.as_ref(), code.as_deref());
        let record = impersonation::elevate(s, staff_behind(ctx)?, proof, &reason, &meta).await?;
        Ok(Impersonation(record))
    }

    /// Ends a running session (`ENDED_BY_ADMIN`): a super admin any, an admin their own.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn end_impersonation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Impersonation> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let record = impersonation::end_by_admin(
            s,
            admin_with_two_factor(ctx).await?,
            &id,
            reason.as_deref(),
            &meta,
        )
        .await?;
        Ok(Impersonation(record))
    }

    /// The kill switch (SUPER_ADMIN): off ends every running session and refuses new ones
    /// (`IMPERSONATION_DISABLED`) on every server. Returns the new state. `reason` (the rules
    /// of reasons) goes into the audit row.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn set_impersonation_enabled(
        &self,
        ctx: &Context<'_>,
        enabled: bool,
        reason: Option<String>,
    ) -> Result<bool> {
        let s = state(ctx)?;
        let caller = super_admin(ctx).await?;
        let meta = request_meta(ctx);
        Ok(kill_switch::set_enabled(s, caller, enabled, reason.as_deref(), &meta).await?)
    }

    /// Ends the impersonation and returns the admin's own tokens, in the team the admin
    /// impersonated from.
    #[graphql(guard = "SignedIn")]
    async fn cancel_impersonation(&self, ctx: &Context<'_>) -> Result<AuthPayload> {
        Ok(AuthPayload(
            impersonation::cancel(state(ctx)?, caller(ctx)?, &request_meta(ctx)).await?,
        ))
    }
}
