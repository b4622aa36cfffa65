//! Teams.
use std::sync::Arc;

use crate::graphql::scalars::DateTime;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, Result};

use super::super::loaders::MembersLoader;
use super::{Impersonation, User, connection, load_user, page_args};
use crate::entities::team;
use crate::graphql::context::caller;
use crate::services::impersonation;
use crate::services::pagination::{DEFAULT_PAGE_SIZE, list_complexity};
use async_graphql::connection::Connection;

pub struct Team(pub team::Model);

#[Object]
impl Team {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.owner_id).await?))
    }
    /// Oldest membership first.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let loader = ctx.data::<Arc<DataLoader<MembersLoader>>>()?;
        let members = loader
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default();
        Ok(members.into_iter().map(User).collect())
    }
    /// Support sessions into any member's account, newest first (at most 100 a page): for
    /// the team's owner only, else FORBIDDEN. The owner reads each session's summary; what
    /// support did inside a member's account (`activity`, `changes`, `story`) stays the
    /// member's and the admins'.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn access_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Impersonation>> {
        let args = page_args(first, after)?;
        let db = &super::super::state(ctx)?.db;
        let page = impersonation::into_team(db, caller(ctx)?, &self.0, &args).await?;
        Ok(connection(page, |r| &r.id, Impersonation))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}
