//! Businesses, leads and their comments, scoped to the caller's current team. Objects of
//! another team are `NOT_FOUND`, never `FORBIDDEN`, so their existence does not leak.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::attribution::Attribution;
use super::audit::{self, Entry, action};
use super::pagination::{Page, PageArgs};
use super::{db_time, memberships, new_id, validation};
use crate::AppState;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::entities::{business, business_comment, lead, lead_comment};
use crate::error::{AppError, AppResult};

/// A comment on a business or a lead, in one shape.
#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: String,
    pub text: String,
    pub author_id: String,
    pub on_behalf_of_id: Option<String>,
    pub is_impersonated: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<business_comment::Model> for CommentRow {
    fn from(m: business_comment::Model) -> Self {
        CommentRow {
            id: m.id,
            text: m.text,
            author_id: m.author_id,
            on_behalf_of_id: m.on_behalf_of_id,
            is_impersonated: m.is_impersonated,
            created_at: m.created_at,
        }
    }
}

impl From<lead_comment::Model> for CommentRow {
    fn from(m: lead_comment::Model) -> Self {
        CommentRow {
            id: m.id,
            text: m.text,
            author_id: m.author_id,
            on_behalf_of_id: m.on_behalf_of_id,
            is_impersonated: m.is_impersonated,
            created_at: m.created_at,
        }
    }
}

pub async fn create_business(
    state: &AppState,
    caller: &AuthContext,
    name: &str,
    meta: &RequestMeta,
) -> AppResult<business::Model> {
    let name = validation::name("name", name, validation::MAX_NAME)?;
    let now = db_time(state.clock.now());
    let txn = super::write_txn(&state.db).await?;
    let team_id = memberships::current_team(&txn, caller).await?;
    let b = business::ActiveModel {
        id: Set(new_id()),
        team_id: Set(team_id.clone()),
        name: Set(name),
        created_by_id: Set(Attribution::caller(caller).actor_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Entry::new(action::BUSINESS_CREATED, Attribution::caller(caller), now)
            .team(Some(&team_id))
            .entity("Business", &b.id)
            .meta(meta),
    )
    .await?;
    txn.commit().await?;
    Ok(b)
}

pub async fn create_lead(
    state: &AppState,
    caller: &AuthContext,
    name: &str,
    business_id: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<lead::Model> {
    let name = validation::name("name", name, validation::MAX_NAME)?;
    let now = db_time(state.clock.now());
    let txn = super::write_txn(&state.db).await?;
    let team_id = memberships::current_team(&txn, caller).await?;
    if let Some(b) = business_id {
        business_in_team(&txn, &team_id, b).await?;
    }
    let l = lead::ActiveModel {
        id: Set(new_id()),
        team_id: Set(team_id.clone()),
        business_id: Set(business_id.map(str::to_string)),
        name: Set(name),
        created_by_id: Set(Attribution::caller(caller).actor_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Entry::new(action::LEAD_CREATED, Attribution::caller(caller), now)
            .team(Some(&team_id))
            .entity("Lead", &l.id)
            .meta(meta),
    )
    .await?;
    txn.commit().await?;
    Ok(l)
}

async fn business_in_team(
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

async fn lead_in_team(
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

pub async fn business(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<business::Model> {
    let team_id = memberships::current_team(conn, caller).await?;
    business_in_team(conn, &team_id, id).await
}

pub async fn lead(
    conn: &impl ConnectionTrait,
    caller: &AuthContext,
    id: &str,
) -> AppResult<lead::Model> {
    let team_id = memberships::current_team(conn, caller).await?;
    lead_in_team(conn, &team_id, id).await
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

/// Which comments of one business or lead to list.
pub enum CommentWindow<'a> {
    /// A page, oldest first, from a cursor (`commentsConnection`).
    Page(&'a PageArgs),
    /// The latest `n`, shown oldest first (the plain `comments` list).
    Latest(u64),
}

/// Comments on a business.
pub async fn business_comments(
    conn: &impl ConnectionTrait,
    business_id: &str,
    window: CommentWindow<'_>,
) -> AppResult<Page<CommentRow>> {
    use business_comment::Column as C;
    let q = business_comment::Entity::find().filter(C::BusinessId.eq(business_id));
    let (q, page) = match window {
        CommentWindow::Page(p) => {
            let mut q = q.order_by_asc(C::Id);
            if let Some(after) = &p.after {
                q = q.filter(C::Id.gt(after.clone()));
            }
            (q.limit(p.first + 1), Some(p))
        }
        CommentWindow::Latest(n) => (q.order_by_desc(C::Id).limit(n), None),
    };
    let rows: Vec<CommentRow> = q.all(conn).await?.into_iter().map(Into::into).collect();
    Ok(comment_page(rows, page))
}

/// Comments on a lead.
pub async fn lead_comments(
    conn: &impl ConnectionTrait,
    lead_id: &str,
    window: CommentWindow<'_>,
) -> AppResult<Page<CommentRow>> {
    use lead_comment::Column as C;
    let q = lead_comment::Entity::find().filter(C::LeadId.eq(lead_id));
    let (q, page) = match window {
        CommentWindow::Page(p) => {
            let mut q = q.order_by_asc(C::Id);
            if let Some(after) = &p.after {
                q = q.filter(C::Id.gt(after.clone()));
            }
            (q.limit(p.first + 1), Some(p))
        }
        CommentWindow::Latest(n) => (q.order_by_desc(C::Id).limit(n), None),
    };
    let rows: Vec<CommentRow> = q.all(conn).await?.into_iter().map(Into::into).collect();
    Ok(comment_page(rows, page))
}

fn comment_page(mut rows: Vec<CommentRow>, page: Option<&PageArgs>) -> Page<CommentRow> {
    match page {
        Some(p) => Page::from_rows(rows, p),
        None => {
            rows.reverse();
            Page {
                items: rows,
                has_next_page: false,
                has_previous_page: false,
            }
        }
    }
}

/// What a comment is attached to.
pub enum CommentTarget<'a> {
    Business(&'a str),
    Lead(&'a str),
}

/// Adds a comment, attributed per the caller's context: while impersonating it is stored
/// under the impersonator, on behalf of the target, flagged `is_impersonated`. The text is
/// stored exactly as written.
pub async fn add_comment(
    state: &AppState,
    caller: &AuthContext,
    target: CommentTarget<'_>,
    text: &str,
    meta: &RequestMeta,
) -> AppResult<CommentRow> {
    if text.trim().is_empty() {
        return Err(AppError::bad_input("text", "text must not be empty"));
    }
    if text.chars().count() > validation::MAX_COMMENT {
        return Err(AppError::bad_input(
            "text",
            format!(
                "text must be at most {} characters",
                validation::MAX_COMMENT
            ),
        ));
    }
    let by = Attribution::caller(caller);
    let now = db_time(state.clock.now());
    let id = new_id();
    let txn = super::write_txn(&state.db).await?;
    let team_id = memberships::current_team(&txn, caller).await?;
    let (row, entity): (CommentRow, &'static str) = match target {
        CommentTarget::Business(b) => {
            business_in_team(&txn, &team_id, b).await?;
            let m = business_comment::ActiveModel {
                id: Set(id),
                business_id: Set(b.to_string()),
                author_id: Set(by.actor_id.clone()),
                on_behalf_of_id: Set(by.on_behalf_of_id.clone()),
                text: Set(text.to_string()),
                is_impersonated: Set(by.is_impersonated),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            (m.into(), "BusinessComment")
        }
        CommentTarget::Lead(l) => {
            lead_in_team(&txn, &team_id, l).await?;
            let m = lead_comment::ActiveModel {
                id: Set(id),
                lead_id: Set(l.to_string()),
                author_id: Set(by.actor_id.clone()),
                on_behalf_of_id: Set(by.on_behalf_of_id.clone()),
                text: Set(text.to_string()),
                is_impersonated: Set(by.is_impersonated),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            (m.into(), "LeadComment")
        }
    };
    audit::record(
        &txn,
        Entry::new(action::COMMENT_CREATED, by, now)
            .team(Some(&team_id))
            .entity(entity, &row.id)
            .meta(meta),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}
