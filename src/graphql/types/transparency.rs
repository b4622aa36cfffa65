//! What the customer is shown: the activity of a session and their notices.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{Impersonation, SupportAccessGrant};
use crate::entities::notification;
use crate::services::history::story;
use crate::services::{impersonation::ledger, support_access};

/// One GraphQL operation made with an impersonation token, and its sentence. Never variable
/// values.
pub struct ImpersonationActivity(pub story::Told);

#[Object]
impl ImpersonationActivity {
    async fn id(&self) -> ID {
        ID(self.0.row.id.clone())
    }
    async fn at(&self) -> DateTime {
        self.0.row.at.into()
    }
    /// query, mutation or subscription.
    async fn operation_type(&self) -> &str {
        &self.0.row.operation_type
    }
    /// As executed: the request's `operationName`, or the document's only operation's name;
    /// null for an anonymous operation.
    async fn operation_name(&self) -> Option<&str> {
        self.0.row.operation_name.as_deref()
    }
    /// The top-level fields it asked for.
    async fn fields(&self) -> Vec<String> {
        ledger::fields(&self.0.row)
    }
    /// OK, or the first error's `extensions.code`.
    async fn outcome(&self) -> &str {
        &self.0.row.outcome
    }
    /// The operation in words for the customer: "Viewed your businesses and leads", "Added a
    /// comment on the lead “Spring order”", "Tried to change your name: refused, the session
    /// was read-only". No GraphQL words, codes or ids; records named only when they belong
    /// to one of the account's teams.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
}

/// A line of a session's story: one operation, or a run of views told once.
pub struct StoryLine(pub story::Line);

#[Object]
impl StoryLine {
    async fn from(&self) -> DateTime {
        self.0.from.into()
    }
    async fn to(&self) -> DateTime {
        self.0.to.into()
    }
    /// How many operations it tells.
    async fn count(&self) -> i32 {
        i32::try_from(self.0.count).unwrap_or(i32::MAX)
    }
    async fn summary(&self) -> &str {
        &self.0.summary
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
