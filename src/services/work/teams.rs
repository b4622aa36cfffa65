//! Teams: creating one, switching to one, and the admins' Teams List.
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::context::RequestMeta;
use crate::auth::proof::AsThemselves;
use crate::db::{db_time, new_id};
use crate::entities::{team, team_member, user};
use crate::error::{AppError, AppResult};
use crate::services::accounts::sign_in::{self, Refresh, Session};
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::pagination::{Page, PageArgs};
use crate::services::work::memberships::{self, OWNER};
use crate::services::{accounts::users, validation};
use crate::state::AppState;

/// Creates a team owned by `owner`, with its membership and audit row, on `conn`.
pub async fn create_team(
    state: &AppState,
    conn: &impl ConnectionTrait,
    owner: &user::Model,
    name: &str,
    by: Attribution,
    meta: &RequestMeta,
) -> AppResult<team::Model> {
    let name = validation::name("name", name, validation::MAX_NAME)?;
    let now = db_time(state.clock.now());
    let team = team::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        owner_id: Set(owner.id.clone()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    team_member::ActiveModel {
        id: Set(new_id()),
        team_id: Set(team.id.clone()),
        user_id: Set(owner.id.clone()),
        role: Set(OWNER.into()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    audit::record(
        conn,
        Entry::new(action::TEAM_CREATED, by, now)
            .team(Some(&team.id))
            .entity("Team", &team.id)
            .meta(meta),
    )
    .await?;
    Ok(team)
}

/// `createTeam`: a new team the caller owns. The caller stays in their current team.
pub async fn create_team_for_caller(
    state: &AppState,
    caller: AsThemselves<'_>,
    name: &str,
    meta: &RequestMeta,
) -> AppResult<team::Model> {
    let txn = crate::db::write_txn(state).await?;
    let by = Attribution::caller(&caller);
    let team = create_team(state, &txn, &caller.user, name, by, meta).await?;
    txn.commit().await?;
    Ok(team)
}

/// `switchTeam`: new tokens for another of the caller's teams. Switching to the team the
/// token already acts in is refused: it would only mint a new refresh-token family from an
/// access token (a stolen 15-minute token must not become a 30-day session that way).
pub async fn switch_team(
    state: &AppState,
    caller: AsThemselves<'_>,
    team_id: &str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    if caller.team_id.as_deref() == Some(team_id) {
        return Err(AppError::bad_input(
            "teamId",
            "you are already acting in this team",
        ));
    }
    let txn = crate::db::write_txn(state).await?;
    if !memberships::is_member(&txn, team_id, &caller.user.id).await? {
        return Err(AppError::NotFound("team"));
    }
    let now = state.clock.now();
    let user = users::update(&txn, &caller.user.id, now, |u| {
        u.current_team_id = Set(Some(team_id.to_string()));
    })
    .await?;
    let entry = Entry::for_caller(action::TEAM_SWITCHED, &caller, meta, now)
        .team(Some(team_id))
        .entity("Team", team_id);
    audit::record(&txn, entry).await?;
    let session = sign_in::issue_session(
        state,
        &txn,
        user,
        Some(team_id.to_string()),
        caller.two_factor_authenticated,
        Refresh::NewFamily,
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

/// Escapes LIKE wildcards so a search is taken literally.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The admins' Teams List: every team, by creation, optionally filtered by name.
pub async fn list_all(
    conn: &impl ConnectionTrait,
    search: Option<&str>,
    page: &PageArgs,
) -> AppResult<Page<team::Model>> {
    let mut q = team::Entity::find().order_by_asc(team::Column::Id);
    if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let s = validation::text("search", s, validation::MAX_NAME)?;
        q = q.filter(
            Expr::expr(Func::lower(Expr::col((team::Entity, team::Column::Name))))
                .like(sea_orm::sea_query::LikeExpr::new(like_pattern(&s)).escape('\\')),
        );
    }
    if let Some(after) = &page.after {
        q = q.filter(team::Column::Id.gt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}
