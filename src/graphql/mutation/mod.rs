//! Mutations, one object per domain, merged into the root. Resolvers read the context, call
//! a service and convert; the rules live in guards, the policy and the services.
use async_graphql::{Context, ID, InputObject, MergedObject, Object, Result};

use super::state;
use super::types::*;
use crate::auth::Role;
use crate::entities::impersonation::Mode;
use crate::graphql::context::{caller, request_meta};
use crate::graphql::guards::{
    AdminWithTwoFactor, NotImpersonating, SignedIn, TrueUserAdmin, TwoFactorPassed,
};
use crate::graphql::guards::{
    admin_with_two_factor, as_themselves, may_write, staff_behind, super_admin,
};
use crate::services::accounts::passkeys::{self, Purpose};
use crate::services::accounts::profile::{self, ProfileInput};
use crate::services::accounts::signup::{self, NewAccount};
use crate::services::work::comments::{self, CommentTarget};
use crate::services::{accounts::sign_in, accounts::step_up, accounts::two_factor};
use crate::services::{
    impersonation, impersonation::kill_switch, work::businesses, work::leads, work::teams,
};

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub name: Option<String>,
    pub impersonation_allowed: Option<bool>,
    pub impersonation_requires_approval: Option<bool>,
}

impl UpdateProfileInput {
    /// Whether the input changes how support may enter the account.
    fn touches_consent(&self) -> bool {
        self.impersonation_allowed.is_some() || self.impersonation_requires_approval.is_some()
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates the user and a team it owns.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let input = NewAccount {
            email: input.email,
            password: input.password,
            name: input.name,
        };
        Ok(AuthPayload(
            signup::register(state(ctx)?, input, &request_meta(ctx)).await?,
        ))
    }

    /// For a user with 2FA on, the token is good only for `authenticateTwoFactor` and `me`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        Ok(AuthPayload(
            sign_in::login(state(ctx)?, &email, &password, &request_meta(ctx)).await?,
        ))
    }

    /// Rotates: the old refresh token is refused from now on.
    #[graphql(guard = "NotImpersonating::ALWAYS")]
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        Ok(AuthPayload(
            sign_in::refresh(state(ctx)?, &refresh_token, &request_meta(ctx)).await?,
        ))
    }

    /// Signs this device out: the refresh token and every token rotated from it stop working
    /// (the user's other sign-ins go on). Always `true`, whether or not the token was known
    /// (RFC 7009). The access token runs out at its expiry.
    #[graphql(guard = "NotImpersonating::ALWAYS")]
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        sign_in::logout(state(ctx)?, &refresh_token, &request_meta(ctx)).await?;
        Ok(true)
    }

    /// The Profile Settings page. Changing `impersonationAllowed` or
    /// `impersonationRequiresApproval` is refused while impersonating: it is the target's own
    /// consent.
    #[graphql(guard = "NotImpersonating::when(input.touches_consent()).and(TwoFactorPassed)")]
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let input = ProfileInput {
            name: input.name,
            impersonation_allowed: input.impersonation_allowed,
            impersonation_requires_approval: input.impersonation_requires_approval,
        };
        Ok(User(
            profile::update_profile(
                state(ctx)?,
                may_write(ctx).await?,
                input,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        profile::change_password(
            state(ctx)?,
            as_themselves(ctx).await?,
            &current_password,
            &new_password,
            &request_meta(ctx),
        )
        .await?;
        Ok(true)
    }

    /// Starts 2FA enrollment. The secret is shown here once.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn generate_two_factor_secret(&self, ctx: &Context<'_>) -> Result<TwoFactorSecret> {
        let e = two_factor::generate_two_factor_secret(
            state(ctx)?,
            as_themselves(ctx).await?,
            &request_meta(ctx),
        )
        .await?;
        Ok(TwoFactorSecret {
            otpauth_url: e.otpauth_url,
            qr_code: e.qr_code_data_url,
        })
    }

    /// Turns 2FA on with a code from the new authenticator and the current password (a
    /// stolen access token alone must not enrol the thief's authenticator). An account that
    /// already holds a passkey also gives `proof`: a fresh assertion of that passkey
    /// (STEP_UP_REQUIRED without it).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn turn_on_two_factor(
        &self,
        ctx: &Context<'_>,
        code: String,
        password: String,
        proof: Option<StepUp>,
    ) -> Result<AuthPayload> {
        Ok(AuthPayload(
            step_up::turn_on_totp(
                state(ctx)?,
                as_themselves(ctx).await?,
                &code,
                &password,
                StepUp::proof(proof.as_ref(), None),
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// Completes sign-in for a user with 2FA on.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(SignedIn)")]
    async fn authenticate_two_factor(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<AuthPayload> {
        Ok(AuthPayload(
            two_factor::authenticate_two_factor(
                state(ctx)?,
                as_themselves(ctx).await?,
                &code,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn turn_off_two_factor(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        two_factor::turn_off_two_factor(
            state(ctx)?,
            as_themselves(ctx).await?,
            &code,
            &request_meta(ctx),
        )
        .await?;
        Ok(true)
    }

    /// A challenge to add a passkey (signed in as oneself, 2FA passed if on).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn start_passkey_registration(&self, ctx: &Context<'_>) -> Result<PasskeyChallenge> {
        let meta = request_meta(ctx);
        let c = passkeys::start_registration(state(ctx)?, as_themselves(ctx).await?, None, &meta)
            .await?;
        Ok(c.into())
    }

    /// `startPasskeyRegistration`, with the current password checked first (as
    /// `finishPasskeyRegistration` checks it): a wrong one is refused before the device
    /// creates a passkey that the server would never keep.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn start_passkey_registration_with_password(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> Result<PasskeyChallenge> {
        let meta = request_meta(ctx);
        let c = passkeys::start_registration(
            state(ctx)?,
            as_themselves(ctx).await?,
            Some(&password),
            &meta,
        )
        .await?;
        Ok(c.into())
    }

    /// Keeps the passkey the browser created for the challenge, named `name`, with the
    /// current password. A user with a passkey has 2FA on; if it is their first second
    /// factor, their other sign-ins end (sign in again with the passkey). An account that
    /// already has a second factor also gives `proof`, fresh from that factor: a passkey
    /// assertion (`startPasskeyAuthentication(purpose: ADD_FACTOR)`) when it has a passkey,
    /// else a TOTP code other than the one that signed this session in (STEP_UP_REQUIRED,
    /// with `extensions.methods`, without it). Under `IMPERSONATION_STEP_UP=passkey` a staff
    /// account's first passkey needs a fresh TOTP code too, and the other super admins are
    /// told. Every factor change is told to the user, in the app and by e-mail.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        name: String,
        password: String,
        response: PasskeyResponse,
        proof: Option<StepUp>,
    ) -> Result<Passkey> {
        let row = step_up::add_passkey(
            state(ctx)?,
            as_themselves(ctx).await?,
            &name,
            &password,
            response.answer(),
            StepUp::proof(proof.as_ref(), None),
            &request_meta(ctx),
        )
        .await?;
        Ok(Passkey(row))
    }

    /// Removes one of the caller's passkeys, with the current password. Removing the last
    /// second factor turns 2FA off, as `turnOffTwoFactor` does.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn delete_passkey(&self, ctx: &Context<'_>, id: ID, password: String) -> Result<bool> {
        let (s, meta) = (state(ctx)?, request_meta(ctx));
        passkeys::delete(s, as_themselves(ctx).await?, &id, &password, &meta).await?;
        Ok(true)
    }

    /// A challenge for the caller's passkeys: the second step of sign-in
    /// (`authenticateWithPasskey`), or a step-up for an operation. `purpose` binds the
    /// challenge to one kind of operation; without it, the answer proves any one operation.
    /// In an impersonation session, the challenge is the admin's own (for
    /// `elevateImpersonation`). `targetId` binds a step-up to one customer: the answer then
    /// proves an operation on that customer only (`impersonate` them, elevate a session in
    /// their account, approve a review of a session into it).
    #[graphql(guard = "SignedIn")]
    async fn start_passkey_authentication(
        &self,
        ctx: &Context<'_>,
        purpose: Option<Purpose>,
        target_id: Option<ID>,
    ) -> Result<PasskeyChallenge> {
        let c = caller(ctx)?;
        let target = target_id.as_ref().map(|t| t.as_str());
        Ok(
            passkeys::start_authentication(state(ctx)?, c.true_user(), purpose, target)
                .await?
                .into(),
        )
    }

    /// Completes sign-in for a user with a passkey, as `authenticateTwoFactor` does with a
    /// code.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(SignedIn)")]
    async fn authenticate_with_passkey(
        &self,
        ctx: &Context<'_>,
        response: PasskeyResponse,
    ) -> Result<AuthPayload> {
        Ok(AuthPayload(
            passkeys::authenticate(
                state(ctx)?,
                as_themselves(ctx).await?,
                response.answer(),
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// SUPER_ADMIN only; nobody changes their own role.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn set_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<User> {
        Ok(User(
            profile::set_user_role(
                state(ctx)?,
                as_themselves(ctx).await?,
                &user_id,
                role,
                &request_meta(ctx),
            )
            .await?,
        ))
    }
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// A new team the caller owns. Blocked while impersonating.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn create_team(&self, ctx: &Context<'_>, name: String) -> Result<Team> {
        Ok(Team(
            teams::create_team_for_caller(
                state(ctx)?,
                as_themselves(ctx).await?,
                &name,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// New tokens for another of the caller's teams. Blocked while impersonating: new team
    /// tokens would break the impersonation.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn switch_team(&self, ctx: &Context<'_>, team_id: ID) -> Result<AuthPayload> {
        Ok(AuthPayload(
            teams::switch_team(
                state(ctx)?,
                as_themselves(ctx).await?,
                &team_id,
                &request_meta(ctx),
            )
            .await?,
        ))
    }
}

#[derive(Default)]
pub struct WorkMutation;

#[Object]
impl WorkMutation {
    #[graphql(guard = "TwoFactorPassed")]
    async fn create_business(&self, ctx: &Context<'_>, name: String) -> Result<Business> {
        Ok(Business(
            businesses::create_business(
                state(ctx)?,
                may_write(ctx).await?,
                &name,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    #[graphql(guard = "TwoFactorPassed")]
    async fn create_lead(
        &self,
        ctx: &Context<'_>,
        name: String,
        business_id: Option<ID>,
    ) -> Result<Lead> {
        let s = state(ctx)?;
        let l = leads::create_lead(
            s,
            may_write(ctx).await?,
            &name,
            business_id.as_ref().map(|b| b.as_str()),
            &request_meta(ctx),
        )
        .await?;
        Ok(Lead(l))
    }

    /// While impersonating, stored under the impersonator as "Support team".
    #[graphql(guard = "TwoFactorPassed")]
    async fn add_business_comment(
        &self,
        ctx: &Context<'_>,
        business_id: ID,
        text: String,
    ) -> Result<Comment> {
        let target = CommentTarget::Business(&business_id);
        Ok(Comment(
            comments::add(
                state(ctx)?,
                may_write(ctx).await?,
                target,
                &text,
                &request_meta(ctx),
            )
            .await?,
        ))
    }

    /// While impersonating, stored under the impersonator as "Support team".
    #[graphql(guard = "TwoFactorPassed")]
    async fn add_lead_comment(
        &self,
        ctx: &Context<'_>,
        lead_id: ID,
        text: String,
    ) -> Result<Comment> {
        let target = CommentTarget::Lead(&lead_id);
        Ok(Comment(
            comments::add(
                state(ctx)?,
                may_write(ctx).await?,
                target,
                &text,
                &request_meta(ctx),
            )
            .await?,
        ))
    }
}

#[derive(Default)]
pub struct ImpersonationMutation;

#[Object]
impl ImpersonationMutation {
    /// Sign in as `userId`. Needs a 2FA-authenticated admin; the rules are in
    /// `auth::policy` and refusals are IMPERSONATION_DENIED with the reason. `mode` defaults
    /// to IMPERSONATION_DEFAULT_MODE (READ_WRITE unless configured). `ticket`: a support
    /// ticket's reference (at most 100 characters; required with IMPERSONATION_REQUIRE_TICKET;
    /// under a grant that has one, the grant's when not given), shown to the customer beside
    /// the reason. `teamId`: the customer's team to start in (one of theirs, else NOT_FOUND);
    /// their current team when not given; the token's team claim is it. `stepUp`: the fresh
    /// proof IMPERSONATION_STEP_UP asks for (else STEP_UP_REQUIRED with `extensions.methods`),
    /// checked once the policy allows the session.
    #[graphql(guard = "TwoFactorPassed.and(TrueUserAdmin)")]
    // The arguments are the contract's.
    #[allow(clippy::too_many_arguments)]
    async fn impersonate(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: Option<String>,
        mode: Option<Mode>,
        ticket: Option<String>,
        team_id: Option<ID>,
        step_up: Option<StepUp>,
    ) -> Result<AuthPayload> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let ask = impersonation::StartAsk {
            user_id: &user_id,
            reason: reason.as_deref(),
            mode,
            ticket: ticket.as_deref(),
            team_id: team_id.as_ref().map(|t| t.as_str()),
            proof: StepUp::proof(step_up.as_ref(), None),
        };
        let session = impersonation::start(s, staff_behind(ctx)?, ask, &meta).await?;
        if let Some(active) = &session.context.impersonation {
            // What the answer's selection reads of the customer goes into the new session's
            // ledger.
            crate::graphql::gate::StartedSession::note(ctx, &active.record.id);
        }
        Ok(AuthPayload(session))
    }

    /// Turns the caller's READ_ONLY session into READ_WRITE, with a fresh proof of the
    /// impersonator (their current TOTP `code`, or `stepUp`: a code or a passkey's answer;
    /// with IMPERSONATION_STEP_UP=passkey, a passkey only) and a reason. Without one,
    /// STEP_UP_REQUIRED. Audited; the customer's history shows it.
    #[graphql(guard = "SignedIn")]
    async fn elevate_impersonation(
        &self,
        ctx: &Context<'_>,
        code: Option<String>,
        reason: String,
        step_up: Option<StepUp>,
    ) -> Result<Impersonation> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let proof = StepUp::proof(step_up.as_ref(), code.as_deref());
        let record = impersonation::elevate(s, staff_behind(ctx)?, proof, &reason, &meta).await?;
        Ok(Impersonation(record))
    }

    /// Ends a running session (`ENDED_BY_ADMIN`): a super admin any, an admin their own.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn end_impersonation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Impersonation> {
        let s = state(ctx)?;
        let meta = request_meta(ctx);
        let record = impersonation::end_by_admin(
            s,
            admin_with_two_factor(ctx).await?,
            &id,
            reason.as_deref(),
            &meta,
        )
        .await?;
        Ok(Impersonation(record))
    }

    /// The kill switch (SUPER_ADMIN): off ends every running session and refuses new ones
    /// (`IMPERSONATION_DISABLED`) on every server. Returns the new state. `reason` (the rules
    /// of reasons) goes into the audit row.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::SUPER_ADMIN)")]
    async fn set_impersonation_enabled(
        &self,
        ctx: &Context<'_>,
        enabled: bool,
        reason: Option<String>,
    ) -> Result<bool> {
        let s = state(ctx)?;
        let caller = super_admin(ctx).await?;
        let meta = request_meta(ctx);
        Ok(kill_switch::set_enabled(s, caller, enabled, reason.as_deref(), &meta).await?)
    }

    /// Ends the impersonation and returns the admin's own tokens, in the team the admin
    /// impersonated from.
    #[graphql(guard = "SignedIn")]
    async fn cancel_impersonation(&self, ctx: &Context<'_>) -> Result<AuthPayload> {
        Ok(AuthPayload(
            impersonation::cancel(state(ctx)?, caller(ctx)?, &request_meta(ctx)).await?,
        ))
    }
}

mod customer;
mod review;
mod webhooks;

pub use customer::{NotificationMutation, SupportAccessMutation};
pub use review::ReviewMutation;

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    TeamMutation,
    WorkMutation,
    ImpersonationMutation,
    SupportAccessMutation,
    NotificationMutation,
    ReviewMutation,
    webhooks::WebhookMutation,
);
