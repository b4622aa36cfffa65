use sea_orm::entity::prelude::*;

/// A user's registered passkey (a WebAuthn credential). `credential` is webauthn-rs's
/// `Passkey` as JSON (the public key, never a secret); `counter` is the highest signature
/// counter accepted so far, raised by a conditional update so that a cloned authenticator's
/// assertion (a counter gone backwards) is refused even when two arrive at once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The credential id, base64url without padding.
    #[sea_orm(unique)]
    pub credential_id: String,
    pub credential: String,
    pub counter: i64,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
