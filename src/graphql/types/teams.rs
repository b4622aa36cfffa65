//! Teams.
use std::sync::Arc;

use crate::graphql::scalars::DateTime;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, Result};

use super::super::loaders::MembersLoader;
use super::{User, load_user};
use crate::entities::team;

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
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}
