//! Per-request DataLoaders, so lists of comments or teams do not query users row by row.
use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::entities::{team, user};
use crate::error::AppError;

pub struct UserLoader(pub DatabaseConnection);

impl Loader<String> for UserLoader {
    type Value = user::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, user::Model>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|u| (u.id.clone(), u)).collect())
    }
}

pub struct TeamLoader(pub DatabaseConnection);

impl Loader<String> for TeamLoader {
    type Value = team::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, team::Model>, Self::Error> {
        let rows = team::Entity::find()
            .filter(team::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|t| (t.id.clone(), t)).collect())
    }
}
