//! Webhook endpoints and their deliveries, for super admins.
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{connection, page_args};
use crate::entities::{webhook_delivery as delivery, webhook_endpoint as endpoint};
use crate::graphql::scalars::DateTime;
use crate::graphql::state;
use crate::services::webhooks;

/// A receiver of signed webhooks. Its secret is never read back: it is shown once, by
/// `createWebhookEndpoint` and `rotateWebhookSecret`.
pub struct WebhookEndpoint(pub endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The event types it receives.
    async fn events(&self) -> Vec<String> {
        self.0.event_types()
    }
    /// Off: nothing is queued for it. Switched off by an admin, or after failing for
    /// WEBHOOK_DISABLE_AFTER_HOURS.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn disabled_at(&self) -> Option<DateTime> {
        self.0.disabled_at.map(Into::into)
    }
    /// Its first failure since its last success, while it fails.
    async fn failing_since(&self) -> Option<DateTime> {
        self.0.failing_since.map(Into::into)
    }
    /// After a rotation: until when the previous secret also signs (two signatures).
    async fn previous_secret_valid_until(&self) -> Option<DateTime> {
        self.0.previous_secret_until.map(Into::into)
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// Its deliveries, newest first (at most 100 a page).
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        let args = page_args(first, after)?;
        let page = webhooks::deliveries(&state(ctx)?.db, &self.0.id, &args).await?;
        Ok(connection(page, |d| &d.id, WebhookDelivery))
    }
}

/// An endpoint and its signing secret (`whsec_…`), shown this once.
#[derive(SimpleObject)]
pub struct WebhookEndpointCreated {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// One event sent (or to be sent) to one endpoint.
pub struct WebhookDelivery(pub delivery::Model);

#[Object]
impl WebhookDelivery {
    /// The `webhook-id` header: the same on every retry.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// PENDING, DELIVERED or FAILED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The last answer's HTTP status, if one came.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The body, exactly as signed and sent.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(Into::into)
    }
    /// When it is tried next, while PENDING.
    async fn next_attempt_at(&self) -> Option<DateTime> {
        (self.0.status == webhooks::sender::PENDING).then(|| self.0.next_attempt_at.into())
    }
}
