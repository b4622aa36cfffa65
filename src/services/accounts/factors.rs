//! A change of what signs a person in (a passkey added or removed, TOTP on or off, the password
//! changed) is told, in the transaction of the change: to the person (a notice in the app and,
//! with SMTP set up, an e-mail; nothing turns it off), to every other super admin when the
//! account is staff's (a phisher's new factor on an admin account is an incident), and to the
//! SIEM (`user.factor_changed`).
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::config::Config;
use crate::entities::user;
use crate::error::AppResult;
use crate::services::notify::notices::{self, Notice, kind};
use crate::services::webhooks::{self, Happening};

/// What changed.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    PasskeyAdded(&'a str),
    PasskeyRemoved(&'a str),
    TotpOn,
    TotpOff,
    PasswordChanged,
}

impl<'a> Change<'a> {
    /// The webhook's `change`.
    pub fn code(self) -> &'static str {
        match self {
            Change::PasskeyAdded(_) => "PASSKEY_ADDED",
            Change::PasskeyRemoved(_) => "PASSKEY_REMOVED",
            Change::TotpOn => "TOTP_ENABLED",
            Change::TotpOff => "TOTP_DISABLED",
            Change::PasswordChanged => "PASSWORD_CHANGED",
        }
    }

    /// The passkey's name, when a passkey changed.
    pub fn passkey(self) -> Option<&'a str> {
        match self {
            Change::PasskeyAdded(n) | Change::PasskeyRemoved(n) => Some(n),
            _ => None,
        }
    }

    fn in_words(self) -> String {
        match self {
            Change::PasskeyAdded(n) => format!("A passkey named \u{201c}{n}\u{201d} was added"),
            Change::PasskeyRemoved(n) => {
                format!("The passkey named \u{201c}{n}\u{201d} was removed")
            }
            Change::TotpOn => "An authenticator app (TOTP) was turned on".into(),
            Change::TotpOff => "The authenticator app (TOTP) was turned off".into(),
            Change::PasswordChanged => "The password was changed".into(),
        }
    }
}

/// Tells `user`'s factor change to them, to every other super admin if `user` is staff, and
/// to the webhook endpoints, on `conn`.
pub async fn told(
    conn: &impl ConnectionTrait,
    config: &Config,
    user: &user::Model,
    change: Change<'_>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let what = change.in_words();
    let own = Notice {
        kind: kind::FACTOR_CHANGED,
        message: format!(
            "{what} on your account. If this was not you, change your password now and tell your administrator."
        ),
        subject: "The way you sign in changed",
        impersonation_id: None,
        grant_id: None,
    };
    notices::notify(conn, config, user, own, at).await?;
    if user.role.is_admin() {
        let message = format!(
            "{what} on the {} account of {}. If they did not do it, treat the account as taken over.",
            user.role.as_str(),
            user.name
        );
        let subject = "A staff account's sign-in changed";
        notices::tell_super_admins(
            conn,
            config,
            &user.id,
            kind::FACTOR_CHANGED,
            subject,
            &message,
            at,
        )
        .await?;
    }
    let h = Happening::Factor {
        user,
        change: change.code(),
        passkey_name: change.passkey(),
    };
    webhooks::emit(conn, h, at).await
}
