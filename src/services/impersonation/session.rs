//! A running session as the per-operation re-check reads it (`accounts::bearer`): the
//! session by its code, the customer it acts as, the admin behind it, the grant it runs
//! under and the kill switch, in one indexed statement.
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::auth::policy::KillSwitch;
use crate::db::select_prefixed;
use crate::entities::{impersonation, impersonation_setting, support_access_grant as grant, user};
use crate::error::AppResult;

/// Everything the re-check of one session needs.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub record: impersonation::Model,
    /// The customer the session acts as.
    pub target: user::Model,
    /// The admin behind it.
    pub impersonator: user::Model,
    /// The grant it runs under, if it has one and that still exists.
    pub grant: Option<grant::Model>,
    pub switch: KillSwitch,
}

/// The session whose code is `code`, read with its people, grant and the kill switch.
pub async fn by_code(conn: &impl ConnectionTrait, code: &str) -> AppResult<Option<SessionRow>> {
    let (i, t, a, g, s) = (
        Alias::new("i"),
        Alias::new("t"),
        Alias::new("a"),
        Alias::new("g"),
        Alias::new("s"),
    );
    let mut q = Query::select();
    select_prefixed::<impersonation::Entity>(&mut q, "i", "i_");
    select_prefixed::<user::Entity>(&mut q, "t", "t_");
    select_prefixed::<user::Entity>(&mut q, "a", "a_");
    select_prefixed::<grant::Entity>(&mut q, "g", "g_");
    q.expr_as(
        Expr::col((s.clone(), impersonation_setting::Column::Enabled)),
        Alias::new("s_enabled"),
    )
    .from_as(impersonation::Entity, i.clone())
    .join_as(
        JoinType::InnerJoin,
        user::Entity,
        t.clone(),
        Expr::col((t.clone(), user::Column::Id))
            .equals((i.clone(), impersonation::Column::ImpersonatedUserId)),
    )
    .join_as(
        JoinType::InnerJoin,
        user::Entity,
        a.clone(),
        Expr::col((a.clone(), user::Column::Id))
            .equals((i.clone(), impersonation::Column::ImpersonatorId)),
    )
    .join_as(
        JoinType::LeftJoin,
        grant::Entity,
        g.clone(),
        Expr::col((g.clone(), grant::Column::Id))
            .equals((i.clone(), impersonation::Column::GrantId)),
    )
    .join_as(
        JoinType::LeftJoin,
        impersonation_setting::Entity,
        s.clone(),
        Expr::col((s, impersonation_setting::Column::Id)).eq(super::kill_switch::GLOBAL),
    )
    .and_where(Expr::col((i, impersonation::Column::Code)).eq(code));
    let Some(row) = conn.query_one(&q).await? else {
        return Ok(None);
    };
    let enabled: Option<bool> = row.try_get("", "s_enabled")?;
    Ok(Some(SessionRow {
        record: impersonation::Model::from_query_result(&row, "i_")?,
        target: user::Model::from_query_result(&row, "t_")?,
        impersonator: user::Model::from_query_result(&row, "a_")?,
        grant: grant::Model::from_query_result_optional(&row, "g_")?,
        switch: KillSwitch {
            enabled: enabled.unwrap_or(true),
        },
    }))
}
