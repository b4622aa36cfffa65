//! The audit log's read side: which rows a reader may list (every row for an admin with 2FA,
//! their current team's for everyone else, one session's for its readers), filtered, paged,
//! each with its sentence, and trimmed of what the reader may not see of support staff.
use sea_orm::ConnectionTrait;

use super::words;
use crate::auth::AuthContext;
use crate::entities::audit_log;
use crate::error::AppResult;

/// Filters of `auditLogs`.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub on_behalf_of_id: Option<String>,
    pub team_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub is_impersonated: Option<bool>,
}

/// The audit rows `caller` may see, as they may see them. 2FA admins see every row in full.
/// Everyone else (an admin without 2FA included) sees their current team's rows (while
/// impersonating, the customer's view), without the client addresses and `details`, which
/// tell about support staff (their address, email, role, 2FA state).
/// Whether `caller` reads the whole log, in full (every row, addresses and details): admins
/// with 2FA. The one rule for the listing, what its rows show, and which actions the log's
/// filter offers.
pub fn sees_everything(caller: &AuthContext) -> bool {
    caller.is_admin_with_two_factor()
}

/// The actions `caller` may filter the log by, with their words: all of them for those who
/// see everything; the ones a team's own log holds for everyone else.
pub fn actions_for(caller: &AuthContext) -> impl Iterator<Item = (&'static str, &'static str)> {
    crate::services::audit::action::for_reader(sees_everything(caller))
}

pub async fn list_for(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    filter: &Filter,
    page: &crate::services::pagination::PageArgs,
) -> AppResult<crate::services::pagination::Page<words::Described>> {
    let team = match sees_everything(caller) {
        true => None,
        false => Some(crate::services::work::memberships::current_team(conn, caller).await?),
    };
    let scope = team.as_deref().map_or(Scope::All, Scope::Team);
    described(conn, caller, list_scoped(conn, scope, filter, page).await?).await
}

/// The audit rows written in one impersonation session (its start, its changes, refusals,
/// elevation, its end), newest first, as `caller` may see them. Whether the caller may read
/// the session at all is `impersonation::may_read`'s to decide, before this.
pub async fn for_session(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    impersonation_id: &str,
    page: &crate::services::pagination::PageArgs,
) -> AppResult<crate::services::pagination::Page<words::Described>> {
    let scope = Scope::Session(impersonation_id);
    let page = list_scoped(conn, scope, &Filter::default(), page).await?;
    described(conn, caller, page).await
}

/// The rows with their sentences (made from the whole row), then as `caller` may see them:
/// everyone but a 2FA admin without client addresses and `details`, which tell about support
/// staff (their address, email, role, 2FA state).
async fn described(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    page: crate::services::pagination::Page<audit_log::Model>,
) -> AppResult<crate::services::pagination::Page<words::Described>> {
    let mut items = words::describe(conn, page.items).await?;
    if !sees_everything(caller) {
        for d in &mut items {
            d.row.ip_address = None;
            d.row.details = None;
        }
    }
    Ok(crate::services::pagination::Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// Which rows a listing may return.
#[derive(Clone, Copy)]
enum Scope<'a> {
    All,
    Team(&'a str),
    Session(&'a str),
}

/// Audit rows with an actor in `scope`, newest first.
async fn list_scoped(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    filter: &Filter,
    page: &crate::services::pagination::PageArgs,
) -> AppResult<crate::services::pagination::Page<audit_log::Model>> {
    use audit_log::Column as C;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    // Rows without an actor (a failed login for an unknown email) stay in the table for
    // operators; the API's `actor` is non-null, so they are not listed here.
    let mut q = audit_log::Entity::find()
        .filter(C::ActorId.is_not_null())
        .order_by_desc(C::Id);
    q = match scope {
        Scope::All => q,
        Scope::Team(t) => q.filter(C::TeamId.eq(t)),
        Scope::Session(i) => q.filter(C::ImpersonationId.eq(i)),
    };
    if let Some(v) = &filter.action {
        q = q.filter(C::Action.eq(v.clone()));
    }
    if let Some(v) = &filter.actor_id {
        q = q.filter(C::ActorId.eq(v.clone()));
    }
    if let Some(v) = &filter.on_behalf_of_id {
        q = q.filter(C::OnBehalfOfId.eq(v.clone()));
    }
    if let Some(v) = &filter.team_id {
        q = q.filter(C::TeamId.eq(v.clone()));
    }
    if let Some(v) = &filter.entity_type {
        q = q.filter(C::EntityType.eq(v.clone()));
    }
    if let Some(v) = &filter.entity_id {
        q = q.filter(C::EntityId.eq(v.clone()));
    }
    if let Some(v) = filter.is_impersonated {
        q = q.filter(C::IsImpersonated.eq(v));
    }
    if let Some(after) = &page.after {
        q = q.filter(C::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(crate::services::pagination::Page::from_rows(rows, page))
}
