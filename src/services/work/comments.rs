//! Comments on businesses and leads: one concept, one table, one path. The contract's two
//! mutations (`addBusinessComment`, `addLeadComment`) and two list fields share it.
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::context::RequestMeta;
use crate::auth::proof::MayWrite;
use crate::db::{db_time, new_id};
use crate::entities::comment::{self, Column as C};
use crate::error::AppResult;
use crate::services::audit::attribution::Attribution;
use crate::services::audit::{self, Entry, action};
use crate::services::pagination::{Page, PageArgs};
use crate::services::{validation, work::businesses, work::leads, work::memberships};
use crate::state::AppState;

/// What a comment is on.
#[derive(Debug, Clone, Copy)]
pub enum CommentTarget<'a> {
    Business(&'a str),
    Lead(&'a str),
}

impl CommentTarget<'_> {
    /// The comments on this target.
    fn condition(self) -> sea_orm::Condition {
        match self {
            CommentTarget::Business(id) => C::BusinessId.eq(id).into_condition(),
            CommentTarget::Lead(id) => C::LeadId.eq(id).into_condition(),
        }
    }

    /// The audit rows' entity type (kept from when the two lived in two tables).
    fn entity_type(self) -> &'static str {
        match self {
            CommentTarget::Business(_) => "BusinessComment",
            CommentTarget::Lead(_) => "LeadComment",
        }
    }

    /// `NOT_FOUND` unless the target is in `team_id`.
    async fn ensure_in_team(self, conn: &impl ConnectionTrait, team_id: &str) -> AppResult<()> {
        match self {
            CommentTarget::Business(id) => businesses::business_in_team(conn, team_id, id)
                .await
                .map(drop),
            CommentTarget::Lead(id) => leads::lead_in_team(conn, team_id, id).await.map(drop),
        }
    }
}

/// Which comments of one target to list.
pub enum CommentWindow<'a> {
    /// A page, oldest first, from a cursor (`commentsConnection`).
    Page(&'a PageArgs),
    /// The latest `n`, shown oldest first (the plain `comments` list).
    Latest(u64),
}

/// Lists comments on `target`.
pub async fn list(
    conn: &impl ConnectionTrait,
    target: CommentTarget<'_>,
    window: CommentWindow<'_>,
) -> AppResult<Page<comment::Model>> {
    let q = comment::Entity::find().filter(target.condition());
    match window {
        CommentWindow::Page(p) => {
            let mut q = q.order_by_asc(C::Id);
            if let Some(after) = &p.after {
                q = q.filter(C::Id.gt(after.clone()));
            }
            let rows = q.limit(p.first + 1).all(conn).await?;
            Ok(Page::from_rows(rows, p))
        }
        CommentWindow::Latest(n) => {
            let mut rows = q.order_by_desc(C::Id).limit(n).all(conn).await?;
            rows.reverse();
            Ok(Page {
                items: rows,
                has_next_page: false,
                has_previous_page: false,
            })
        }
    }
}

/// Adds a comment, attributed per the caller's context: while impersonating it is stored
/// under the impersonator, on behalf of the target, flagged `is_impersonated`. The text is
/// stored exactly as written.
pub async fn add(
    state: &AppState,
    caller: MayWrite<'_>,
    target: CommentTarget<'_>,
    text: &str,
    meta: &RequestMeta,
) -> AppResult<comment::Model> {
    let text = validation::comment("text", text)?.to_string();
    let by = Attribution::caller(&caller);
    let now = db_time(state.clock.now());
    // The whole write is one unit of work (on SQLite it runs on the writer thread): it owns
    // what it needs.
    let caller = (*caller).clone();
    // The target, owned: its kind and its id.
    type Kind = fn(&str) -> CommentTarget<'_>;
    let (kind, id): (Kind, String) = match target {
        CommentTarget::Business(id) => (|id| CommentTarget::Business(id), id.to_string()),
        CommentTarget::Lead(id) => (|id| CommentTarget::Lead(id), id.to_string()),
    };
    let meta = meta.clone();
    crate::db::write(state, move |txn| async move {
        let team_id = memberships::current_team(&txn, &caller).await?;
        let target = kind(&id);
        target.ensure_in_team(&txn, &team_id).await?;
        let (business_id, lead_id) = match target {
            CommentTarget::Business(id) => (Some(id.to_string()), None),
            CommentTarget::Lead(id) => (None, Some(id.to_string())),
        };
        let row = comment::ActiveModel {
            id: Set(new_id()),
            business_id: Set(business_id),
            lead_id: Set(lead_id),
            author_id: Set(by.actor_id.clone()),
            on_behalf_of_id: Set(by.on_behalf_of_id.clone()),
            text: Set(text),
            is_impersonated: Set(by.is_impersonated),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let entry = Entry::new(action::COMMENT_CREATED, by, now)
            .team(Some(&team_id))
            .entity(target.entity_type(), &row.id)
            .meta(&meta);
        audit::record(&txn, entry).await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}
