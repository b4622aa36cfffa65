//! The caller's notices.
use async_graphql::{Context, ID, Object, Result};

use crate::graphql::context::request_meta;
use crate::graphql::guards::as_themselves;
use crate::graphql::guards::{NotImpersonating, TwoFactorPassed};
use crate::graphql::state;
use crate::services::notify::notices;

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the caller's notices read: those of `ids` (at most 100), or all when `ids` is
    /// null. Returns how many were newly marked. Never with an impersonation token: support
    /// cannot mark the customer's notices read.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 100 ids (BAD_USER_INPUT past it).")] ids: Option<Vec<ID>>,
    ) -> Result<i32> {
        let (s, c, meta) = (state(ctx)?, as_themselves(ctx).await?, request_meta(ctx));
        let ids: Option<Vec<String>> = ids.map(|v| v.into_iter().map(|i| i.0).collect());
        let n = notices::mark_read(s, c, ids.as_deref(), &meta).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}
