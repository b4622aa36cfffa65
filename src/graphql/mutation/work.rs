//! The CRM's records: businesses, leads and their comments.
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::context::request_meta;
use crate::graphql::guards::TwoFactorPassed;
use crate::graphql::guards::may_write;
use crate::graphql::state;
use crate::graphql::types::*;
use crate::services::work::comments::{self, CommentTarget};
use crate::services::{work::businesses, work::leads};

#[derive(Default)]
pub struct WorkMutation;

#[Object]
impl WorkMutation {
    #[graphql(guard = "TwoFactorPassed")]
    async fn create_business(&self, ctx: &Context<'_>, name: String) -> Result<Business> {
        Ok(Business(
            businesses::create_business(
                state(ctx)?,
                may_write(ctx).await?,
                &name,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    #[graphql(guard = "TwoFactorPassed")]
    async fn create_lead(
        &self,
        ctx: &Context<'_>,
        name: String,
        business_id: Option<ID>,
    ) -> Result<Lead> {
        let s = state(ctx)?;
        let l = leads::create_lead(
            s,
            may_write(ctx).await?,
            &name,
            business_id.as_ref().map(|b| b.as_str()),
            &request_meta(ctx),
        )
        .await?;
        Ok(Lead(l))
    }

    /// While impersonating, stored under the impersonator as "Support team".
    #[graphql(guard = "TwoFactorPassed")]
    async fn add_business_comment(
        &self,
        ctx: &Context<'_>,
        business_id: ID,
        text: String,
    ) -> Result<Comment> {
        let target = CommentTarget::Business(&business_id);
        Ok(Comment(
            comments::add(
                state(ctx)?,
                may_write(ctx).await?,
                target,
                &text,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// While impersonating, stored under the impersonator as "Support team".
    #[graphql(guard = "TwoFactorPassed")]
    async fn add_lead_comment(
        &self,
        ctx: &Context<'_>,
        lead_id: ID,
        text: String,
    ) -> Result<Comment> {
        let target = CommentTarget::Lead(&lead_id);
        Ok(Comment(
            comments::add(
                state(ctx)?,
                may_write(ctx).await?,
                target,
                &text,
                &request_meta(ctx),
            )
            .await?,
        ))
    }
}
