//! Businesses, leads and their comments.
use crate::graphql::scalars::DateTime;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{Team, User, connection, load_team, load_user, maybe_user, page_args};
use crate::entities::{business, comment, lead};
use crate::error::AppError;
use crate::services::audit::attribution::display_name;
use crate::services::pagination::{DEFAULT_PAGE_SIZE, PageArgs, list_complexity};
use crate::services::work::businesses;
use crate::services::work::comments::{self, CommentTarget, CommentWindow};

/// The team a record belongs to.
async fn team_of(ctx: &Context<'_>, team_id: &str) -> Result<Team> {
    load_team(ctx, team_id)
        .await?
        .map(Team)
        .ok_or_else(|| AppError::NotFound("team").into())
}

/// The plain `comments` list of a business or lead: the latest `first`, oldest first.
async fn latest_comments(
    ctx: &Context<'_>,
    target: CommentTarget<'_>,
    first: Option<i32>,
) -> Result<Vec<Comment>> {
    let n = PageArgs::parse(first, None)?.first;
    let page = comments::list(&state(ctx)?.db, target, CommentWindow::Latest(n)).await?;
    Ok(page.items.into_iter().map(Comment).collect())
}

/// `commentsConnection` of a business or lead.
async fn comment_page(
    ctx: &Context<'_>,
    target: CommentTarget<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, Comment>> {
    let args = page_args(first, after)?;
    let page = comments::list(&state(ctx)?.db, target, CommentWindow::Page(&args)).await?;
    Ok(connection(page, |c| &c.id, Comment))
}

pub struct Business(pub business::Model);

#[Object]
impl Business {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        team_of(ctx, &self.0.team_id).await
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// The latest `first` comments (default 20, at most 100), oldest first. See
    /// `commentsConnection` for all of them, a page at a time.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Comment>> {
        latest_comments(ctx, CommentTarget::Business(&self.0.id), first).await
    }
    /// Comments, oldest first, as a connection (at most 100 per page).
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Comment>> {
        comment_page(ctx, CommentTarget::Business(&self.0.id), first, after).await
    }
}

pub struct Lead(pub lead::Model);

#[Object]
impl Lead {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        team_of(ctx, &self.0.team_id).await
    }
    async fn business(&self, ctx: &Context<'_>) -> Result<Option<Business>> {
        match &self.0.business_id {
            Some(b) => Ok(businesses::business_by_id(&state(ctx)?.db, b)
                .await?
                .map(Business)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// The latest `first` comments (default 20, at most 100), oldest first. See
    /// `commentsConnection` for all of them, a page at a time.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Comment>> {
        latest_comments(ctx, CommentTarget::Lead(&self.0.id), first).await
    }
    /// Comments, oldest first, as a connection (at most 100 per page).
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Comment>> {
        comment_page(ctx, CommentTarget::Lead(&self.0.id), first, after).await
    }
}

pub struct Comment(pub comment::Model);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Exactly what was written.
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// Who wrote it: the impersonator when written while impersonating.
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.author_id).await?))
    }
    /// The author's name, as "Support team (name)" when written while impersonating.
    async fn author_name(&self, ctx: &Context<'_>) -> Result<String> {
        let author = load_user(ctx, &self.0.author_id).await?;
        Ok(display_name(&author.name, self.0.is_impersonated))
    }
    /// The impersonated user, when written while impersonating.
    async fn on_behalf_of(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.on_behalf_of_id.as_deref()).await
    }
    async fn is_impersonated(&self) -> bool {
        self.0.is_impersonated
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}
