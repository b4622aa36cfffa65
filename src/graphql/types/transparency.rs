//! What the customer is shown: the activity of a session and their notices.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{Impersonation, SupportAccessGrant};
use crate::entities::{impersonation_activity, notification};
use crate::services::{impersonation::ledger, support_access};

/// One GraphQL operation made with an impersonation token. Never variable values.
pub struct ImpersonationActivity(pub impersonation_activity::Model);

#[Object]
impl ImpersonationActivity {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn at(&self) -> DateTime {
        self.0.at.into()
    }
    /// query, mutation or subscription.
    async fn operation_type(&self) -> &str {
        &self.0.operation_type
    }
    /// As executed: the request's `operationName`, or the document's only operation's name;
    /// null for an anonymous operation.
    async fn operation_name(&self) -> Option<&str> {
        self.0.operation_name.as_deref()
    }
    /// The top-level fields it asked for.
    async fn fields(&self) -> Vec<String> {
        ledger::fields(&self.0)
    }
    /// OK, or the first error's `extensions.code`.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }
}

/// A notice about the caller's account.
pub struct Notification(pub notification::Model);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// IMPERSONATION_STARTED, IMPERSONATION_ENDED or SUPPORT_ACCESS_REQUESTED.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Ready to show, e.g. "Ada Admin (support) entered your account (read-only): ticket #42."
    async fn message(&self) -> &str {
        &self.0.message
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn read_at(&self) -> Option<DateTime> {
        self.0.read_at.map(DateTime)
    }
    /// The session it tells about.
    async fn impersonation(&self, ctx: &Context<'_>) -> Result<Option<Impersonation>> {
        let Some(id) = &self.0.impersonation_id else {
            return Ok(None);
        };
        let db = &state(ctx)?.db;
        Ok(crate::services::impersonation::find_by_id(db, id)
            .await?
            .map(Impersonation))
    }
    /// The grant it tells about.
    async fn grant(&self, ctx: &Context<'_>) -> Result<Option<SupportAccessGrant>> {
        let Some(id) = &self.0.grant_id else {
            return Ok(None);
        };
        let g = support_access::find(&state(ctx)?.db, id).await?;
        Ok(g.map(SupportAccessGrant))
    }
}
