//! Leads, scoped to the caller's current team, optionally of one of its businesses. A lead of
//! another team is `NOT_FOUND`, never `FORBIDDEN`, so its existence does not leak.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::MayWrite;
use crate::db::{db_time, new_id};
use crate::entities::lead;
use crate::error::{AppError, AppResult};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::pagination::{Page, PageArgs};
use crate::services::work::businesses::business_in_team;
use crate::services::{validation, work::memberships};
use crate::state::AppState;

pub async fn create_lead(
    state: &AppState,
    caller: MayWrite<'_>,
    name: &str,
    business_id: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<lead::Model> {
    let name = validation::name("name", name, validation::MAX_NAME)?;
    let now = db_time(state.clock.now());
    let (caller, meta) = ((*caller).clone(), meta.clone());
    let business_id = business_id.map(str::to_string);
    crate::db::write(state, move |txn| async move {
        let team_id = memberships::current_team(&txn, &caller).await?;
        if let Some(b) = &business_id {
            business_in_team(&txn, &team_id, b).await?;
        }
        let l = lead::ActiveModel {
            id: Set(new_id()),
            team_id: Set(team_id.clone()),
            business_id: Set(business_id),
            name: Set(name),
            created_by_id: Set(Attribution::caller(&caller).actor_id),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let entry = Entry::for_caller(action::LEAD_CREATED, &caller, &meta, now)
            .team(Some(&team_id))
            .entity("Lead", &l.id);
        audit::record(&txn, entry).await?;
        txn.commit().await?;
        Ok(l)
    })
    .await
}

pub async fn lead_in_team(
    conn: &impl ConnectionTrait,
    team_id: &str,
    id: &str,
) -> AppResult<lead::Model> {
    lead::Entity::find_by_id(id.to_string())
        .filter(lead::Column::TeamId.eq(team_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("lead"))
}

pub async fn lead(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<lead::Model> {
    let team_id = memberships::current_team(conn, caller).await?;
    lead_in_team(conn, &team_id, id).await
}

/// Leads of the caller's current team, oldest first, a page at a time.
pub async fn leads(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    page: &PageArgs,
) -> AppResult<Page<lead::Model>> {
    let team_id = memberships::current_team(conn, caller).await?;
    let mut q = lead::Entity::find()
        .filter(lead::Column::TeamId.eq(team_id))
        .order_by_asc(lead::Column::Id);
    if let Some(after) = &page.after {
        q = q.filter(lead::Column::Id.gt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}
