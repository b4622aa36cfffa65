//! Audit rows.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::{Team, User, load_user, maybe_team, maybe_user};
use crate::error::AppError;
use crate::services::audit::attribution::display_name;
use crate::services::history::words::Described;

/// An audit row with its sentence (`services::history::words`).
pub struct AuditLog(pub Described);

#[Object]
impl AuditLog {
    async fn id(&self) -> ID {
        ID(self.0.row.id.clone())
    }
    /// e.g. LOGIN, TEAM_CREATED, COMMENT_CREATED, IMPERSONATION_STARTED.
    async fn action(&self) -> &str {
        &self.0.row.action
    }
    /// The row as a sentence for people, e.g. "Added a comment on the lead “Spring order”":
    /// no codes or ids; records named only within the row's own team.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Who really acted: the impersonator while impersonating.
    async fn actor(&self, ctx: &Context<'_>) -> Result<User> {
        let id = self
            .0
            .row
            .actor_id
            .as_deref()
            .ok_or(AppError::NotFound("user"))?;
        Ok(User(load_user(ctx, id).await?))
    }
    /// The actor's name, prefixed "Support team" while impersonating, as comments.
    async fn actor_name(&self, ctx: &Context<'_>) -> Result<String> {
        let id = self
            .0
            .row
            .actor_id
            .as_deref()
            .ok_or(AppError::NotFound("user"))?;
        Ok(display_name(
            &load_user(ctx, id).await?.name,
            self.0.row.is_impersonated,
        ))
    }
    /// The impersonated user, while impersonating.
    async fn on_behalf_of(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.row.on_behalf_of_id.as_deref()).await
    }
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        maybe_team(ctx, self.0.row.team_id.as_deref()).await
    }
    async fn is_impersonated(&self) -> bool {
        self.0.row.is_impersonated
    }
    async fn entity_type(&self) -> Option<&str> {
        self.0.row.entity_type.as_deref()
    }
    async fn entity_id(&self) -> Option<ID> {
        self.0.row.entity_id.clone().map(ID)
    }
    /// Extra facts as JSON text (never secrets). Null for everyone but 2FA admins.
    async fn details(&self) -> Option<&str> {
        self.0.row.details.as_deref()
    }
    /// The client address. Null for everyone but 2FA admins.
    async fn ip_address(&self) -> Option<&str> {
        self.0.row.ip_address.as_deref()
    }
    async fn created_at(&self) -> DateTime {
        self.0.row.created_at.into()
    }
}
