use sea_orm::entity::prelude::*;

/// An account. `password_hash` and `totp_secret` never leave the service layer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub role: super::role::Role,
    pub password_hash: String,
    pub impersonation_allowed: bool,
    /// Every session needs an approved grant (`support_access_grants`).
    pub impersonation_requires_approval: bool,
    /// A sensitive account (a super admin marked it): sessions that can change it need a
    /// second admin's approved review (`impersonation_reviews`).
    pub impersonation_review_required: bool,
    /// Base32 TOTP secret; present from enrollment, enabled only after `turnOnTwoFactor`.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    /// The last TOTP time step accepted, so a code is never accepted twice.
    pub totp_last_step: Option<i64>,
    /// The user holds at least one passkey (`passkeys`).
    pub has_passkey: bool,
    pub current_team_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Tokens issued (`iat`) before this second are refused: set when the password changes.
    pub sessions_valid_after: Option<DateTimeUtc>,
    /// When the role was last set by someone (`setUserRole`); none: as created.
    pub role_changed_at: Option<DateTimeUtc>,
    /// Who last set the role; none: nobody here (created so, or by an operator).
    pub role_changed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// A user for unit tests: `role`, with TOTP on or off, everything else plain.
    #[cfg(test)]
    pub fn sample(id: &str, name: &str, role: crate::entities::role::Role, totp: bool) -> Self {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(1_796_000_000, 0).unwrap();
        Model {
            id: id.into(),
            email: format!("{id}@example.com"),
            name: name.into(),
            role,
            password_hash: String::new(),
            impersonation_allowed: true,
            impersonation_requires_approval: false,
            impersonation_review_required: false,
            totp_secret: None,
            totp_enabled: totp,
            totp_last_step: None,
            has_passkey: false,
            current_team_id: None,
            created_at: at,
            updated_at: at,
            sessions_valid_after: None,
            role_changed_at: None,
            role_changed_by: None,
        }
    }

    /// Two-factor authentication is on: a TOTP authenticator or a passkey.
    pub fn two_factor_on(&self) -> bool {
        self.totp_enabled || self.has_passkey
    }
}
