//! The Profile Settings page and roles: name, consent, password; super admins set roles.
use sea_orm::Set;

use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::{AsThemselves, MayWrite};
use crate::auth::{Role, password};
use crate::db::db_time;
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::accounts::throttle::{self, Scope};
use crate::services::audit::{self, Entry, action};
use crate::services::impersonation::ending::{self, EndReason, Running};
use crate::services::notify::notices;
use crate::services::webhooks;
use crate::services::{accounts::sign_in, accounts::users, validation};
use crate::state::AppState;

pub struct ProfileInput {
    pub name: Option<String>,
    pub impersonation_allowed: Option<bool>,
    pub impersonation_requires_approval: Option<bool>,
}

/// Updates the effective user's profile. Not in a read-only session (`MayWrite`); the consent
/// (`impersonationAllowed`, `impersonationRequiresApproval`) is the account's own, so changing
/// it also needs the caller as themselves (the resolver's guard refuses and audits it first).
pub async fn update_profile(
    state: &AppState,
    caller: MayWrite<'_>,
    input: ProfileInput,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    if input.impersonation_allowed.is_some() || input.impersonation_requires_approval.is_some() {
        AsThemselves::check(&caller)?;
    }
    let name = input
        .name
        .as_deref()
        .map(|n| validation::person_name("name", n))
        .transpose()?;
    let mut changed = serde_json::Map::new();
    if let Some(name) = &name {
        changed.insert("name".into(), name.clone().into());
    }
    if let Some(allowed) = input.impersonation_allowed {
        changed.insert("impersonationAllowed".into(), allowed.into());
    }
    if let Some(approval) = input.impersonation_requires_approval {
        changed.insert("impersonationRequiresApproval".into(), approval.into());
    }
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let user = users::update(&txn, &caller.user.id, now, |u| {
        if let Some(name) = name {
            u.name = Set(name);
        }
        if let Some(allowed) = input.impersonation_allowed {
            u.impersonation_allowed = Set(allowed);
        }
        if let Some(approval) = input.impersonation_requires_approval {
            u.impersonation_requires_approval = Set(approval);
        }
    })
    .await?;
    let entry = Entry::for_caller(action::PROFILE_UPDATED, &caller, meta, now)
        .entity("User", &user.id)
        .details(changed.into());
    audit::record(&txn, entry).await?;
    // Consent withdrawn, or approval required from now on: the sessions into this account
    // that no longer qualify end now, in this transaction, on every server (not at their next
    // request).
    let ending = if input.impersonation_allowed == Some(false) {
        Some((Running::Into(&user.id), "NOT_ALLOWED_BY_USER"))
    } else if input.impersonation_requires_approval == Some(true) {
        Some((Running::IntoWithoutGrant(&user.id), "APPROVAL_REQUIRED"))
    } else {
        None
    };
    if let Some((which, cause)) = ending {
        let reason = EndReason::RevokedByUser;
        ending::end_running(&txn, &state.config, which, reason, cause, now, meta).await?;
    }
    txn.commit().await?;
    Ok(user)
}

/// Checks the caller's current password before a security change (`changePassword`,
/// `turnOnTwoFactor`): a stolen access token alone must not be enough. Guesses are counted
/// with the login throttle of the caller's email, so this is no side door for guessing, and a
/// wrong one is audited with `failed_action`.
pub async fn check_current_password(
    state: &AppState,
    caller: &AuthContext,
    field: &'static str,
    current: &str,
    failed_action: &'static str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let attempt = throttle::take(state, Scope::Login, &caller.user.email).await?;
    let ok = current.chars().count() <= validation::MAX_PASSWORD
        && password::verify(
            &state.hashing,
            current.to_string(),
            Some(caller.user.password_hash.clone()),
        )
        .await?;
    if ok {
        return attempt.succeeded().await;
    }
    let entry = Entry::for_caller(failed_action, caller, meta, state.clock.now());
    audit::record_alone(state, entry).await?;
    attempt.failed();
    Err(AppError::bad_input(field, "the current password is wrong"))
}

/// `changePassword`: needs the current password; ends every earlier session.
pub async fn change_password(
    state: &AppState,
    caller: AsThemselves<'_>,
    current: &str,
    new: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    validation::password("newPassword", new)?;
    let failed = action::PASSWORD_CHANGE_FAILED;
    check_current_password(state, &caller, "currentPassword", current, failed, meta).await?;
    let hash = password::hash(&state.hashing, new.to_string()).await?;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let before = users::find_user(&txn, &caller.user.id).await?;
    let after = users::update(&txn, &caller.user.id, now, |u| {
        u.password_hash = Set(hash);
        // Every session signed in with the old password ends, on every server.
        u.sessions_valid_after = Set(Some(db_time(now)));
    })
    .await?;
    ending::end_for_user_change(&txn, &state.config, &before, &after, now, meta).await?;
    sign_in::revoke_all_refresh_tokens(&txn, &caller.user.id, now).await?;
    let entry = Entry::for_caller(action::PASSWORD_CHANGED, &caller, meta, now)
        .entity("User", &caller.user.id);
    audit::record(&txn, entry).await?;
    let change = crate::services::accounts::factors::Change::PasswordChanged;
    crate::services::accounts::factors::told(&txn, &state.config, &after, change, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Super admins set roles; nobody changes their own.
pub async fn set_user_role(
    state: &AppState,
    caller: AsThemselves<'_>,
    user_id: &str,
    role: Role,
    meta: &RequestMeta,
) -> AppResult<user::Model> {
    if user_id == caller.user.id {
        return Err(AppError::Forbidden("nobody changes their own role"));
    }
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let before = users::find_user(&txn, user_id).await?;
    let previous = before.role;
    // When and by whom: a four-eyes decision counts only from rights held before it was
    // asked, and never from an account whose role the requester set.
    let by = caller.user.id.clone();
    let user = users::update(&txn, user_id, now, |u| {
        u.role = Set(role);
        u.role_changed_at = Set(Some(db_time(now)));
        u.role_changed_by = Set(Some(by));
    })
    .await?;
    ending::end_for_user_change(&txn, &state.config, &before, &user, now, meta).await?;
    let entry = Entry::for_caller(action::ROLE_CHANGED, &caller, meta, now)
        .entity("User", &user.id)
        .details(serde_json::json!({ "from": previous.as_str(), "to": role.as_str() }));
    audit::record(&txn, entry).await?;
    if previous != role {
        let h = webhooks::Happening::RoleChanged {
            user: &user,
            from: previous.as_str(),
            by: &caller.user,
        };
        webhooks::emit(&txn, h, now).await?;
        let message = format!(
            "{} changed the role of {} from {} to {}.",
            caller.user.name,
            user.name,
            previous.as_str(),
            role.as_str()
        );
        notices::tell_super_admins(
            &txn,
            &state.config,
            &caller.user.id,
            crate::events::kind::SECURITY_CHANGED,
            "A role changed",
            &message,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(user)
}
