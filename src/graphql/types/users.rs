//! Users, the caller, the tokens handed out, and 2FA enrolment.
use crate::graphql::scalars::DateTime;
use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::super::state;
use super::{
    Impersonation, Notification, SupportAccessGrant, Team, connection, maybe_team, page_args,
};
use crate::auth::Role;
use crate::auth::context::AuthContext;
use crate::auth::policy::{self, Ask, ImpersonationDenial, Impersonator, Target};
use crate::entities::impersonation::Mode;
use crate::entities::support_access_grant::Status;
use crate::entities::user;
use crate::graphql::context::caller;
use crate::graphql::guards::AdminWithTwoFactor;
use crate::services::accounts::sign_in::Session;
use crate::services::pagination::{DEFAULT_PAGE_SIZE, list_complexity};
use crate::services::{impersonation, notify::notices};
use crate::services::{support_access, work::memberships};
use async_graphql::connection::Connection;

/// A user account.
pub struct User(pub user::Model);

impl User {
    /// `FORBIDDEN` unless the caller may read this user's contact and standing.
    async fn contact(&self, ctx: &Context<'_>) -> Result<()> {
        use async_graphql::dataloader::DataLoader;
        use std::sync::Arc;
        let loader = ctx.data::<Arc<DataLoader<crate::graphql::loaders::ContactLoader>>>()?;
        match loader.load_one(self.0.id.clone()).await? {
            Some(true) => Ok(()),
            _ => Err(crate::error::AppError::Forbidden(
                "support staff are shown to customers by name only",
            )
            .into()),
        }
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Only to the user, members of a team they share, and 2FA admins; others (a customer
    /// looking at support staff) get `FORBIDDEN`: they see the name.
    async fn email(&self, ctx: &Context<'_>) -> Result<&str> {
        self.contact(ctx).await?;
        Ok(&self.0.email)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Visible as `email` is.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        self.contact(ctx).await?;
        Ok(self.0.role)
    }
    async fn impersonation_allowed(&self) -> bool {
        self.0.impersonation_allowed
    }
    /// Every impersonation needs this user's approval (a grant).
    async fn impersonation_requires_approval(&self) -> bool {
        self.0.impersonation_requires_approval
    }
    /// A sensitive account: a session that can change it needs a second admin's review
    /// (`setImpersonationReviewRequired`).
    async fn impersonation_review_required(&self) -> bool {
        self.0.impersonation_review_required
    }
    /// Visible as `email` is.
    async fn is_two_factor_enabled(&self, ctx: &Context<'_>) -> Result<bool> {
        self.contact(ctx).await?;
        Ok(self.0.two_factor_on())
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// Can the caller impersonate this user now (without a mode: the default, or what the
    /// grant allows), and if not, why. Admins only; the Teams List uses it to disable the
    /// Impersonate button, or to offer "Request access" on APPROVAL_REQUIRED and "Ask for
    /// review" on REVIEW_REQUIRED.
    #[graphql(guard = "AdminWithTwoFactor::ADMIN")]
    async fn impersonation_check(&self, ctx: &Context<'_>) -> Result<ImpersonationCheck> {
        let c = caller(ctx)?;
        let s = state(ctx)?;
        // Without a mode asked, a grant changes the answer only for a user who requires
        // approval, so only their rows look one up.
        let grant = match self.0.impersonation_requires_approval {
            true => {
                let now = s.clock.now();
                support_access::covering(&s.db, &c.true_user().id, &self.0.id, now).await?
            }
            false => None,
        };
        // Likewise a review, only for accounts marked for one.
        let review = match self.0.impersonation_review_required {
            true => {
                let now = s.clock.now();
                crate::services::review::usable(&s.db, &c.true_user().id, &self.0.id, now).await?
            }
            false => None,
        };
        let switch = super::kill_switch(ctx).await?;
        let check = |mode: Option<Mode>| {
            let ask = Ask {
                grant: grant.as_ref().map(|g| g.mode),
                review: review.as_ref().map(|r| r.mode),
                review_read_only: s.config.review_read_only,
                ..Ask::mode(mode, s.config.impersonation_default_mode)
            };
            policy::check(switch, Impersonator::caller(c), Target::of(&self.0), ask)
        };
        // The modes a session may take now (a read-only grant allows only READ_ONLY), so a
        // dialog offers only those.
        let modes = [Mode::ReadOnly, Mode::ReadWrite]
            .into_iter()
            .filter(|m| check(Some(*m)).is_ok())
            .collect();
        let grant_expires_at = grant.as_ref().and_then(|g| g.expires_at).map(DateTime);
        let approved_review = review.clone().map(super::ImpersonationReview);
        let reason = check(None).err();
        Ok(ImpersonationCheck {
            allowed: reason.is_none(),
            reason,
            modes,
            grant_expires_at,
            approved_review,
        })
    }
}

/// Can the caller impersonate this user now, and if not, why.
#[derive(SimpleObject)]
pub struct ImpersonationCheck {
    pub allowed: bool,
    pub reason: Option<ImpersonationDenial>,
    /// The modes a session may start in now: both, or only READ_ONLY under a read-only grant;
    /// none when refused.
    pub modes: Vec<Mode>,
    /// When the customer's approval (the grant a session would run under) ends, if one does.
    pub grant_expires_at: Option<DateTime>,
    /// The second admin's approved, unused review of the caller that a session would use,
    /// in an account marked for review: its `mode` is what was approved, its `expiresAt` the
    /// last moment to start.
    pub approved_review: Option<super::ImpersonationReview>,
}

/// The caller: the user the token acts as, and who is really behind it.
///
/// Before the second factor (2FA on and not yet passed by this token) only sign-in's own
/// fields answer: `id`, `name`, `email`, `isTwoFactorEnabled`, `isTwoFactorAuthenticated`,
/// `isTotpEnabled` and `hasPasskey`, read from `SignInStep`. Everything else about the account
/// is behind `past_two_factor()`, which is `TWO_FACTOR_REQUIRED` until then: a field added
/// later has no way to the account's data but through it.
pub struct CurrentUser {
    step: SignInStep,
    full: Option<AuthContext>,
}

/// What sign-in's second step may know of the account.
struct SignInStep {
    id: String,
    name: String,
    email: String,
    two_factor_on: bool,
    totp_on: bool,
    has_passkey: bool,
    two_factor_authenticated: bool,
}

impl CurrentUser {
    pub fn new(c: AuthContext) -> Self {
        let step = SignInStep {
            id: c.user.id.clone(),
            name: c.user.name.clone(),
            email: c.user.email.clone(),
            two_factor_on: c.user.two_factor_on(),
            totp_on: c.user.totp_enabled,
            has_passkey: c.user.has_passkey,
            two_factor_authenticated: c.two_factor_authenticated,
        };
        let full = c.two_factor_satisfied().then_some(c);
        CurrentUser { step, full }
    }

    /// The caller's whole context, once past the second factor.
    fn past_two_factor(&self) -> Result<&AuthContext> {
        self.full
            .as_ref()
            .ok_or_else(|| crate::error::AppError::TwoFactorRequired.into())
    }
}

#[Object]
impl CurrentUser {
    /// The effective user (the impersonated one while impersonating).
    async fn id(&self) -> ID {
        ID(self.step.id.clone())
    }
    async fn email(&self) -> &str {
        &self.step.email
    }
    async fn name(&self) -> &str {
        &self.step.name
    }
    async fn role(&self) -> Result<Role> {
        Ok(self.past_two_factor()?.role)
    }
    async fn impersonation_allowed(&self) -> Result<bool> {
        Ok(self.past_two_factor()?.user.impersonation_allowed)
    }
    /// A sensitive account: sessions that can change it need a second admin's review (and
    /// a read-only session in it cannot be elevated).
    async fn impersonation_review_required(&self) -> Result<bool> {
        Ok(self.past_two_factor()?.user.impersonation_review_required)
    }
    /// Every impersonation into this account needs its approval (a grant).
    async fn impersonation_requires_approval(&self) -> Result<bool> {
        Ok(self.past_two_factor()?.user.impersonation_requires_approval)
    }
    /// The impersonation sessions into this account, newest first (at most 100 a page): who
    /// entered, why, in which mode, under which grant, when, how it ended, what they did.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn access_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Impersonation>> {
        let me = self.past_two_factor()?;
        let args = page_args(first, after)?;
        let db = &state(ctx)?.db;
        let page = impersonation::into_account(db, &me.user.id, &args).await?;
        Ok(connection(page, |r| &r.id, Impersonation))
    }
    /// Notices about this account, newest first (at most 100 a page).
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE_SIZE, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
    ) -> Result<Connection<String, Notification>> {
        let me = self.past_two_factor()?;
        let unread_only = unread_only.unwrap_or(false);
        let args = page_args(first, after)?;
        let db = &state(ctx)?.db;
        let page = notices::list(db, &me.user.id, unread_only, &args).await?;
        Ok(connection(page, |r| &r.id, Notification))
    }
    /// The support access grants of this account, newest first (the latest 100), optionally
    /// of one status.
    async fn support_access_grants(
        &self,
        ctx: &Context<'_>,
        status: Option<Status>,
    ) -> Result<Vec<SupportAccessGrant>> {
        let me = self.past_two_factor()?;
        let s = state(ctx)?;
        let now = s.clock.now();
        let rows = support_access::mine(&s.db, &me.user.id, status, now).await?;
        Ok(rows.into_iter().map(SupportAccessGrant).collect())
    }
    async fn is_two_factor_enabled(&self) -> bool {
        self.step.two_factor_on
    }
    /// A TOTP authenticator app is on (one of the second factors `isTwoFactorEnabled` counts).
    async fn is_totp_enabled(&self) -> bool {
        self.step.totp_on
    }
    /// The user holds a passkey (so sign-in's second step may offer "Use a passkey").
    async fn has_passkey(&self) -> bool {
        self.step.has_passkey
    }
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, ctx: &Context<'_>) -> Result<Vec<super::Passkey>> {
        let me = self.past_two_factor()?;
        let s = state(ctx)?;
        let rows = crate::services::accounts::passkeys::list(&s.db, &me.user.id).await?;
        Ok(rows.into_iter().map(super::Passkey).collect())
    }
    async fn is_two_factor_authenticated(&self) -> bool {
        self.step.two_factor_authenticated
    }
    async fn current_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        let me = self.past_two_factor()?;
        maybe_team(ctx, me.team_id.as_deref()).await
    }
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        let me = self.past_two_factor()?;
        Ok(memberships::teams_of(&state(ctx)?.db, &me.user.id)
            .await?
            .into_iter()
            .map(Team)
            .collect())
    }
    /// The admin behind this token; null unless this is an impersonation token.
    async fn impersonated_by(&self) -> Result<Option<User>> {
        Ok(self
            .past_two_factor()?
            .impersonation
            .as_ref()
            .map(|i| User(i.impersonator.clone())))
    }
    /// The active impersonation session; null unless impersonating.
    async fn impersonation(&self) -> Result<Option<Impersonation>> {
        Ok(self
            .past_two_factor()?
            .impersonation
            .as_ref()
            .map(|i| Impersonation(i.record.clone())))
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
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
    async fn user(&self) -> CurrentUser {
        CurrentUser::new(self.0.context.clone())
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
