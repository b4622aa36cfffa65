//! Teams and memberships; the admins' Teams List.
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::accounts::{self, Refresh, Session};
use super::audit::{self, Entry, action};
use super::pagination::{Page, PageArgs};
use super::{db_time, new_id, validation};
use crate::AppState;
use crate::auth::context::{Attribution, AuthContext, RequestMeta};
use crate::entities::{team, team_member, user};
use crate::error::{AppError, AppResult};

pub const OWNER: &str = "OWNER";
pub const MEMBER: &str = "MEMBER";

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
            .ip(meta.ip.as_deref()),
    )
    .await?;
    Ok(team)
}

/// `createTeam`: a new team the caller owns. The caller stays in their current team.
pub async fn create_team_for_caller(
    state: &AppState,
    caller: &AuthContext,
    name: &str,
    meta: &RequestMeta,
) -> AppResult<team::Model> {
    let txn = super::write_txn(&state.db).await?;
    let team = create_team(state, &txn, &caller.user, name, caller.attribution(), meta).await?;
    txn.commit().await?;
    Ok(team)
}

pub async fn is_member(
    conn: &impl ConnectionTrait,
    team_id: &str,
    user_id: &str,
) -> AppResult<bool> {
    Ok(team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .is_some())
}

/// The user's stored current team if they are still a member of it, else their first team.
pub async fn valid_current_team(
    conn: &impl ConnectionTrait,
    user: &user::Model,
) -> AppResult<Option<String>> {
    team_to_act_in(conn, user, user.current_team_id.as_deref()).await
}

/// `preferred` if the user is still a member of it, else their stored current team if still a
/// member, else their oldest team.
pub async fn team_to_act_in(
    conn: &impl ConnectionTrait,
    user: &user::Model,
    preferred: Option<&str>,
) -> AppResult<Option<String>> {
    for t in [preferred, user.current_team_id.as_deref()]
        .into_iter()
        .flatten()
    {
        if is_member(conn, t, &user.id).await? {
            return Ok(Some(t.to_string()));
        }
    }
    Ok(team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(user.id.clone()))
        .order_by_asc(team_member::Column::Id)
        .one(conn)
        .await?
        .map(|m| m.team_id))
}

/// The team the caller acts in, checked against the memberships now. Work objects are scoped
/// to it.
pub async fn current_team(conn: &impl ConnectionTrait, caller: &AuthContext) -> AppResult<String> {
    match &caller.team_id {
        Some(t) if is_member(conn, t, &caller.user.id).await? => Ok(t.clone()),
        _ => Err(AppError::Forbidden(
            "no current team: switch to one of your teams",
        )),
    }
}

/// The teams a user belongs to, oldest membership first.
pub async fn teams_of(conn: &impl ConnectionTrait, user_id: &str) -> AppResult<Vec<team::Model>> {
    let ids: Vec<String> = team_member::Entity::find()
        .filter(team_member::Column::UserId.eq(user_id))
        .order_by_asc(team_member::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.team_id)
        .collect();
    let mut teams = team::Entity::find()
        .filter(team::Column::Id.is_in(ids.clone()))
        .all(conn)
        .await?;
    teams.sort_by_key(|t| ids.iter().position(|i| *i == t.id));
    Ok(teams)
}

/// `switchTeam`: new tokens for another of the caller's teams. Switching to the team the
/// token already acts in is refused: it would only mint a new refresh-token family from an
/// access token (a stolen 15-minute token must not become a 30-day session that way).
pub async fn switch_team(
    state: &AppState,
    caller: &AuthContext,
    team_id: &str,
    meta: &RequestMeta,
) -> AppResult<Session> {
    if caller.team_id.as_deref() == Some(team_id) {
        return Err(AppError::bad_input(
            "teamId",
            "you are already acting in this team",
        ));
    }
    let txn = super::write_txn(&state.db).await?;
    if !is_member(&txn, team_id, &caller.user.id).await? {
        return Err(AppError::NotFound("team"));
    }
    let mut active = accounts::find_user(&txn, &caller.user.id)
        .await?
        .into_active_model();
    active.current_team_id = Set(Some(team_id.to_string()));
    let user = active.update(&txn).await?;
    audit::record(
        &txn,
        Entry::new(
            action::TEAM_SWITCHED,
            caller.attribution(),
            state.clock.now(),
        )
        .team(Some(team_id))
        .entity("Team", team_id)
        .ip(meta.ip.as_deref()),
    )
    .await?;
    let session = accounts::issue_session(
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
