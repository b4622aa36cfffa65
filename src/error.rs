//! The one error type. Every refusal maps to a contract code in `extensions.code`.
use async_graphql::ErrorExtensions;

use crate::auth::policy::ImpersonationDenial;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("two-factor authentication required")]
    TwoFactorRequired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("impersonation denied: {0:?}")]
    ImpersonationDenied(ImpersonationDenial),
    #[error("not allowed while impersonating")]
    BlockedWhileImpersonating,
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
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::ImpersonationDenied(_) => "IMPERSONATION_DENIED",
            AppError::BlockedWhileImpersonating => "BLOCKED_WHILE_IMPERSONATING",
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
                AppError::BadInput { field, .. } => e.set("field", *field),
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
