use sea_orm::entity::prelude::*;

/// One impersonation session. `code` is a secret carried only inside the impersonation token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub code: String,
    pub impersonator_id: String,
    pub impersonated_user_id: String,
    pub impersonator_team_id: Option<String>,
    pub started_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    /// Why it ended (`EndReason`), set together with `ended_at`.
    pub end_reason: Option<String>,
    pub reason: Option<String>,
    pub mode: Mode,
    /// The support access grant it runs under, if any: the session ends with it.
    pub grant_id: Option<String>,
    /// The session's last request, kept to within 30 seconds (for the idle timeout). Set for
    /// every session; the column allows null only because older rows were filled in by a
    /// migration.
    pub last_activity_at: Option<DateTimeUtc>,
    /// The mode it started in (`mode` is the mode now). Null only in rows a migration could
    /// not fill, where it is `mode`.
    pub initial_mode: Option<Mode>,
    /// When a read-only session was allowed to make changes (`elevateImpersonation`), and why.
    pub elevated_at: Option<DateTimeUtc>,
    pub elevation_reason: Option<String>,
    /// The support ticket it was for.
    pub ticket: Option<String>,
    /// The second admin's review it was started under, in an account that needs one.
    pub review_id: Option<String>,
}

impl Model {
    /// The last request made in the session, to within 30 seconds.
    pub fn last_activity(&self) -> DateTimeUtc {
        self.last_activity_at.unwrap_or(self.started_at)
    }

    /// The mode it started in.
    pub fn initial_mode(&self) -> Mode {
        self.initial_mode.unwrap_or(self.mode)
    }
}

// The same enum is the GraphQL `ImpersonationMode`.
/// Why a session ended. Every ended session has exactly one, recorded by whoever noticed the
/// end first.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ImpersonationEndReason")]
pub enum EndReason {
    /// `cancelImpersonation`.
    Cancelled,
    /// The absolute lifetime ran out.
    Expired,
    /// No request for the idle limit.
    IdleTimeout,
    /// The customer withdrew consent.
    RevokedByUser,
    /// An admin ended it.
    EndedByAdmin,
    /// The impersonator lost the admin role, 2FA or their password, or the target became an
    /// admin.
    PolicyChanged,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Cancelled => "CANCELLED",
            EndReason::Expired => "EXPIRED",
            EndReason::IdleTimeout => "IDLE_TIMEOUT",
            EndReason::RevokedByUser => "REVOKED_BY_USER",
            EndReason::EndedByAdmin => "ENDED_BY_ADMIN",
            EndReason::PolicyChanged => "POLICY_CHANGED",
        }
    }

    /// How the session ended, in words for the customer's notice.
    pub fn in_words(self) -> &'static str {
        match self {
            EndReason::Cancelled => "they signed out of it",
            EndReason::Expired => "the session's time ran out",
            EndReason::IdleTimeout => "the session was left idle",
            EndReason::RevokedByUser => "you withdrew access",
            EndReason::EndedByAdmin => "a support administrator ended it",
            EndReason::PolicyChanged => "support's permissions changed",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        use EndReason::*;
        [
            Cancelled,
            Expired,
            IdleTimeout,
            RevokedByUser,
            EndedByAdmin,
            PolicyChanged,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What an impersonation session may do: only read, or also write.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "ImpersonationMode")]
pub enum Mode {
    #[sea_orm(string_value = "READ_ONLY")]
    ReadOnly,
    #[sea_orm(string_value = "READ_WRITE")]
    ReadWrite,
}

impl Mode {
    /// For the customer's notices.
    pub fn in_words(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::ReadWrite => "read and write",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "READ_ONLY",
            Mode::ReadWrite => "READ_WRITE",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
