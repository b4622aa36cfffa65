//! Users: looking one up, and changing one row with its `updated_at`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use super::db_time;
use crate::entities::user;
use crate::error::{AppError, AppResult};

pub async fn find_user(conn: &impl ConnectionTrait, id: &str) -> AppResult<user::Model> {
    user::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))
}

pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(conn)
        .await?)
}

/// Loads user `id`, applies `change`, stamps `updated_at` and saves it: the one way a user row
/// is changed.
pub async fn update(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut user::ActiveModel),
) -> AppResult<user::Model> {
    let mut active = find_user(conn, id).await?.into_active_model();
    change(&mut active);
    active.updated_at = Set(db_time(now));
    Ok(active.update(conn).await?)
}
