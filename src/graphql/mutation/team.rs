//! Teams: a new one, and switching the team a token acts in.
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::context::request_meta;
use crate::graphql::guards::as_themselves;
use crate::graphql::guards::{NotImpersonating, TwoFactorPassed};
use crate::graphql::state;
use crate::graphql::types::*;
use crate::services::work::teams;

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// A new team the caller owns. Blocked while impersonating.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn create_team(&self, ctx: &Context<'_>, name: String) -> Result<Team> {
        Ok(Team(
            teams::create_team_for_caller(
                state(ctx)?,
                as_themselves(ctx).await?,
                &name,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// New tokens for another of the caller's teams. Blocked while impersonating: new team
    /// tokens would break the impersonation.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn switch_team(&self, ctx: &Context<'_>, team_id: ID) -> Result<AuthPayload> {
        Ok(AuthPayload(
            teams::switch_team(
                state(ctx)?,
                as_themselves(ctx).await?,
                &team_id,
                &request_meta(ctx),
            )
            .await?,
        ))
    }
}
