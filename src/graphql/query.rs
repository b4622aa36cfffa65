//! Queries, one object per domain, merged into the root.
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MergedObject, Object, Result};

use super::state;
use super::types::*;
use crate::entities::support_access_grant::Status;
use crate::graphql::context::caller;
use crate::graphql::guards::{AdminWithTwoFactor, SignedIn, TwoFactorPassed};
use crate::services::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageArgs, list_complexity};
use crate::services::{
    impersonation, impersonation::kill_switch, support_access, work::businesses, work::leads,
    work::teams,
};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller. Works with a token still waiting for 2FA.
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> Result<CurrentUser> {
        Ok(CurrentUser::new(caller(ctx)?.clone()))
    }
}

#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// The admins' Teams List, oldest first, optionally filtered by name (at most 100 a page).
    #[graphql(
        guard = "AdminWithTwoFactor::ADMIN",
        complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)"
    )]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<Connection<String, Team>> {
        let args = page_args(first, after)?;
        let page = teams::list_all(&state(ctx)?.db, search.as_deref(), &args).await?;
        Ok(connection(page, |t| &t.id, Team))
    }
}

#[derive(Default)]
pub struct WorkQuery;

#[Object]
impl WorkQuery {
    /// Businesses of the caller's current team, oldest first: `first` (at most 100, the
    /// default) after the cursor `after`.
    #[graphql(
        guard = "TwoFactorPassed",
        complexity = "list_complexity(first, MAX_PAGE_SIZE, child_complexity)"
    )]
    async fn businesses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<Business>> {
        let args = PageArgs::parse_or(first, after, MAX_PAGE_SIZE)?;
        let page = businesses::businesses(&state(ctx)?.db, caller(ctx)?, &args).await?;
        Ok(page.items.into_iter().map(Business).collect())
    }

    #[graphql(guard = "TwoFactorPassed")]
    async fn business(&self, ctx: &Context<'_>, id: ID) -> Result<Business> {
        Ok(Business(
            businesses::business(&state(ctx)?.db, caller(ctx)?, &id).await?,
        ))
    }

    /// Leads of the caller's current team, oldest first: `first` (at most 100, the default)
    /// after the cursor `after`.
    #[graphql(
        guard = "TwoFactorPassed",
        complexity = "list_complexity(first, MAX_PAGE_SIZE, child_complexity)"
    )]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<Lead>> {
        let args = PageArgs::parse_or(first, after, MAX_PAGE_SIZE)?;
        let page = leads::leads(&state(ctx)?.db, caller(ctx)?, &args).await?;
        Ok(page.items.into_iter().map(Lead).collect())
    }

    #[graphql(guard = "TwoFactorPassed")]
    async fn lead(&self, ctx: &Context<'_>, id: ID) -> Result<Lead> {
        Ok(Lead(leads::lead(&state(ctx)?.db, caller(ctx)?, &id).await?))
    }
}

/// Filters of `auditLogs`; all given ones must match.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    pub action: Option<String>,
    pub actor_id: Option<ID>,
    pub on_behalf_of_id: Option<ID>,
    pub team_id: Option<ID>,
    pub entity_type: Option<String>,
    pub entity_id: Option<ID>,
    pub is_impersonated: Option<bool>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, newest first (at most 100 a page). Admins see all rows; others see
    /// their current team's.
    #[graphql(
        guard = "TwoFactorPassed",
        complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)"
    )]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditLogFilter>,
    ) -> Result<Connection<String, AuditLog>> {
        let c = caller(ctx)?;
        let db = &state(ctx)?.db;
        let args = page_args(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = crate::services::history::log::Filter {
            action: f.action,
            actor_id: f.actor_id.map(|i| i.0),
            on_behalf_of_id: f.on_behalf_of_id.map(|i| i.0),
            team_id: f.team_id.map(|i| i.0),
            entity_type: f.entity_type,
            entity_id: f.entity_id.map(|i| i.0),
            is_impersonated: f.is_impersonated,
        };
        let page = crate::services::history::log::list_for(db, c, &filter, &args).await?;
        Ok(connection(page, |r| &r.row.id, AuditLog))
    }

    /// The actions `auditLogs` can be filtered by, in words: every one for admins with 2FA,
    /// those a team's own log holds for everyone else.
    #[graphql(guard = "TwoFactorPassed")]
    async fn audit_actions(&self, ctx: &Context<'_>) -> Result<Vec<AuditActionOption>> {
        Ok(crate::services::history::log::actions_for(caller(ctx)?)
            .map(|(action, label)| AuditActionOption {
                action: action.to_string(),
                label: label.to_string(),
            })
            .collect())
    }
}

/// An action of the audit log, and its words.
#[derive(async_graphql::SimpleObject)]
pub struct AuditActionOption {
    /// The code, as `AuditLog.action` and `AuditLogFilter.action` carry it.
    pub action: String,
    /// What it means, for a person.
    pub label: String,
}

#[derive(Default)]
pub struct ImpersonationQuery;

#[Object]
impl ImpersonationQuery {
    /// Impersonation sessions, newest first (at most 100 a page). Admins only.
    #[graphql(
        guard = "AdminWithTwoFactor::ADMIN",
        complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)"
    )]
    async fn impersonations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default = false)] active_only: bool,
    ) -> Result<Connection<String, Impersonation>> {
        let s = state(ctx)?;
        let args = page_args(first, after)?;
        let page = impersonation::list(&s.db, s.clock.now(), active_only, &args).await?;
        Ok(connection(page, |r| &r.id, Impersonation))
    }

    /// Webhook endpoints, oldest first. Super admins only.
    #[graphql(guard = "AdminWithTwoFactor::SUPER_ADMIN")]
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        let rows = crate::services::webhooks::list(&state(ctx)?.db).await?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }

    /// The event types an endpoint may receive.
    #[graphql(guard = "AdminWithTwoFactor::SUPER_ADMIN")]
    async fn webhook_event_types(&self) -> Vec<&'static str> {
        crate::services::webhooks::EVENT_TYPES.to_vec()
    }

    /// Four-eyes reviews, newest first (at most 100 a page), optionally of one status.
    /// Admins only.
    #[graphql(
        guard = "AdminWithTwoFactor::ADMIN",
        complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)"
    )]
    async fn impersonation_reviews(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::entities::impersonation_review::ReviewStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ImpersonationReview>> {
        let s = state(ctx)?;
        let args = page_args(first, after)?;
        let page = crate::services::review::list(&s.db, s.clock.now(), status, &args).await?;
        Ok(connection(page, |r| &r.id, ImpersonationReview))
    }

    /// Requests to unmark an account (no more four-eyes review), newest first (the latest
    /// 100), optionally of one status. Super admins only.
    #[graphql(guard = "AdminWithTwoFactor::SUPER_ADMIN")]
    async fn review_requirement_changes(
        &self,
        ctx: &Context<'_>,
        status: Option<crate::entities::impersonation_review::ReviewStatus>,
    ) -> Result<Vec<super::types::ReviewRequirementChange>> {
        let rows = crate::services::review::requirement::list(state(ctx)?, status).await?;
        Ok(rows
            .into_iter()
            .map(super::types::ReviewRequirementChange)
            .collect())
    }

    /// Support access grants of every user, newest first (at most 100 a page), optionally of
    /// one status and one user. Admins only.
    #[graphql(
        guard = "AdminWithTwoFactor::ADMIN",
        complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)"
    )]
    async fn support_access_grants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Status>,
        user_id: Option<ID>,
    ) -> Result<Connection<String, SupportAccessGrant>> {
        let s = state(ctx)?;
        let args = page_args(first, after)?;
        let user = user_id.as_ref().map(|u| u.as_str());
        let page = support_access::list(&s.db, s.clock.now(), status, user, &args).await?;
        Ok(connection(page, |r| &r.id, SupportAccessGrant))
    }

    /// How impersonation is set up: the kill switch (from the database) and this server's
    /// settings. Admins only.
    #[graphql(guard = "AdminWithTwoFactor::ADMIN")]
    async fn impersonation_settings(&self, ctx: &Context<'_>) -> Result<ImpersonationSettings> {
        let s = state(ctx)?;
        let minutes = |d: chrono::Duration| i32::try_from(d.num_minutes()).unwrap_or(i32::MAX);
        Ok(ImpersonationSettings {
            enabled: kill_switch::read(&s.db).await?.enabled,
            default_mode: s.config.impersonation_default_mode,
            ttl_minutes: minutes(s.config.impersonation_ttl),
            idle_minutes: s.config.impersonation_idle.map_or(0, minutes),
            require_ticket: s.config.require_ticket,
            start_proofs: crate::auth::step_up::names(s.config.step_up, false),
            elevate_proofs: crate::auth::step_up::names(s.config.step_up, true),
        })
    }
}

#[derive(MergedObject, Default)]
pub struct Query(
    AccountQuery,
    TeamQuery,
    WorkQuery,
    AuditQuery,
    ImpersonationQuery,
);
