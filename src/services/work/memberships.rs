//! Team memberships: who belongs to which team, and which team a user acts in. The queries
//! sessions, teams, work objects and audit views all need; this module needs none of them.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait};

use crate::auth::AuthContext;
use crate::entities::{team, team_member, user};
use crate::error::{AppError, AppResult};

/// The membership role of a team's owner (the only one the API creates so far).
pub const OWNER: &str = "OWNER";

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

/// The teams a user belongs to, oldest membership first (one statement: the teams joined to
/// the user's memberships).
pub async fn teams_of(conn: &impl ConnectionTrait, user_id: &str) -> AppResult<Vec<team::Model>> {
    let mut q = team::Entity::find();
    QueryTrait::query(&mut q).inner_join(
        team_member::Entity,
        Expr::col((team_member::Entity, team_member::Column::TeamId))
            .equals((team::Entity, team::Column::Id)),
    );
    Ok(q.filter(team_member::Column::UserId.eq(user_id))
        .order_by_asc(team_member::Column::Id)
        .all(conn)
        .await?)
}
