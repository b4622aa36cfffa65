//! The one error type. Every refusal maps to a contract code in `extensions.code`.
use async_graphql::ErrorExtensions;

/// Why impersonation is refused. Public contract names.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ImpersonationDenial {
    /// The admin's own 2FA is off.
    TwoFactorDisabled,
    /// The target is the caller.
    #[graphql(name = "SELF")]
    SelfTarget,
    /// Nobody impersonates a super admin.
    TargetIsSuperAdmin,
    /// Only a super admin may impersonate an admin.
    TargetIsAdmin,
    /// The caller's token is already an impersonation token.
    AlreadyImpersonating,
    /// The target switched `impersonationAllowed` off.
    NotAllowedByUser,
    /// Impersonation is switched off for everyone (the kill switch).
    ImpersonationDisabled,
    /// The target approves each session and no grant covers this one (or not in this mode).
    ApprovalRequired,
    /// The account is marked for four-eyes review and no second admin's approved, unused
    /// review of this admin covers a session in this mode.
    ReviewRequired,
}

impl ImpersonationDenial {
    pub fn as_str(self) -> &'static str {
        match self {
            ImpersonationDenial::TwoFactorDisabled => "TWO_FACTOR_DISABLED",
            ImpersonationDenial::SelfTarget => "SELF",
            ImpersonationDenial::TargetIsSuperAdmin => "TARGET_IS_SUPER_ADMIN",
            ImpersonationDenial::TargetIsAdmin => "TARGET_IS_ADMIN",
            ImpersonationDenial::AlreadyImpersonating => "ALREADY_IMPERSONATING",
            ImpersonationDenial::NotAllowedByUser => "NOT_ALLOWED_BY_USER",
            ImpersonationDenial::ImpersonationDisabled => "IMPERSONATION_DISABLED",
            ImpersonationDenial::ApprovalRequired => "APPROVAL_REQUIRED",
            ImpersonationDenial::ReviewRequired => "REVIEW_REQUIRED",
        }
    }
}

/// A kind of fresh proof.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// A passkey assertion (phishing-resistant).
    Passkey,
    /// A TOTP code.
    Totp,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Passkey => "PASSKEY",
            Method::Totp => "TOTP",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("two-factor authentication required")]
    TwoFactorRequired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("impersonation denied: {}", .0.as_str())]
    ImpersonationDenied(ImpersonationDenial),
    #[error("not allowed while impersonating")]
    BlockedWhileImpersonating,
    /// A mutation in a READ_ONLY impersonation session (code BLOCKED_WHILE_IMPERSONATING,
    /// `extensions.reason: "READ_ONLY"`).
    #[error("this impersonation session is read-only: elevate it to write")]
    ReadOnlySession,
    /// Elevating a read-only session in an account marked for review (code FORBIDDEN,
    /// `extensions.reason: "REVIEW_REQUIRED"`).
    #[error(
        "this account needs a second admin's review to be changed: start a reviewed read-write session instead"
    )]
    ReviewRequired,
    /// The operation needs a fresh proof (`IMPERSONATION_STEP_UP`): code STEP_UP_REQUIRED,
    /// `extensions.methods` the kinds accepted.
    #[error("{}", step_up_words(methods))]
    StepUpRequired { methods: &'static [Method] },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Invalid argument; `field` names the offending input.
    #[error("{message}")]
    BadInput {
        field: &'static str,
        message: String,
    },
    #[error("too many failed attempts; retry in {retry_after_seconds} seconds")]
    RateLimited { retry_after_seconds: i64 },
    /// Anything else. The detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

fn step_up_words(methods: &[Method]) -> &'static str {
    match methods {
        [Method::Passkey] => "confirm it is you with your passkey",
        _ => "confirm it is you with your passkey or an authenticator code",
    }
}

/// Every code an `AppError` is answered with (`AppError::code`): the contract's list, which
/// the metrics count operations under. A unit test holds it equal to `code`.
pub const CODES: [&str; 10] = [
    "UNAUTHENTICATED",
    "TWO_FACTOR_REQUIRED",
    "FORBIDDEN",
    "IMPERSONATION_DENIED",
    "BLOCKED_WHILE_IMPERSONATING",
    "STEP_UP_REQUIRED",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "RATE_LIMITED",
    "INTERNAL",
];

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        AppError::BadInput {
            field,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// The contract code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::TwoFactorRequired => "TWO_FACTOR_REQUIRED",
            AppError::Forbidden(_) | AppError::ReviewRequired => "FORBIDDEN",
            AppError::ImpersonationDenied(_) => "IMPERSONATION_DENIED",
            AppError::BlockedWhileImpersonating | AppError::ReadOnlySession => {
                "BLOCKED_WHILE_IMPERSONATING"
            }
            AppError::StepUpRequired { .. } => "STEP_UP_REQUIRED",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput { .. } => "BAD_USER_INPUT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let AppError::Internal(detail) = self {
            // The detail may carry SQL or driver text: log it, answer a generic message.
            tracing::error!(error = %detail, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                AppError::ImpersonationDenied(reason) => e.set("reason", reason.as_str()),
                AppError::ReadOnlySession => e.set("reason", "READ_ONLY"),
                AppError::ReviewRequired => e.set("reason", "REVIEW_REQUIRED"),
                AppError::BadInput { field, .. } => e.set("field", *field),
                AppError::StepUpRequired { methods } => e.set(
                    "methods",
                    methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                ),
                AppError::RateLimited {
                    retry_after_seconds,
                } => e.set("retryAfterSeconds", *retry_after_seconds),
                _ => {}
            }
        })
    }
}

/// `?` on an `AppError` in a resolver keeps its code. async-graphql's blanket conversion of
/// any `Display` error (which would drop the code and send raw text, e.g. of a database
/// error, to the client) is switched off by the `custom-error-conversion` feature.
impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        e.extend()
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A secret that cannot be sealed or opened (`crate::sealed`) is the server's fault.
impl From<crate::sealed::SealError> for AppError {
    fn from(e: crate::sealed::SealError) -> Self {
        AppError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Value;

    fn ext(e: AppError) -> (String, async_graphql::ErrorExtensionValues) {
        let err = e.extend();
        (err.message.clone(), err.extensions.unwrap_or_default())
    }

    fn code(e: AppError) -> Value {
        ext(e).1.get("code").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn every_variant_maps_to_its_contract_code() {
        let cases = [
            (AppError::Unauthenticated("x"), "UNAUTHENTICATED"),
            (AppError::TwoFactorRequired, "TWO_FACTOR_REQUIRED"),
            (AppError::Forbidden("x"), "FORBIDDEN"),
            (
                AppError::ImpersonationDenied(ImpersonationDenial::SelfTarget),
                "IMPERSONATION_DENIED",
            ),
            (
                AppError::BlockedWhileImpersonating,
                "BLOCKED_WHILE_IMPERSONATING",
            ),
            (AppError::NotFound("user"), "NOT_FOUND"),
            (
                AppError::StepUpRequired { methods: &[] },
                "STEP_UP_REQUIRED",
            ),
            (AppError::bad_input("email", "bad"), "BAD_USER_INPUT"),
            (
                AppError::RateLimited {
                    retry_after_seconds: 9,
                },
                "RATE_LIMITED",
            ),
            (AppError::Internal("secret detail".into()), "INTERNAL"),
        ];
        // Every variant's code is in the one list the metrics count by, and the list holds
        // no code nothing answers with.
        let answered: Vec<&str> = cases.iter().map(|(e, _)| e.code()).collect();
        for c in &answered {
            assert!(CODES.contains(c), "{c} is missing from CODES");
        }
        for c in CODES.iter() {
            assert!(
                answered.contains(c),
                "{c} in CODES is answered by no variant"
            );
        }
        for (e, expected) in cases {
            assert_eq!(code(e), Value::from(expected));
        }
    }

    #[test]
    fn extensions_carry_reason_field_and_retry_time() {
        let (_, x) = ext(AppError::ImpersonationDenied(
            ImpersonationDenial::NotAllowedByUser,
        ));
        assert_eq!(x.get("reason"), Some(&Value::from("NOT_ALLOWED_BY_USER")));
        let (_, x) = ext(AppError::bad_input("email", "bad"));
        assert_eq!(x.get("field"), Some(&Value::from("email")));
        let (_, x) = ext(AppError::RateLimited {
            retry_after_seconds: 9,
        });
        assert_eq!(x.get("retryAfterSeconds"), Some(&Value::from(9)));
        use Method;
        let (_, x) = ext(AppError::StepUpRequired {
            methods: &[Method::Passkey, Method::Totp],
        });
        let methods = Value::List(vec![Value::from("PASSKEY"), Value::from("TOTP")]);
        assert_eq!(x.get("methods"), Some(&methods));
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let (message, _) = ext(AppError::Internal(
            "UNIQUE constraint failed: users.email".into(),
        ));
        assert_eq!(message, "internal error");
        let db: AppError = sea_orm::DbErr::Custom("connection refused to 10.0.0.5".into()).into();
        assert_eq!(ext(db).0, "internal error");
    }
}
