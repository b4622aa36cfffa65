//! GraphQL object types. They wrap models; the API does not follow the column layout.
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, OutputType, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::loaders::{MembersLoader, TeamLoader, UserLoader};
use super::state;
use crate::auth::Role;
use crate::auth::context::{AuthContext, caller};
use crate::auth::guards::AdminWithTwoFactor;
use crate::auth::policy::{self, ImpersonationDenial, Impersonator, Target};
use crate::entities::{audit_log, business, impersonation, lead, team, user};
use crate::error::AppError;
use crate::services::attribution::display_name;
use crate::services::memberships;
use crate::services::pagination::{
    DEFAULT_PAGE_SIZE, Page, PageArgs, encode_cursor, list_complexity,
};
use crate::services::sessions::Session;
use crate::services::work::{self, CommentRow, CommentWindow};

pub(crate) async fn load_user(ctx: &Context<'_>, id: &str) -> Result<user::Model> {
    let loader = ctx.data::<Arc<DataLoader<UserLoader>>>()?;
    loader
        .load_one(id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound("user").into())
}

pub(crate) async fn load_team(ctx: &Context<'_>, id: &str) -> Result<Option<team::Model>> {
    let loader = ctx.data::<Arc<DataLoader<TeamLoader>>>()?;
    loader.load_one(id.to_string()).await
}

/// The team with this id, if an id is given and the team exists.
async fn maybe_team(ctx: &Context<'_>, id: Option<&str>) -> Result<Option<Team>> {
    match id {
        Some(t) => Ok(load_team(ctx, t).await?.map(Team)),
        None => Ok(None),
    }
}

/// The user with this id, if an id is given.
async fn maybe_user(ctx: &Context<'_>, id: Option<&str>) -> Result<Option<User>> {
    match id {
        Some(u) => Ok(Some(User(load_user(ctx, u).await?))),
        None => Ok(None),
    }
}

/// Turns a page of rows into a Relay connection; cursors are the rows' ids.
pub(crate) fn connection<M, N: OutputType>(
    page: Page<M>,
    id: impl Fn(&M) -> &str,
    node: impl Fn(M) -> N,
) -> Connection<String, N> {
    let mut c = Connection::new(page.has_previous_page, page.has_next_page);
    c.edges.extend(
        page.items
            .into_iter()
            .map(|m| Edge::new(encode_cursor(id(&m)), node(m))),
    );
    c
}

pub(crate) fn page_args(first: Option<i32>, after: Option<String>) -> Result<PageArgs> {
    Ok(PageArgs::parse(first, after)?)
}

/// A user account.
pub struct User(pub user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> Role {
        self.0.role
    }
    async fn impersonation_allowed(&self) -> bool {
        self.0.impersonation_allowed
    }
    async fn is_two_factor_enabled(&self) -> bool {
        self.0.totp_enabled
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Can the caller impersonate this user now, and if not, why. Admins only; the Teams List
    /// uses it to disable the Impersonate button.
    #[graphql(guard = "AdminWithTwoFactor::ADMIN")]
    async fn impersonation_check(&self, ctx: &Context<'_>) -> Result<ImpersonationCheck> {
        let c = caller(ctx)?;
        Ok(
            match policy::check(Impersonator::caller(c), Target::of(&self.0)) {
                Ok(()) => ImpersonationCheck {
                    allowed: true,
                    reason: None,
                },
                Err(r) => ImpersonationCheck {
                    allowed: false,
                    reason: Some(r),
                },
            },
        )
    }
}

/// Can the caller impersonate this user now, and if not, why.
#[derive(SimpleObject)]
pub struct ImpersonationCheck {
    pub allowed: bool,
    pub reason: Option<ImpersonationDenial>,
}

/// The caller: the user the token acts as, and who is really behind it.
pub struct CurrentUser(pub AuthContext);

#[Object]
impl CurrentUser {
    /// The effective user (the impersonated one while impersonating).
    async fn id(&self) -> ID {
        ID(self.0.user.id.clone())
    }
    async fn email(&self) -> &str {
        &self.0.user.email
    }
    async fn name(&self) -> &str {
        &self.0.user.name
    }
    async fn role(&self) -> Role {
        self.0.role
    }
    async fn impersonation_allowed(&self) -> bool {
        self.0.user.impersonation_allowed
    }
    async fn is_two_factor_enabled(&self) -> bool {
        self.0.user.totp_enabled
    }
    async fn is_two_factor_authenticated(&self) -> bool {
        self.0.two_factor_authenticated
    }
    async fn current_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        maybe_team(ctx, self.0.team_id.as_deref()).await
    }
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        Ok(memberships::teams_of(&state(ctx)?.db, &self.0.user.id)
            .await?
            .into_iter()
            .map(Team)
            .collect())
    }
    /// The admin behind this token; null unless this is an impersonation token.
    async fn impersonated_by(&self) -> Option<User> {
        self.0
            .impersonation
            .as_ref()
            .map(|i| User(i.impersonator.clone()))
    }
    /// The active impersonation session; null unless impersonating.
    async fn impersonation(&self) -> Option<Impersonation> {
        self.0
            .impersonation
            .as_ref()
            .map(|i| Impersonation(i.record.clone()))
    }
}

/// Tokens and the user they act as.
pub struct AuthPayload(pub Session);

#[Object]
impl AuthPayload {
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    /// Null for impersonation tokens and for tokens still waiting for 2FA: they cannot be
    /// refreshed.
    async fn refresh_token(&self) -> Option<&str> {
        self.0.refresh_token.as_deref()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn user(&self) -> CurrentUser {
        CurrentUser(self.0.context.clone())
    }
}

pub struct Team(pub team::Model);

#[Object]
impl Team {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.owner_id).await?))
    }
    /// Oldest membership first.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let loader = ctx.data::<Arc<DataLoader<MembersLoader>>>()?;
        let members = loader
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default();
        Ok(members.into_iter().map(User).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One impersonation session. Its code is a secret and is never exposed.
pub struct Impersonation(pub impersonation::Model);

#[Object]
impl Impersonation {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn impersonator(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.impersonator_id).await?))
    }
    async fn impersonated_user(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(load_user(ctx, &self.0.impersonated_user_id).await?))
    }
    async fn impersonator_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        maybe_team(ctx, self.0.impersonator_team_id.as_deref()).await
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// Neither ended nor expired.
    async fn active(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.0.ended_at.is_none() && self.0.expires_at > state(ctx)?.clock.now())
    }
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
        load_team(ctx, &self.0.team_id)
            .await?
            .map(Team)
            .ok_or_else(|| AppError::NotFound("team").into())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The latest `first` comments (default 20, at most 100), oldest first. See
    /// `commentsConnection` for all of them, a page at a time.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Comment>> {
        let n = PageArgs::parse(first, None)?.first;
        let page =
            work::business_comments(&state(ctx)?.db, &self.0.id, CommentWindow::Latest(n)).await?;
        Ok(page.items.into_iter().map(Comment).collect())
    }
    /// Comments, oldest first, as a connection (at most 100 per page).
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Comment>> {
        let args = page_args(first, after)?;
        let page = work::business_comments(&state(ctx)?.db, &self.0.id, CommentWindow::Page(&args))
            .await?;
        Ok(connection(page, |c| &c.id, Comment))
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
        load_team(ctx, &self.0.team_id)
            .await?
            .map(Team)
            .ok_or_else(|| AppError::NotFound("team").into())
    }
    async fn business(&self, ctx: &Context<'_>) -> Result<Option<Business>> {
        match &self.0.business_id {
            Some(b) => Ok(work::business_by_id(&state(ctx)?.db, b)
                .await?
                .map(Business)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The latest `first` comments (default 20, at most 100), oldest first. See
    /// `commentsConnection` for all of them, a page at a time.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Comment>> {
        let n = PageArgs::parse(first, None)?.first;
        let page =
            work::lead_comments(&state(ctx)?.db, &self.0.id, CommentWindow::Latest(n)).await?;
        Ok(page.items.into_iter().map(Comment).collect())
    }
    /// Comments, oldest first, as a connection (at most 100 per page).
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn comments_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Comment>> {
        let args = page_args(first, after)?;
        let page =
            work::lead_comments(&state(ctx)?.db, &self.0.id, CommentWindow::Page(&args)).await?;
        Ok(connection(page, |c| &c.id, Comment))
    }
}

pub struct Comment(pub CommentRow);

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
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct AuditLog(pub audit_log::Model);

#[Object]
impl AuditLog {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// e.g. LOGIN, TEAM_CREATED, COMMENT_CREATED, IMPERSONATION_STARTED.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Who really acted: the impersonator while impersonating.
    async fn actor(&self, ctx: &Context<'_>) -> Result<User> {
        let id = self
            .0
            .actor_id
            .as_deref()
            .ok_or(AppError::NotFound("user"))?;
        Ok(User(load_user(ctx, id).await?))
    }
    /// The actor's name, prefixed "Support team" while impersonating, as comments.
    async fn actor_name(&self, ctx: &Context<'_>) -> Result<String> {
        let id = self
            .0
            .actor_id
            .as_deref()
            .ok_or(AppError::NotFound("user"))?;
        Ok(display_name(
            &load_user(ctx, id).await?.name,
            self.0.is_impersonated,
        ))
    }
    /// The impersonated user, while impersonating.
    async fn on_behalf_of(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        maybe_user(ctx, self.0.on_behalf_of_id.as_deref()).await
    }
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        maybe_team(ctx, self.0.team_id.as_deref()).await
    }
    async fn is_impersonated(&self) -> bool {
        self.0.is_impersonated
    }
    async fn entity_type(&self) -> Option<&str> {
        self.0.entity_type.as_deref()
    }
    async fn entity_id(&self) -> Option<ID> {
        self.0.entity_id.clone().map(ID)
    }
    /// Extra facts as JSON text (never secrets). Null for everyone but 2FA admins.
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    /// The client address. Null for everyone but 2FA admins.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new TOTP secret for an authenticator app. Shown once, at enrollment.
#[derive(SimpleObject)]
pub struct TwoFactorSecret {
    /// otpauth:// URL for authenticator apps.
    pub otpauth_url: String,
    /// The same URL as a PNG QR code, as a data URL.
    pub qr_code: String,
}
