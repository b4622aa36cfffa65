//! One `Config`, built from flags and environment (`Opts`, read by clap in `main`), checked
//! at start and passed down (no globals). Every setting has a documented range; a value out
//! of range stops the server with a message naming the setting (exit code 2).
mod checks;
mod ws;
pub use ws::WsLimits;
mod opts;
mod secret;
pub mod smtp;
mod webauthn;
pub use webauthn::{RelyingParty, StepUp};

use std::time::Duration;

pub use checks::ConfigError;
use checks::{in_range, invalid, origins};
pub use opts::Opts;
pub use secret::sqlite_dir;

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
        if is_sqlite(database_url) {
            Environment::Development
        } else {
            Environment::Production
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colour only on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// HS256 key, at least 32 bytes.
    pub jwt_secret: Vec<u8>,
    /// The keys secrets are sealed with at rest (`crate::sealed`).
    pub data_keys: crate::sealed::DataKeys,
    pub bind_addr: String,
    pub environment: Environment,
    pub access_token_ttl: chrono::Duration,
    pub refresh_token_ttl: chrono::Duration,
    pub impersonation_ttl: chrono::Duration,
    /// The mode of a session when `impersonate` does not say.
    pub impersonation_default_mode: crate::entities::impersonation::Mode,
    /// A session with no request for this long ends (IDLE_TIMEOUT); none turns it off.
    pub impersonation_idle: Option<chrono::Duration>,
    /// Where notices are e-mailed from (`SMTP_URL`, `SMTP_FROM`); none: in the app only.
    pub smtp: Option<smtp::SmtpConfig>,
    /// How long a request for support access waits for the customer before it lapses.
    pub support_request_ttl: chrono::Duration,
    /// `impersonate` and `requestSupportAccess` need a ticket (`IMPERSONATION_REQUIRE_TICKET`).
    pub require_ticket: bool,
    /// `SUPPORT_TICKET_URL`: an http(s) URL with `{ticket}` where the reference goes.
    pub ticket_url: Option<String>,
    /// Where `/metrics` is served (`METRICS_ADDR`); none: off.
    pub metrics_addr: Option<String>,
    /// Read-only sessions into accounts marked for review need a review too
    /// (`IMPERSONATION_REVIEW_READ_ONLY`).
    pub review_read_only: bool,
    /// How long a review request waits for a second admin (`IMPERSONATION_REVIEW_TTL_MINUTES`).
    pub review_ttl: chrono::Duration,
    /// What starting a session, elevating one and approving a review need besides the
    /// token's passed 2FA (`IMPERSONATION_STEP_UP`).
    pub step_up: StepUp,
    /// The WebAuthn relying party (`WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGIN`).
    pub relying_party: RelyingParty,
    /// Webhook deliveries: the retry schedule, when a failing endpoint is disabled, and
    /// whether private addresses may be targets.
    pub webhooks: WebhookSettings,
    /// Live events over WebSocket: the caps and the ping interval.
    pub ws: WsLimits,
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
    /// How many trusted proxies append to `X-Forwarded-For`: the client is that many
    /// entries from the right.
    pub trusted_proxy_hops: usize,
    /// Seed demo data into an empty development database.
    pub seed_demo: bool,
    pub issuer: String,
    pub audience: String,
    pub throttle: ThrottleConfig,
    /// Largest number of operations in one batched request.
    pub max_batch: usize,
    /// Concurrent password hashes (argon2 is memory- and CPU-heavy).
    pub password_hash_concurrency: usize,
}

impl Config {
    /// The configuration from checked settings. Creates the SQLite database's directory and,
    /// with SQLite and no `JWT_SECRET`, the kept secret.
    pub fn from_opts(o: &Opts) -> Result<Config, ConfigError> {
        let minutes = |setting, v, max| in_range(setting, v, 1, max).map(chrono::Duration::minutes);
        let mut c = Config::with_defaults(&o.database_url);
        c.impersonation_ttl = minutes(
            "IMPERSONATION_TTL_MINUTES",
            o.impersonation_ttl_minutes,
            1440,
        )?;
        c.impersonation_default_mode =
            match o.impersonation_default_mode.to_ascii_uppercase().as_str() {
                "READ_WRITE" => crate::entities::impersonation::Mode::ReadWrite,
                "READ_ONLY" => crate::entities::impersonation::Mode::ReadOnly,
                other => {
                    return Err(invalid(
                        "IMPERSONATION_DEFAULT_MODE",
                        format!("is {other:?}; allowed: READ_WRITE or READ_ONLY"),
                    ));
                }
            };
        c.impersonation_idle = match in_range(
            "IMPERSONATION_IDLE_MINUTES",
            o.impersonation_idle_minutes,
            0,
            1440,
        )? {
            0 => None,
            m => Some(chrono::Duration::minutes(m)),
        };
        c.smtp = match o.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => Some(smtp::parse(url, o.smtp_from.as_deref())?),
            None => None,
        };
        c.metrics_addr = checks::metrics_addr(&o.metrics_addr, &o.bind_addr)?;
        c.require_ticket = o.impersonation_require_ticket;
        c.review_read_only = o.impersonation_review_read_only;
        c.review_ttl = minutes(
            "IMPERSONATION_REVIEW_TTL_MINUTES",
            o.impersonation_review_ttl_minutes,
            1440,
        )?;
        c.ticket_url = match o.support_ticket_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(checks::ticket_url(u)?),
        };
        c.support_request_ttl = chrono::Duration::hours(in_range(
            "SUPPORT_REQUEST_TTL_HOURS",
            o.support_request_ttl_hours,
            1,
            720,
        )?);
        c.ws = WsLimits {
            connections_per_user: in_range(
                "WS_MAX_CONNECTIONS_PER_USER",
                o.ws_max_connections_per_user,
                1,
                1000,
            )? as usize,
            subscriptions_per_connection: in_range(
                "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
                o.ws_max_subscriptions_per_connection,
                1,
                1000,
            )? as usize,
            connections_per_ip: in_range(
                "WS_MAX_CONNECTIONS_PER_IP",
                o.ws_max_connections_per_ip,
                1,
                10_000,
            )? as usize,
            connections: in_range("WS_MAX_CONNECTIONS", o.ws_max_connections, 1, 1_000_000)?
                as usize,
            init_within: Duration::from_secs(in_range(
                "WS_INIT_TIMEOUT_SECONDS",
                o.ws_init_timeout_seconds,
                1,
                300,
            )? as u64),
            ping: Duration::from_secs(
                in_range("WS_PING_SECONDS", o.ws_ping_seconds, 5, 600)? as u64
            ),
            ..WsLimits::default()
        };
        c.access_token_ttl = minutes("ACCESS_TOKEN_TTL_MINUTES", o.access_token_ttl_minutes, 1440)?;
        c.refresh_token_ttl = chrono::Duration::days(in_range(
            "REFRESH_TOKEN_TTL_DAYS",
            o.refresh_token_ttl_days,
            1,
            365,
        )?);
        c.throttle.lockout = minutes("LOCKOUT_MINUTES", o.lockout_minutes, 1440)?;
        c.throttle.max_failures =
            in_range("MAX_FAILED_ATTEMPTS", o.max_failed_attempts, 1, 1_000_000)?;
        c.db_max_connections = in_range("DB_MAX_CONNECTIONS", o.db_max_connections, 1, 1000)?;
        c.db_acquire_timeout = Duration::from_secs(in_range(
            "DB_ACQUIRE_TIMEOUT_SECONDS",
            o.db_acquire_timeout_seconds,
            1,
            300,
        )?);
        c.body_limit_bytes = in_range("BODY_LIMIT_BYTES", o.body_limit_bytes, 1024, 64 << 20)?;
        c.request_timeout = Duration::from_secs(in_range(
            "REQUEST_TIMEOUT_SECONDS",
            o.request_timeout_seconds,
            1,
            3600,
        )?);
        c.max_depth = in_range("MAX_QUERY_DEPTH", o.max_query_depth, 2, 100)?;
        c.max_complexity = in_range(
            "MAX_QUERY_COMPLEXITY",
            o.max_query_complexity,
            10,
            1_000_000,
        )?;
        c.max_batch = in_range("MAX_BATCH", o.max_batch, 1, 100)?;
        c.password_hash_concurrency = in_range(
            "PASSWORD_HASH_CONCURRENCY",
            o.password_hash_concurrency,
            1,
            64,
        )?;
        c.trusted_proxy_hops = in_range("TRUSTED_PROXY_HOPS", o.trusted_proxy_hops, 1, 10)?;
        c.trust_proxy = o.trust_proxy;
        c.allowed_origins = origins(&o.allowed_origins)?;
        for extra in origins(&o.cors_origins)? {
            if !c.allowed_origins.contains(&extra) {
                c.allowed_origins.push(extra);
            }
        }
        c.bind_addr = o.bind_addr.clone();
        c.environment = o
            .environment
            .unwrap_or(Environment::default_for(&o.database_url));
        c.graphiql = o
            .graphiql
            .unwrap_or(c.environment == Environment::Development);
        c.seed_demo = o.seed_demo;
        c.webhooks = WebhookSettings {
            retry_schedule: checks::retry_schedule(&o.webhook_retry_schedule_seconds)?,
            disable_after: chrono::Duration::hours(in_range(
                "WEBHOOK_DISABLE_AFTER_HOURS",
                o.webhook_disable_after_hours,
                1,
                720,
            )?),
            allow_private: o.webhook_allow_private,
            proxy: checks::webhook_proxy(o.webhook_proxy.as_deref())?,
            timeout: std::time::Duration::from_secs(10),
            lease: chrono::Duration::seconds(in_range(
                "WEBHOOK_LEASE_SECONDS",
                o.webhook_lease_seconds,
                15,
                3600,
            )?),
        };
        if !is_sqlite(&o.database_url) && !o.database_url.starts_with("postgres") {
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "({}) is neither sqlite:… nor postgres://…",
                    redact_url(&o.database_url)
                ),
            ));
        }
        if let Some(dir) = is_sqlite(&o.database_url)
            .then(|| sqlite_dir(&o.database_url))
            .flatten()
        {
            std::fs::create_dir_all(&dir).map_err(|e| {
                invalid(
                    "DATABASE_URL",
                    format!(
                        "names a directory that cannot be created ({}): {e}",
                        dir.display()
                    ),
                )
            })?;
        }
        c.jwt_secret = secret::jwt_secret(o.jwt_secret.as_deref(), &o.database_url)?;
        c.data_keys = secret::data_keys(
            o.data_encryption_key.as_deref(),
            o.data_encryption_old_keys.as_deref(),
            &o.database_url,
            c.environment,
        )?;
        c.step_up = webauthn::step_up(&o.impersonation_step_up)?;
        c.relying_party = webauthn::relying_party(
            o.webauthn_rp_id.as_deref(),
            o.webauthn_origin.as_deref(),
            c.environment,
            &o.bind_addr,
        )?;
        Ok(c)
    }

    /// The defaults (development mode, a fixed placeholder secret): `main` overrides them from
    /// flags and environment, tests tweak them.
    pub fn with_defaults(database_url: &str) -> Self {
        Config {
            database_url: database_url.to_string(),
            jwt_secret: b"test-secret-that-is-long-enough-for-hs256!".to_vec(),
            data_keys: crate::sealed::DataKeys::new(&[0x5a; 32], &[]),
            bind_addr: "127.0.0.1:0".into(),
            environment: Environment::Development,
            access_token_ttl: chrono::Duration::minutes(15),
            refresh_token_ttl: chrono::Duration::days(30),
            impersonation_ttl: chrono::Duration::minutes(30),
            impersonation_default_mode: crate::entities::impersonation::Mode::ReadWrite,
            support_request_ttl: chrono::Duration::hours(24),
            require_ticket: false,
            ticket_url: None,
            review_read_only: false,
            review_ttl: chrono::Duration::minutes(60),
            step_up: StepUp::None,
            relying_party: RelyingParty::development("127.0.0.1:8080"),
            webhooks: WebhookSettings::default(),
            metrics_addr: None,
            smtp: None,
            impersonation_idle: Some(chrono::Duration::minutes(10)),
            ws: WsLimits::default(),
            jwt_leeway_seconds: 5,
            db_max_connections: 8,
            db_acquire_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            max_depth: 12,
            max_complexity: 10_000,
            max_directives: 20,
            graphiql: true,
            allowed_origins: vec![],
            trust_proxy: false,
            trusted_proxy_hops: 1,
            seed_demo: true,
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

/// Webhook deliveries (`WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Waits before each retry, in order (`WEBHOOK_RETRY_SCHEDULE_SECONDS`); after the last,
    /// the delivery is FAILED.
    pub retry_schedule: Vec<i64>,
    /// An endpoint failing this long is disabled and its owner told.
    pub disable_after: chrono::Duration,
    /// Loopback, private and link-local targets allowed (`WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
    /// The proxy deliveries go through (`WEBHOOK_PROXY`); never one from the environment.
    pub proxy: Option<String>,
    /// Each delivery's time limit: 10 seconds (the contract's; no setting changes it, tests
    /// shorten it to reach the circuit breaker quickly).
    pub timeout: std::time::Duration,
    /// How long a sender holds a delivery it claimed (`WEBHOOK_LEASE_SECONDS`): a server that
    /// dies holding one leaves it to the others after this.
    pub lease: chrono::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_schedule: vec![5, 300, 1800, 7200, 18000, 36000],
            disable_after: chrono::Duration::hours(24),
            allow_private: false,
            proxy: None,
            timeout: std::time::Duration::from_secs(10),
            lease: chrono::Duration::seconds(60),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: Opts,
    }

    /// Settings as the environment would give them, on PostgreSQL (no files written).
    fn from(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec![
            "crm",
            "--database-url",
            "postgres://u:p@127.0.0.1/db",
            "--jwt-secret",
            "a-jwt-secret-that-is-long-enough-1234567",
            "--webauthn-rp-id",
            "crm.example.com",
            "--webauthn-origin",
            "https://crm.example.com",
            "--data-encryption-key",
            "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=",
        ];
        argv.extend_from_slice(args);
        Config::from_opts(&Cli::try_parse_from(argv).expect("parses").opts)
    }

    #[test]
    fn defaults_are_valid() {
        let c = from(&[]).unwrap();
        assert_eq!(c.impersonation_ttl, chrono::Duration::minutes(30));
        assert_eq!(c.environment, Environment::Production);
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        for (flag, value, setting) in [
            (
                "--impersonation-ttl-minutes",
                "999999999999999999",
                "IMPERSONATION_TTL_MINUTES",
            ),
            (
                "--impersonation-ttl-minutes",
                "1000000000000",
                "IMPERSONATION_TTL_MINUTES",
            ),
            (
                "--impersonation-ttl-minutes",
                "0",
                "IMPERSONATION_TTL_MINUTES",
            ),
            (
                "--refresh-token-ttl-days",
                "99999999999999",
                "REFRESH_TOKEN_TTL_DAYS",
            ),
            ("--refresh-token-ttl-days", "0", "REFRESH_TOKEN_TTL_DAYS"),
            ("--lockout-minutes", "999999999999999", "LOCKOUT_MINUTES"),
            (
                "--access-token-ttl-minutes",
                "-5",
                "ACCESS_TOKEN_TTL_MINUTES",
            ),
            ("--max-failed-attempts", "0", "MAX_FAILED_ATTEMPTS"),
            ("--db-max-connections", "0", "DB_MAX_CONNECTIONS"),
            ("--max-query-depth", "1", "MAX_QUERY_DEPTH"),
            ("--max-batch", "0", "MAX_BATCH"),
            ("--trusted-proxy-hops", "0", "TRUSTED_PROXY_HOPS"),
            ("--allowed-origins", "*", "ALLOWED_ORIGINS"),
            (
                "--allowed-origins",
                "https://a.example/path",
                "ALLOWED_ORIGINS",
            ),
            ("--allowed-origins", "app.example.com", "ALLOWED_ORIGINS"),
            ("--metrics-addr", "everywhere", "METRICS_ADDR"),
            ("--metrics-addr", "0.0.0.0:8080", "METRICS_ADDR"),
            (
                "--support-ticket-url",
                "https://help.example.com/t/",
                "SUPPORT_TICKET_URL",
            ),
            (
                "--support-ticket-url",
                "javascript:alert(1)//{ticket}",
                "SUPPORT_TICKET_URL",
            ),
        ] {
            let e = from(&[&format!("{flag}={value}")]).unwrap_err();
            assert_eq!(e.setting, setting, "{flag}={value}: {e}");
        }
    }

    #[test]
    fn a_ticket_url_is_kept_and_tickets_are_optional_unless_required() {
        let c = from(&[]).unwrap();
        assert_eq!((c.require_ticket, c.ticket_url), (false, None));
        let c = from(&[
            "--support-ticket-url",
            "https://help.example.com/t/{ticket}",
            "--impersonation-require-ticket",
            "true",
        ])
        .unwrap();
        assert!(c.require_ticket);
        assert_eq!(
            c.ticket_url.as_deref(),
            Some("https://help.example.com/t/{ticket}")
        );
    }

    #[test]
    fn origins_are_kept_as_given() {
        let c = from(&[
            "--allowed-origins",
            "https://app.example.com, http://localhost:5173",
        ])
        .unwrap();
        assert_eq!(
            c.allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
    }

    #[test]
    fn production_needs_a_data_key_of_32_bytes() {
        let base = [
            "crm",
            "--database-url",
            "postgres://u:p@127.0.0.1/db",
            "--jwt-secret",
            "a-jwt-secret-that-is-long-enough-1234567",
            "--webauthn-rp-id",
            "crm.example.com",
            "--webauthn-origin",
            "https://crm.example.com",
        ];
        let cli = Cli::try_parse_from(base).unwrap();
        let e = Config::from_opts(&cli.opts).unwrap_err();
        assert_eq!(e.setting, "DATA_ENCRYPTION_KEY");
        assert!(e.message.contains("required"), "{}", e.message);
        let mut short = base.to_vec();
        short.extend(["--data-encryption-key", "c2hvcnQ="]);
        let cli = Cli::try_parse_from(short).unwrap();
        let e = Config::from_opts(&cli.opts).unwrap_err();
        assert_eq!(e.setting, "DATA_ENCRYPTION_KEY");
        assert!(
            !e.message.contains("c2hvcnQ"),
            "the key is never echoed: {}",
            e.message
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let cli = Cli::try_parse_from([
            "crm",
            "--database-url",
            "postgres://u:p@127.0.0.1/db",
            "--jwt-secret",
            "short",
        ])
        .unwrap();
        assert_eq!(
            Config::from_opts(&cli.opts).unwrap_err().setting,
            "JWT_SECRET"
        );
    }

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
