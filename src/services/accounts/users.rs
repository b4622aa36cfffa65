//! Users: looking one up, and changing one row with its `updated_at`.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::auth::context::AuthContext;
use crate::db::db_time;
use crate::entities::{team_member, user};
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

/// Of `subjects`, the users whose contact and standing (`email`, `role`, 2FA state) the
/// caller may read: themselves (and, while impersonating, the admin behind the request),
/// members of a team they share, and everyone for 2FA admins. A customer looking at the
/// support staff who entered their account, wrote a comment or asked for access sees their
/// name only.
pub async fn with_visible_contact(
    conn: &impl ConnectionTrait,
    viewer: Option<&AuthContext>,
    subjects: &[String],
) -> AppResult<std::collections::HashSet<String>> {
    use sea_orm::{QuerySelect, sea_query::Query};
    let Some(viewer) = viewer else {
        return Ok(Default::default());
    };
    if viewer.is_admin_with_two_factor() {
        return Ok(subjects.iter().cloned().collect());
    }
    let own = [viewer.user.id.as_str(), viewer.true_user().id.as_str()];
    let (mut visible, others): (std::collections::HashSet<String>, Vec<String>) = (
        subjects
            .iter()
            .filter(|s| own.contains(&s.as_str()))
            .cloned()
            .collect(),
        subjects
            .iter()
            .filter(|s| !own.contains(&s.as_str()))
            .cloned()
            .collect(),
    );
    if others.is_empty() {
        return Ok(visible);
    }
    let viewer_teams = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(viewer.user.id.clone()))
        .to_owned();
    let sharing: Vec<String> = team_member::Entity::find()
        .select_only()
        .column(team_member::Column::UserId)
        .distinct()
        .filter(team_member::Column::UserId.is_in(others))
        .filter(team_member::Column::TeamId.in_subquery(viewer_teams))
        .into_tuple()
        .all(conn)
        .await?;
    visible.extend(sharing);
    Ok(visible)
}
