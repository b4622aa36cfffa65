//! The customer's support access: requests decided, windows opened and revoked (and an
//! admin's request for one).
use async_graphql::{Context, ID, Object, Result};

use crate::entities::impersonation::Mode;
use crate::graphql::context::request_meta;
use crate::graphql::guards::{NotImpersonating, TrueUserAdmin, TwoFactorPassed};
use crate::graphql::guards::{as_themselves, staff_behind};
use crate::graphql::state;
use crate::graphql::types::SupportAccessGrant;
use crate::services::support_access;

#[derive(Default)]
pub struct SupportAccessMutation;

/// Only the user a grant is for decides on it, signed in as themselves (never with an
/// impersonation token: the guard refuses it before anything runs).
#[Object]
impl SupportAccessMutation {
    /// An admin who could impersonate the user but for approval asks for access: PENDING
    /// until the user decides, lapsing after SUPPORT_REQUEST_TTL_HOURS. `mode` and `minutes`
    /// (1 to 10,080) given as null take their defaults. `ticket`: a support ticket's reference
    /// (at most 100 characters; required with IMPERSONATION_REQUIRE_TICKET), shown to the
    /// customer with the request; sessions under the grant carry it.
    #[graphql(guard = "TwoFactorPassed.and(TrueUserAdmin)")]
    async fn request_support_access(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
        #[graphql(default_with = "Some(Mode::ReadWrite)")] mode: Option<Mode>,
        #[graphql(default_with = "Some(support_access::DEFAULT_MINUTES)")] minutes: Option<i32>,
        ticket: Option<String>,
    ) -> Result<SupportAccessGrant> {
        let ask = support_access::AccessRequest {
            user_id: &user_id,
            reason: &reason,
            mode: mode.unwrap_or(Mode::ReadWrite),
            minutes: minutes.unwrap_or(support_access::DEFAULT_MINUTES),
            ticket: ticket.as_deref(),
        };
        let g = support_access::request(state(ctx)?, staff_behind(ctx)?, ask, &request_meta(ctx))
            .await?;
        Ok(SupportAccessGrant(g))
    }

    /// Approves a PENDING request for at most the minutes asked (all of them by default),
    /// starting now.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn approve_support_access(
        &self,
        ctx: &Context<'_>,
        grant_id: ID,
        minutes: Option<i32>,
    ) -> Result<SupportAccessGrant> {
        let (s, c, meta) = (state(ctx)?, as_themselves(ctx).await?, request_meta(ctx));
        let g = support_access::approve(s, c, &grant_id, minutes, &meta).await?;
        Ok(SupportAccessGrant(g))
    }

    /// Turns down a PENDING request.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn deny_support_access(
        &self,
        ctx: &Context<'_>,
        grant_id: ID,
    ) -> Result<SupportAccessGrant> {
        let (s, c, meta) = (state(ctx)?, as_themselves(ctx).await?, request_meta(ctx));
        Ok(SupportAccessGrant(
            support_access::deny(s, c, &grant_id, &meta).await?,
        ))
    }

    /// Opens a window for any admin, unasked, starting now. `mode` and `minutes` (1 to
    /// 10,080) given as null take their defaults.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn grant_support_access(
        &self,
        ctx: &Context<'_>,
        reason: String,
        #[graphql(default_with = "Some(Mode::ReadWrite)")] mode: Option<Mode>,
        #[graphql(default_with = "Some(support_access::DEFAULT_MINUTES)")] minutes: Option<i32>,
    ) -> Result<SupportAccessGrant> {
        let w = support_access::Window {
            reason: &reason,
            mode: mode.unwrap_or(Mode::ReadWrite),
            minutes: minutes.unwrap_or(support_access::DEFAULT_MINUTES),
        };
        let g = support_access::open(
            state(ctx)?,
            as_themselves(ctx).await?,
            w,
            &request_meta(ctx),
        )
        .await?;
        Ok(SupportAccessGrant(g))
    }

    /// Closes an open window: every session running under it ends at once
    /// (REVOKED_BY_USER).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn revoke_support_access(
        &self,
        ctx: &Context<'_>,
        grant_id: ID,
    ) -> Result<SupportAccessGrant> {
        let (s, c, meta) = (state(ctx)?, as_themselves(ctx).await?, request_meta(ctx));
        Ok(SupportAccessGrant(
            support_access::revoke(s, c, &grant_id, &meta).await?,
        ))
    }
}
