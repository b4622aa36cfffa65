//! Impersonation sessions.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result};

use super::super::state;
use super::{
    AuditLog, ImpersonationActivity, ImpersonationReview, StoryLine, SupportAccessGrant, Team,
    User, connection, load_user, maybe_team, page_args,
};
use crate::auth::context::AuthContext;
use crate::entities::impersonation as session;
use crate::error::AppError;
use crate::graphql::context::caller;
use crate::services::history::story;
use crate::services::pagination::Page;
use crate::services::pagination::{DEFAULT_PAGE_SIZE, list_complexity};
use crate::services::{impersonation, impersonation::ledger, support_access};
use async_graphql::connection::Connection;

/// One impersonation session. Its code is a secret and is never exposed.
pub struct Impersonation(pub session::Model);

impl Impersonation {
    /// Changes to the customer's data (`summary` and `changeCount` share one load, and a
    /// page of sessions one statement).
    async fn change_total(&self, ctx: &Context<'_>) -> Result<u64> {
        use crate::graphql::loaders::ChangeCountLoader;
        use async_graphql::dataloader::DataLoader;
        let loader = ctx.data::<std::sync::Arc<DataLoader<ChangeCountLoader>>>()?;
        Ok(loader.load_one(self.0.id.clone()).await?.unwrap_or(0))
    }

    /// Who reads this session's story: the customer, or staff (`story::Reader::of`). The
    /// customer's row comes through the batched user loader, so a page of sessions reads it
    /// in one statement, whatever fields ask.
    async fn reader(&self, ctx: &Context<'_>) -> Result<story::Reader> {
        let customer = load_user(ctx, &self.0.impersonated_user_id).await?;
        Ok(story::Reader::of(&caller(ctx)?.true_user().id, &customer))
    }

    /// The caller, if they may read this session's details.
    fn readable<'a>(&self, ctx: &'a Context<'_>) -> Result<&'a AuthContext> {
        let c = caller(ctx)?;
        if !impersonation::may_read(c, &self.0) {
            return Err(AppError::Forbidden("not your account's session").into());
        }
        Ok(c)
    }
}

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
    /// Support's team the session was started from: admins only (null for the customer).
    async fn impersonator_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        if !impersonation::may_see_support_team(caller(ctx)?) {
            return Ok(None);
        }
        maybe_team(ctx, self.0.impersonator_team_id.as_deref()).await
    }
    async fn started_at(&self) -> DateTime {
        self.0.started_at.into()
    }
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
    async fn ended_at(&self) -> Option<DateTime> {
        self.0.ended_at.map(DateTime)
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// READ_ONLY sessions are refused every mutation but `cancelImpersonation` and
    /// `elevateImpersonation`.
    async fn mode(&self) -> session::Mode {
        self.0.mode
    }
    /// Why the session ended; null while it runs.
    async fn end_reason(&self) -> Option<crate::services::impersonation::ending::EndReason> {
        self.0
            .end_reason
            .as_deref()
            .and_then(crate::services::impersonation::ending::EndReason::parse)
    }
    /// The session's last request, to within 30 seconds (the idle timeout counts from it).
    async fn last_activity_at(&self) -> DateTime {
        self.0.last_activity().into()
    }
    /// The fresh proofs elevating a session takes on this deployment (PASSKEY, TOTP), per
    /// IMPERSONATION_STEP_UP: what the banner offers.
    async fn elevate_proofs(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(crate::auth::step_up::names(
            state(ctx)?.config.step_up,
            true,
        ))
    }
    /// The customer's grant the session runs under, if any: it ends no later than the grant.
    async fn grant(&self, ctx: &Context<'_>) -> Result<Option<SupportAccessGrant>> {
        let Some(id) = &self.0.grant_id else {
            return Ok(None);
        };
        let g = support_access::find(&state(ctx)?.db, id).await?;
        Ok(g.map(SupportAccessGrant))
    }
    /// The operations made in the session, oldest first (at most 100 a page): for 2FA admins
    /// and the customer whose account it entered.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ImpersonationActivity>> {
        self.readable(ctx)?;
        let args = page_args(first, after)?;
        let db = &state(ctx)?.db;
        let page = ledger::list(db, &self.0.id, &args).await?;
        let told = story::tell(db, &self.0, page.items, &self.reader(ctx).await?).await?;
        let page = Page {
            items: told,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
        };
        Ok(connection(page, |t| &t.row.id, ImpersonationActivity))
    }
    /// The session's operations in words, oldest first, repeated views told once ("Viewed
    /// your businesses, leads and profile (4 views)"), background status reads left out, in
    /// the reader's words (the customer reads "your", staff the customer's name): at most
    /// 1,000 operations. For 2FA admins and the customer whose account it entered.
    async fn story(&self, ctx: &Context<'_>) -> Result<Vec<StoryLine>> {
        self.readable(ctx)?;
        let db = &state(ctx)?.db;
        let lines = story::story(db, &self.0, &self.reader(ctx).await?).await?;
        Ok(lines.into_iter().map(StoryLine).collect())
    }
    /// The second admin's review it was started under, in an account marked for review:
    /// for 2FA admins (null for the customer, whose history names the reviewer).
    async fn review(&self, ctx: &Context<'_>) -> Result<Option<ImpersonationReview>> {
        let Some(id) = &self.0.review_id else {
            return Ok(None);
        };
        if !caller(ctx)?.is_admin_with_two_factor() {
            return Ok(None);
        }
        let r = crate::services::review::find(&state(ctx)?.db, id).await?;
        Ok(r.map(ImpersonationReview))
    }
    /// The whole session in one line: "Ada Admin (support), read-only, then allowed to make
    /// changes at 09:11 UTC (“Fix the invoice comment”); 4 minutes; 1 change; they signed
    /// out of it". How it ended reads as in the customer's notice.
    async fn summary(&self, ctx: &Context<'_>) -> Result<String> {
        let s = state(ctx)?;
        let admin = load_user(ctx, &self.0.impersonator_id).await?;
        let changes = self.change_total(ctx).await?;
        let reviewer = match crate::services::review::reviewer_of(&s.db, &self.0).await? {
            Some(id) => Some(load_user(ctx, &id).await?),
            None => None,
        };
        let facts = story::SessionFacts {
            admin: &admin,
            reviewer: reviewer.as_ref(),
            changes,
        };
        let reader = self.reader(ctx).await?;
        Ok(story::session_summary(
            &self.0,
            facts,
            s.clock.now(),
            &reader,
        ))
    }
    /// The mode it started in (`mode` is the mode now).
    async fn initial_mode(&self) -> session::Mode {
        self.0.initial_mode()
    }
    /// When a read-only session was allowed to make changes.
    async fn elevated_at(&self) -> Option<DateTime> {
        self.0.elevated_at.map(DateTime)
    }
    /// Why it was allowed to make changes.
    async fn elevation_reason(&self) -> Option<&str> {
        self.0.elevation_reason.as_deref()
    }
    /// Changes to the customer's data only: not the session's own start, end, elevation or
    /// refusals. The same number as in the customer's notice and e-mail.
    async fn change_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(i32::try_from(self.change_total(ctx).await?).unwrap_or(i32::MAX))
    }
    /// The support ticket it was for.
    async fn ticket(&self) -> Option<&str> {
        self.0.ticket.as_deref()
    }
    /// SUPPORT_TICKET_URL with the ticket in it, when both are set.
    async fn ticket_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(ticket_url(&state(ctx)?.config, self.0.ticket.as_deref()))
    }
    /// The audit rows written in the session (its start, comments and other changes,
    /// refusals, elevation, its end), newest first (at most 100 a page). Client addresses and
    /// `details` are null for everyone but 2FA admins.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditLog>> {
        let c = self.readable(ctx)?;
        let args = page_args(first, after)?;
        let page =
            crate::services::history::log::for_session(&state(ctx)?.db, c, &self.0.id, &args)
                .await?;
        Ok(connection(page, |r| &r.row.id, AuditLog))
    }
    /// Neither ended nor expired.
    async fn active(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.0.ended_at.is_none() && self.0.expires_at > state(ctx)?.clock.now())
    }
}

/// `SUPPORT_TICKET_URL` with `ticket` in it (percent-encoded), when both are set.
pub fn ticket_url(config: &crate::config::Config, ticket: Option<&str>) -> Option<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let (url, ticket) = (config.ticket_url.as_deref()?, ticket?);
    Some(url.replace(
        "{ticket}",
        &utf8_percent_encode(ticket, NON_ALPHANUMERIC).to_string(),
    ))
}
