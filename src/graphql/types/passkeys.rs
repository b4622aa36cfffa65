//! Passkeys: the list a user sees, and a WebAuthn challenge for the browser.
use async_graphql::{ID, InputObject, Json, Object, SimpleObject};

use crate::entities::passkey;
use crate::graphql::scalars::DateTime;
use crate::services::accounts::{passkeys, step_up};

/// A registered passkey. Its public key stays on the server.
pub struct Passkey(pub passkey::Model);

#[Object]
impl Passkey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The name the user gave it ("Work laptop").
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// When it last proved a sign-in or an operation.
    async fn last_used_at(&self) -> Option<DateTime> {
        self.0.last_used_at.map(Into::into)
    }
}

/// A ceremony's first half. `options` is the `publicKey` member of the options for
/// `navigator.credentials.create()` (registration) or `.get()` (authentication), binary
/// values in base64url (`PublicKeyCredential.parseCreationOptionsFromJSON` /
/// `parseRequestOptionsFromJSON` take it as is). Answer within 5 minutes, once.
#[derive(SimpleObject)]
pub struct PasskeyChallenge {
    pub id: ID,
    pub options: Json<serde_json::Value>,
}

impl From<passkeys::Challenge> for PasskeyChallenge {
    fn from(c: passkeys::Challenge) -> Self {
        PasskeyChallenge {
            id: ID(c.id),
            options: Json(c.options),
        }
    }
}

/// The browser's answer: the challenge's id and `PublicKeyCredential.toJSON()`.
#[derive(InputObject)]
pub struct PasskeyResponse {
    pub challenge_id: ID,
    pub credential: Json<serde_json::Value>,
}

impl PasskeyResponse {
    pub fn answer(&self) -> passkeys::Answer<'_> {
        passkeys::Answer {
            challenge_id: self.challenge_id.as_str(),
            credential: &self.credential.0,
        }
    }
}

/// A fresh proof for an operation that `IMPERSONATION_STEP_UP` guards: a current TOTP code,
/// or a passkey's answer to a challenge from `startPasskeyAuthentication`.
#[derive(InputObject, Default)]
pub struct StepUp {
    pub code: Option<String>,
    pub passkey: Option<PasskeyResponse>,
}

impl StepUp {
    /// The proof as the service takes it; `code` is an operation's own code argument
    /// (`elevateImpersonation(code:)`), used when `stepUp` has none.
    pub fn proof<'a>(step_up: Option<&'a StepUp>, code: Option<&'a str>) -> step_up::Proof<'a> {
        step_up::Proof {
            code: step_up.and_then(|s| s.code.as_deref()).or(code),
            passkey: step_up.and_then(|s| s.passkey.as_ref()).map(|p| p.answer()),
        }
    }
}
