//! Webhook endpoints: super admins with 2FA passed, acting as themselves.
use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::graphql::context::request_meta;
use crate::graphql::guards::{AdminWithTwoFactor, NotImpersonating, super_admin};
use crate::graphql::state;
use crate::graphql::types::{WebhookDelivery, WebhookEndpoint, WebhookEndpointCreated};
use crate::services::webhooks::{self, EndpointInput};

#[derive(Default)]
pub struct WebhookMutation;

/// What `updateWebhookEndpoint` changes: the fields given.
#[derive(InputObject)]
pub struct WebhookEndpointUpdate {
    pub url: Option<String>,
    /// At most 50 event types (BAD_USER_INPUT past it).
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// On again clears its failure clock; off stops queueing for it.
    pub enabled: Option<bool>,
}

#[Object]
impl WebhookMutation {
    /// A new endpoint for the event types `events` (`impersonation.started`, …; see
    /// `webhookEventTypes`). The URL is http(s); a loopback, private or link-local address is
    /// refused unless WEBHOOK_ALLOW_PRIVATE. The signing secret is in the answer, this once.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        url: String,
        #[graphql(desc = "At most 50 event types (BAD_USER_INPUT past it).")] events: Vec<String>,
        description: Option<String>,
    ) -> Result<WebhookEndpointCreated> {
        let input = EndpointInput {
            url: Some(&url),
            events: Some(&events),
            description: description.as_deref(),
            enabled: None,
        };
        let (s, meta) = (state(ctx)?, request_meta(ctx));
        let (e, secret) = webhooks::create(s, super_admin(ctx).await?, input, &meta).await?;
        Ok(WebhookEndpointCreated {
            endpoint: WebhookEndpoint(e),
            secret,
        })
    }

    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint> {
        let change = EndpointInput {
            url: input.url.as_deref(),
            events: input.events.as_deref(),
            description: input.description.as_deref(),
            enabled: input.enabled,
        };
        let (s, meta) = (state(ctx)?, request_meta(ctx));
        let e = webhooks::update(s, super_admin(ctx).await?, &id, change, &meta).await?;
        Ok(WebhookEndpoint(e))
    }

    /// Removes the endpoint and its deliveries, pending ones included.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, meta) = (state(ctx)?, request_meta(ctx));
        webhooks::delete(s, super_admin(ctx).await?, &id, &meta).await?;
        Ok(true)
    }

    /// A new signing secret, in the answer this once. The previous one also signs for 24
    /// hours (two signatures in `webhook-signature`), so receivers can switch without loss.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookEndpointCreated> {
        let (s, meta) = (state(ctx)?, request_meta(ctx));
        let (e, secret) = webhooks::rotate(s, super_admin(ctx).await?, &id, &meta).await?;
        Ok(WebhookEndpointCreated {
            endpoint: WebhookEndpoint(e),
            secret,
        })
    }

    /// Queues a `webhook.test` delivery to this endpoint alone.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn send_test_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        let s = state(ctx)?;
        Ok(WebhookDelivery(
            webhooks::send_test(s, super_admin(ctx).await?, &id).await?,
        ))
    }
}
