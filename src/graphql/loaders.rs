//! Per-request DataLoaders, so lists of comments or teams do not query users row by row.

/// How long a loader waits to gather keys before it queries. async-graphql's default is 1 ms,
/// which every request that loads anything (`me { currentTeam }`) pays in full; the keys of
/// a list's items are registered in one pass before the request's task yields, so no wait is
/// needed to batch them (`bench/README.md`).
pub const LOADER_DELAY: std::time::Duration = std::time::Duration::ZERO;
use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::entities::{team, team_member, user};
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

/// Members of teams, oldest membership first, in two queries for a whole page of teams.
pub struct MembersLoader(pub DatabaseConnection);

impl Loader<String> for MembersLoader {
    type Value = Vec<user::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<user::Model>>, Self::Error> {
        use sea_orm::QueryOrder;
        let memberships = team_member::Entity::find()
            .filter(team_member::Column::TeamId.is_in(keys.to_vec()))
            .order_by_asc(team_member::Column::Id)
            .all(&self.0)
            .await
            .map_err(AppError::from)?;
        let user_ids: Vec<String> = memberships.iter().map(|m| m.user_id.clone()).collect();
        let users: HashMap<String, user::Model> = user::Entity::find()
            .filter(user::Column::Id.is_in(user_ids))
            .all(&self.0)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut out: HashMap<String, Vec<user::Model>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for m in memberships {
            if let (Some(list), Some(u)) = (out.get_mut(&m.team_id), users.get(&m.user_id)) {
                list.push(u.clone());
            }
        }
        Ok(out)
    }
}

/// Whether the operation's caller may read a user's contact and standing; the rule is
/// `services::accounts::users::with_visible_contact`.
pub struct ContactLoader {
    pub db: DatabaseConnection,
    pub viewer: Option<crate::auth::context::AuthContext>,
}

impl Loader<String> for ContactLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, bool>, Self::Error> {
        let visible = crate::services::accounts::users::with_visible_contact(
            &self.db,
            self.viewer.as_ref(),
            keys,
        )
        .await?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), visible.contains(k)))
            .collect())
    }
}

/// How many changes each session made to the customer's data (`audit::changes_in_each`): one
/// statement for a whole page of sessions, however many of their fields ask.
pub struct ChangeCountLoader(pub DatabaseConnection);

impl Loader<String> for ChangeCountLoader {
    type Value = u64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, u64>, Self::Error> {
        let counts = crate::services::audit::changes_in_each(&self.0, keys).await?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), counts.get(k).copied().unwrap_or(0)))
            .collect())
    }
}
