//! One `Config`, built from flags and environment in `main`, passed down (no globals).
use std::time::Duration;

/// Running mode. Development opens GraphiQL and introspection to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    /// Without `APP_ENV`: development on SQLite (the fresh-clone demo), production on
    /// PostgreSQL, so a real deployment never gets demo accounts with published passwords.
    pub fn default_for(database_url: &str) -> Environment {
        if crate::db::is_sqlite(database_url) {
            Environment::Development
        } else {
            Environment::Production
        }
    }
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// HS256 key, at least 32 bytes.
    pub jwt_secret: Vec<u8>,
    pub bind_addr: String,
    pub environment: Environment,
    pub access_token_ttl: chrono::Duration,
    pub refresh_token_ttl: chrono::Duration,
    pub impersonation_ttl: chrono::Duration,
    /// Allowed clock skew when checking `exp`, in seconds.
    pub jwt_leeway_seconds: u64,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_directives: usize,
    /// Serve GraphiQL at `GET /graphql`.
    pub graphiql: bool,
    pub allowed_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_proxy: bool,
    pub issuer: String,
    pub audience: String,
    pub throttle: ThrottleConfig,
    /// Largest number of operations in one batched request.
    pub max_batch: usize,
    /// Concurrent password hashes (argon2 is memory- and CPU-heavy).
    pub password_hash_concurrency: usize,
}

/// Failed-credential rate limiting.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures allowed before a lockout.
    pub max_failures: u32,
    /// Lockout length, and the window in which failures count.
    pub lockout: chrono::Duration,
}

impl std::fmt::Debug for Config {
    // Hand-written so the secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("jwt_secret", &"<redacted>")
            .field("bind_addr", &self.bind_addr)
            .field("environment", &self.environment)
            .field("impersonation_ttl", &self.impersonation_ttl)
            .finish_non_exhaustive()
    }
}

/// Hides a password in `scheme://user:password@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// The defaults (development mode, a fixed placeholder secret): `main` overrides them from
    /// flags and environment, tests tweak them.
    pub fn with_defaults(database_url: &str) -> Self {
        Config {
            database_url: database_url.to_string(),
            jwt_secret: b"test-secret-that-is-long-enough-for-hs256!".to_vec(),
            bind_addr: "127.0.0.1:0".into(),
            environment: Environment::Development,
            access_token_ttl: chrono::Duration::minutes(15),
            refresh_token_ttl: chrono::Duration::days(30),
            impersonation_ttl: chrono::Duration::minutes(30),
            jwt_leeway_seconds: 5,
            db_max_connections: 8,
            db_acquire_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            max_depth: 12,
            max_complexity: 500,
            max_directives: 20,
            graphiql: true,
            allowed_origins: vec![],
            trust_proxy: false,
            issuer: "crm-impersonation".into(),
            audience: "crm-api".into(),
            throttle: ThrottleConfig {
                max_failures: 5,
                lockout: chrono::Duration::minutes(15),
            },
            max_batch: 10,
            password_hash_concurrency: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_defaults_to_production_and_sqlite_to_development() {
        assert_eq!(
            Environment::default_for("sqlite://./data/crm.db?mode=rwc"),
            Environment::Development
        );
        assert_eq!(
            Environment::default_for("postgres://u:p@db/crm"),
            Environment::Production
        );
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://crm:hunter2@db:5432/crm"),
            "postgres://crm:***@db:5432/crm"
        );
        assert_eq!(
            redact_url("sqlite://./data/crm.db"),
            "sqlite://./data/crm.db"
        );
        let debug = format!(
            "{:?}",
            Config::with_defaults("postgres://crm:hunter2@db/crm")
        );
        assert!(
            !debug.contains("hunter2") && !debug.contains("test-secret"),
            "{debug}"
        );
    }
}
