//! The settings as clap reads them, from flags or environment. Ranges are checked by
//! `Config::from_opts`.
use super::{Environment, LogFormat};

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
    /// The key secrets are sealed with at rest (TOTP and webhook secrets): 32 bytes in
    /// base64. Required in production and with PostgreSQL; with SQLite in development, one is
    /// generated once and kept beside the database file (`data-key`).
    #[arg(
        long,
        env = "DATA_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true
    )]
    pub data_encryption_key: Option<String>,
    /// Earlier data keys (comma-separated, base64), still opening values sealed with them
    /// until `rotate-data-key` seals everything with DATA_ENCRYPTION_KEY.
    #[arg(
        long,
        env = "DATA_ENCRYPTION_OLD_KEYS",
        global = true,
        hide_env_values = true
    )]
    pub data_encryption_old_keys: Option<String>,
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
    /// The mode of a session when `impersonate` does not say: READ_WRITE or READ_ONLY.
    #[arg(
        long,
        env = "IMPERSONATION_DEFAULT_MODE",
        default_value = "READ_WRITE",
        global = true
    )]
    pub impersonation_default_mode: String,
    /// How long an admin's request for support access waits for the customer, hours
    /// (1..=720).
    #[arg(
        long,
        env = "SUPPORT_REQUEST_TTL_HOURS",
        default_value_t = 24,
        global = true
    )]
    pub support_request_ttl_hours: i64,
    /// `impersonate` and `requestSupportAccess` need a support ticket's reference.
    #[arg(long, env = "IMPERSONATION_REQUIRE_TICKET", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub impersonation_require_ticket: bool,
    /// Read-only sessions into accounts marked for four-eyes review need a review too
    /// (default: only read-write sessions do).
    #[arg(long, env = "IMPERSONATION_REVIEW_READ_ONLY", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub impersonation_review_read_only: bool,
    /// How long a request for a second admin's review waits before it lapses, minutes
    /// (1..=1440).
    #[arg(
        long,
        env = "IMPERSONATION_REVIEW_TTL_MINUTES",
        default_value_t = 60,
        global = true
    )]
    pub impersonation_review_ttl_minutes: i64,
    /// Where Prometheus scrapes `GET /metrics`, `host:port`, never the public address
    /// (BIND_ADDR); `off` turns it off.
    #[arg(
        long,
        env = "METRICS_ADDR",
        default_value = "127.0.0.1:9464",
        global = true
    )]
    pub metrics_addr: String,
    /// What `impersonate`, `elevateImpersonation` and `approveImpersonationReview` need besides
    /// the token's passed 2FA: `none`, `any` (a fresh TOTP code or passkey each time) or
    /// `passkey` (a fresh passkey assertion each time).
    #[arg(
        long,
        env = "IMPERSONATION_STEP_UP",
        default_value = "none",
        global = true
    )]
    pub impersonation_step_up: String,
    /// The WebAuthn relying party ID: the domain the console is served on (required in
    /// production; development: `localhost`).
    #[arg(long, env = "WEBAUTHN_RP_ID", global = true)]
    pub webauthn_rp_id: Option<String>,
    /// The console's origin, e.g. `https://crm.example.com` (required in production;
    /// development: `http://localhost:<port of BIND_ADDR>`).
    #[arg(long, env = "WEBAUTHN_ORIGIN", global = true)]
    pub webauthn_origin: Option<String>,
    /// Waits before each retry of a webhook delivery, in seconds, comma-separated.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_SCHEDULE_SECONDS",
        default_value = "5,300,1800,7200,18000,36000",
        global = true
    )]
    pub webhook_retry_schedule_seconds: String,
    /// A webhook endpoint failing for this many hours is disabled and its owner told
    /// (1..=720).
    #[arg(
        long,
        env = "WEBHOOK_DISABLE_AFTER_HOURS",
        default_value_t = 24,
        global = true
    )]
    pub webhook_disable_after_hours: i64,
    /// How long a server holds a webhook delivery it claimed before others may take it over,
    /// seconds (15..=3600; more than a delivery's 10 s).
    #[arg(
        long,
        env = "WEBHOOK_LEASE_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub webhook_lease_seconds: i64,
    /// The proxy webhook deliveries go through, `http://host:port` (none by default; the
    /// environment's HTTP_PROXY, HTTPS_PROXY and ALL_PROXY are never used). The proxy must
    /// enforce the egress rules: names are resolved by it, not by this server.
    #[arg(long, env = "WEBHOOK_PROXY", global = true)]
    pub webhook_proxy: Option<String>,
    /// Allow webhook endpoints on loopback, private and link-local addresses (tests, labs).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private: bool,
    /// Where a ticket is read, with `{ticket}` for its reference, e.g.
    /// `https://help.example.com/t/{ticket}`: the customer's history links it.
    #[arg(long, env = "SUPPORT_TICKET_URL", global = true)]
    pub support_ticket_url: Option<String>,
    /// E-mail notices through this server: `smtp://[user:pass@]host:port` (STARTTLS required,
    /// except to a loopback relay) or `smtps://…`. Unset: notices stay in the app.
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of e-mailed notices, e.g. `CRM <no-reply@example.com>`.
    #[arg(long, env = "SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// An impersonation session with no request for this many minutes ends (IDLE_TIMEOUT);
    /// 0 turns the idle timeout off (0..=1440).
    #[arg(
        long,
        env = "IMPERSONATION_IDLE_MINUTES",
        default_value_t = 10,
        global = true
    )]
    pub impersonation_idle_minutes: i64,
    /// Live events: open WebSocket connections one person may hold on one server (1..=1000).
    #[arg(
        long,
        env = "WS_MAX_CONNECTIONS_PER_USER",
        default_value_t = 10,
        global = true
    )]
    pub ws_max_connections_per_user: i64,
    /// Live events: sockets not yet initialised, or anonymous, from one client address on one
    /// server (1..=10000).
    #[arg(
        long,
        env = "WS_MAX_CONNECTIONS_PER_IP",
        default_value_t = 20,
        global = true
    )]
    pub ws_max_connections_per_ip: i64,
    /// Live events: sockets open at once on one server (1..=1000000).
    #[arg(
        long,
        env = "WS_MAX_CONNECTIONS",
        default_value_t = 10000,
        global = true
    )]
    pub ws_max_connections: i64,
    /// Live events: seconds a new socket has to send `connection_init` (1..=300).
    #[arg(
        long,
        env = "WS_INIT_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub ws_init_timeout_seconds: i64,
    /// Live events: subscriptions running at once on one connection (1..=1000).
    #[arg(
        long,
        env = "WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 20,
        global = true
    )]
    pub ws_max_subscriptions_per_connection: i64,
    /// Live events: the server pings each socket this often, seconds, and closes one that
    /// has sent nothing (not even a pong) since the previous ping (5..=600).
    #[arg(long, env = "WS_PING_SECONDS", default_value_t = 30, global = true)]
    pub ws_ping_seconds: i64,
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
    /// They may also open sockets (`/graphql/ws`), besides the server's own origin.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "", global = true)]
    pub allowed_origins: String,
    /// The contract's name for `ALLOWED_ORIGINS`; both lists are taken.
    #[arg(long, env = "CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,
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
