//! The account's own mutations: sign-up and sign-in, the profile, the password, two-factor
//! authentication and passkeys, and roles (super admins).
use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::auth::Role;
use crate::graphql::context::{caller, request_meta};
use crate::graphql::guards::{AdminWithTwoFactor, NotImpersonating, SignedIn, TwoFactorPassed};
use crate::graphql::guards::{as_themselves, may_write};
use crate::graphql::state;
use crate::graphql::types::*;
use crate::services::accounts::passkeys::{self, Purpose};
use crate::services::accounts::profile::{self, ProfileInput};
use crate::services::accounts::signup::{self, NewAccount};
use crate::services::{accounts::sign_in, accounts::step_up, accounts::two_factor};

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
