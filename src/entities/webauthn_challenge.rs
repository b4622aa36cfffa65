use sea_orm::entity::prelude::*;

/// The server's half of a WebAuthn ceremony between its two steps: webauthn-rs's registration
/// or authentication state as JSON. Single-use (`used_at`, set by a conditional update) and
/// valid until `expires_at` (5 minutes).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose ceremony it is: only they can finish it.
    pub user_id: String,
    /// `REGISTRATION` or `AUTHENTICATION`.
    pub kind: String,
    /// For an authentication: the one operation its assertion may prove (`SIGN_IN`,
    /// `IMPERSONATE`, `ELEVATE`, `APPROVE_REVIEW`), or none for any of them.
    pub purpose: Option<String>,
    /// For a step-up: the customer the operation it proves must be about, when the
    /// ceremony named one.
    pub target_id: Option<String>,
    pub state: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
