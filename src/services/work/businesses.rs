//! Businesses, scoped to the caller's current team. A business of another team is
//! `NOT_FOUND`, never `FORBIDDEN`, so its existence does not leak.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::MayWrite;
use crate::db::{db_time, new_id};
use crate::entities::business;
use crate::error::{AppError, AppResult};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::pagination::{Page, PageArgs};
use crate::services::{validation, work::memberships};
use crate::state::AppState;

pub async fn create_business(
    state: &AppState,
    caller: MayWrite<'_>,
    name: &str,
    meta: &RequestMeta,
) -> AppResult<business::Model> {
    let name = validation::name("name", name, validation::MAX_NAME)?;
    let now = db_time(state.clock.now());
    let (caller, meta) = ((*caller).clone(), meta.clone());
    crate::db::write(state, move |txn| async move {
        let team_id = memberships::current_team(&txn, &caller).await?;
        let b = business::ActiveModel {
            id: Set(new_id()),
            team_id: Set(team_id.clone()),
            name: Set(name),
            created_by_id: Set(Attribution::caller(&caller).actor_id),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let entry = Entry::for_caller(action::BUSINESS_CREATED, &caller, &meta, now)
            .team(Some(&team_id))
            .entity("Business", &b.id);
        audit::record(&txn, entry).await?;
        txn.commit().await?;
        Ok(b)
    })
    .await
}

pub async fn business_in_team(
    conn: &impl ConnectionTrait,
    team_id: &str,
    id: &str,
) -> AppResult<business::Model> {
    business::Entity::find_by_id(id.to_string())
        .filter(business::Column::TeamId.eq(team_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("business"))
}

pub async fn business(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<business::Model> {
    let team_id = memberships::current_team(conn, caller).await?;
    business_in_team(conn, &team_id, id).await
}

/// A business by id without a team check: for fields of objects already scoped.
pub async fn business_by_id(
    conn: &impl ConnectionTrait,
    id: &str,
) -> AppResult<Option<business::Model>> {
    Ok(business::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?)
}

/// Businesses of the caller's current team, oldest first, a page at a time.
pub async fn businesses(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    page: &PageArgs,
) -> AppResult<Page<business::Model>> {
    let team_id = memberships::current_team(conn, caller).await?;
    let mut q = business::Entity::find()
        .filter(business::Column::TeamId.eq(team_id))
        .order_by_asc(business::Column::Id);
    if let Some(after) = &page.after {
        q = q.filter(business::Column::Id.gt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}
