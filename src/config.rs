//! One `Config`, built from flags and environment (`Opts`, read by clap in `main`), checked
//! at start and passed down (no globals). Every setting has a documented range; a value out
//! of range stops the server with a message naming the setting (exit code 2).
use std::path::{Path, PathBuf};
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

/// The settings, from flags or environment. Ranges are checked by `Config::from_opts`.
#[derive(clap::Args, Debug, Clone)]
pub struct Opts {
    /// `sqlite://…` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/crm.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// HS256 key, at least 32 bytes. With SQLite and none given, one is generated once and
    /// kept beside the database file.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Where to listen.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind_addr: String,
    /// Lifetime of an impersonation token, minutes (1..=1440).
    #[arg(
        long,
        env = "IMPERSONATION_TTL_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub impersonation_ttl_minutes: i64,
    /// Lifetime of an access token, minutes (1..=1440).
    #[arg(
        long,
        env = "ACCESS_TOKEN_TTL_MINUTES",
        default_value_t = 15,
        global = true
    )]
    pub access_token_ttl_minutes: i64,
    /// Lifetime of a refresh token, days (1..=365).
    #[arg(
        long,
        env = "REFRESH_TOKEN_TTL_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub refresh_token_ttl_days: i64,
    /// development: GraphiQL and introspection open, demo data on an empty database.
    /// Default: development on SQLite, production on PostgreSQL.
    #[arg(long, env = "APP_ENV", value_enum, global = true)]
    pub environment: Option<Environment>,
    /// Seed demo data into an empty database (development only).
    #[arg(long, env = "SEED_DEMO", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub seed_demo: bool,
    /// Largest database pool (1..=1000).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    pub db_max_connections: u32,
    /// Longest wait for a pooled connection, seconds (1..=300).
    #[arg(
        long,
        env = "DB_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub db_acquire_timeout_seconds: u64,
    /// Largest request body, bytes (1024..=67108864).
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub body_limit_bytes: usize,
    /// Longest time a request may take, seconds (1..=3600).
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_seconds: u64,
    /// Serve GraphiQL (default: on in development, off in production).
    #[arg(long, env = "GRAPHIQL", global = true)]
    pub graphiql: Option<bool>,
    /// Password guesses (per email) or TOTP codes (per user) evaluated per window
    /// (1..=1000000; benchmarks raise it).
    #[arg(long, env = "MAX_FAILED_ATTEMPTS", default_value_t = 5, global = true)]
    pub max_failed_attempts: u32,
    /// Lockout window, minutes (1..=1440).
    #[arg(long, env = "LOCKOUT_MINUTES", default_value_t = 15, global = true)]
    pub lockout_minutes: i64,
    /// Largest GraphQL query depth (2..=100).
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, global = true)]
    pub max_query_depth: usize,
    /// Largest GraphQL query complexity: one per field, times the page size for lists
    /// (10..=1000000).
    #[arg(
        long,
        env = "MAX_QUERY_COMPLEXITY",
        default_value_t = 10_000,
        global = true
    )]
    pub max_query_complexity: usize,
    /// Largest number of operations in one batched request (1..=100).
    #[arg(long, env = "MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,
    /// Password hashes computed at once (1..=64).
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 2,
        global = true
    )]
    pub password_hash_concurrency: usize,
    /// Record the client address from `X-Forwarded-For` (set only behind a trusted proxy).
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub trust_proxy: bool,
    /// Trusted proxies in front of the server, each appending to `X-Forwarded-For` (1..=10).
    #[arg(long, env = "TRUSTED_PROXY_HOPS", default_value_t = 1, global = true)]
    pub trusted_proxy_hops: usize,
    /// Comma-separated origins allowed by CORS, each `http(s)://host[:port]`.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "", global = true)]
    pub allowed_origins: String,
    /// `text` or `json`.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

/// A setting the server cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("{setting} {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// `value` if within `min..=max`, else an error naming the setting and its range.
fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    setting: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(invalid(
            setting,
            format!("is {value}, outside the allowed range {min} to {max}"),
        ));
    }
    Ok(value)
}

/// Checks `ALLOWED_ORIGINS`: each entry a bare origin, `http(s)://host[:port]`.
fn origins(list: &str) -> Result<Vec<String>, ConfigError> {
    const SETTING: &str = "ALLOWED_ORIGINS";
    let mut out = vec![];
    for o in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !ok {
            return Err(invalid(
                SETTING,
                format!(
                    "has {o:?}, which is not an origin like https://app.example.com (no wildcards, paths or spaces)"
                ),
            ));
        }
        out.push(o.to_string());
    }
    Ok(out)
}

/// The directory of a SQLite database file, if the URL names one.
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(
        Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    )
}

/// `JWT_SECRET`, or with SQLite a secret generated once and kept beside the database file.
fn jwt_secret(given: Option<&str>, url: &str) -> Result<Vec<u8>, ConfigError> {
    const SETTING: &str = "JWT_SECRET";
    if let Some(s) = given {
        if s.len() < MIN_JWT_SECRET_BYTES {
            return Err(invalid(
                SETTING,
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            ));
        }
        return Ok(s.as_bytes().to_vec());
    }
    let Some(dir) = is_sqlite(url).then(|| sqlite_dir(url)).flatten() else {
        return Err(invalid(
            SETTING,
            "is required with PostgreSQL (at least 32 bytes)",
        ));
    };
    let file = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&file)
        && s.trim().len() >= MIN_JWT_SECRET_BYTES
    {
        return Ok(s.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = hex::encode(bytes);
    std::fs::create_dir_all(&dir)
        .and_then(|_| write_private(&file, &secret))
        .map_err(|e| {
            invalid(
                SETTING,
                format!(
                    "is not set, and a generated one cannot be kept in {}: {e}",
                    file.display()
                ),
            )
        })?;
    tracing::warn!(path = %file.display(), "JWT_SECRET not set: generated one and kept it beside the database");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(content.as_bytes())
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
        c.bind_addr = o.bind_addr.clone();
        c.environment = o
            .environment
            .unwrap_or(Environment::default_for(&o.database_url));
        c.graphiql = o
            .graphiql
            .unwrap_or(c.environment == Environment::Development);
        c.seed_demo = o.seed_demo;
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
        c.jwt_secret = jwt_secret(o.jwt_secret.as_deref(), &o.database_url)?;
        Ok(c)
    }

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
        ] {
            let e = from(&[&format!("{flag}={value}")]).unwrap_err();
            assert_eq!(e.setting, setting, "{flag}={value}: {e}");
        }
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
