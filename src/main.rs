//! The binary: CLI, configuration and tracing, then calls into the library.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use crm::AppState;
use crm::auth::Role;
use crm::clock::SystemClock;
use crm::config::{Config, Environment, MIN_JWT_SECRET_BYTES, redact_url};
use migration::MigratorTrait;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "CRM GraphQL API with secure admin impersonation")]
struct Cli {
    #[command(flatten)]
    opts: Opts,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct Opts {
    /// `sqlite://…` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/crm.db?mode=rwc",
        global = true
    )]
    database_url: String,
    /// Where to listen.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    bind_addr: String,
    /// Lifetime of an impersonation token.
    #[arg(
        long,
        env = "IMPERSONATION_TTL_MINUTES",
        default_value_t = 30,
        global = true
    )]
    impersonation_ttl_minutes: i64,
    /// Lifetime of an access token.
    #[arg(
        long,
        env = "ACCESS_TOKEN_TTL_MINUTES",
        default_value_t = 15,
        global = true
    )]
    access_token_ttl_minutes: i64,
    /// Lifetime of a refresh token.
    #[arg(
        long,
        env = "REFRESH_TOKEN_TTL_DAYS",
        default_value_t = 30,
        global = true
    )]
    refresh_token_ttl_days: i64,
    /// development: GraphiQL and introspection open, demo data on an empty database.
    /// Default: development on SQLite, production on PostgreSQL.
    #[arg(long, env = "APP_ENV", value_enum, global = true)]
    environment: Option<Environment>,
    /// Seed demo data into an empty database (development only).
    #[arg(long, env = "SEED_DEMO", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    seed_demo: bool,
    /// Largest database pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    db_max_connections: u32,
    /// Longest wait for a pooled connection, in seconds.
    #[arg(
        long,
        env = "DB_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = 5,
        global = true
    )]
    db_acquire_timeout_seconds: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, global = true)]
    body_limit_bytes: usize,
    /// Longest time a request may take, in seconds.
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    request_timeout_seconds: u64,
    /// Serve GraphiQL (default: on in development, off in production).
    #[arg(long, env = "GRAPHIQL", global = true)]
    graphiql: Option<bool>,
    /// Failed logins (per email) or TOTP codes (per user) before a lockout.
    #[arg(long, env = "MAX_FAILED_ATTEMPTS", default_value_t = 5, global = true)]
    max_failed_attempts: u32,
    /// Lockout length, in minutes.
    #[arg(long, env = "LOCKOUT_MINUTES", default_value_t = 15, global = true)]
    lockout_minutes: i64,
    /// Largest GraphQL query depth.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, global = true)]
    max_query_depth: usize,
    /// Largest GraphQL query complexity (about one per field, aliases included).
    #[arg(
        long,
        env = "MAX_QUERY_COMPLEXITY",
        default_value_t = 500,
        global = true
    )]
    max_query_complexity: usize,
    /// Largest number of operations in one batched request.
    #[arg(long, env = "MAX_BATCH", default_value_t = 10, global = true)]
    max_batch: usize,
    /// Password hashes computed at once.
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 2,
        global = true
    )]
    password_hash_concurrency: usize,
    /// Record the client address from `X-Forwarded-For` (set only behind a trusted proxy).
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    trust_proxy: bool,
    /// Comma-separated origins allowed by CORS.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "", global = true)]
    allowed_origins: String,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database if needed, then serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the SDL that `schema.graphql` must equal.
    PrintSchema,
    /// Create a user (and its team); prints its id as the last line.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
    },
    /// Print the current TOTP code of a demo account (demo data only).
    DemoTotp { email: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    User,
    Admin,
    SuperAdmin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::User => Role::User,
            RoleArg::Admin => Role::Admin,
            RoleArg::SuperAdmin => Role::SuperAdmin,
        }
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

/// The directory of a SQLite database file, if the URL names one.
fn sqlite_dir(url: &str) -> Option<PathBuf> {
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
fn jwt_secret(url: &str) -> Vec<u8> {
    if let Ok(s) = std::env::var("JWT_SECRET") {
        if s.len() < MIN_JWT_SECRET_BYTES {
            fail(format!(
                "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
            ));
        }
        return s.into_bytes();
    }
    let Some(dir) = (crm::db::is_sqlite(url)).then(|| sqlite_dir(url)).flatten() else {
        fail("JWT_SECRET is required with PostgreSQL (at least 32 bytes)")
    };
    let file = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&file)
        && s.trim().len() >= MIN_JWT_SECRET_BYTES
    {
        return s.trim().as_bytes().to_vec();
    }
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = hex::encode(bytes);
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| write_private(&file, &secret)) {
        fail(format!(
            "cannot keep a generated JWT secret in {}: {e}",
            file.display()
        ));
    }
    tracing::warn!(path = %file.display(), "JWT_SECRET not set: generated one and kept it beside the database");
    secret.into_bytes()
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(content.as_bytes())
}

fn build_config(o: &Opts) -> Config {
    if let Some(dir) = crm::db::is_sqlite(&o.database_url)
        .then(|| sqlite_dir(&o.database_url))
        .flatten()
        && let Err(e) = std::fs::create_dir_all(&dir)
    {
        fail(format!("cannot create {}: {e}", dir.display()));
    }
    if o.impersonation_ttl_minutes <= 0 || o.access_token_ttl_minutes <= 0 {
        fail("token lifetimes must be positive");
    }
    let environment = o
        .environment
        .unwrap_or(Environment::default_for(&o.database_url));
    let mut c = Config::with_defaults(&o.database_url);
    c.jwt_secret = jwt_secret(&o.database_url);
    c.bind_addr = o.bind_addr.clone();
    c.environment = environment;
    c.access_token_ttl = chrono::Duration::minutes(o.access_token_ttl_minutes);
    c.refresh_token_ttl = chrono::Duration::days(o.refresh_token_ttl_days);
    c.impersonation_ttl = chrono::Duration::minutes(o.impersonation_ttl_minutes);
    c.db_max_connections = o.db_max_connections.max(1);
    c.db_acquire_timeout = Duration::from_secs(o.db_acquire_timeout_seconds.max(1));
    c.body_limit_bytes = o.body_limit_bytes;
    c.request_timeout = Duration::from_secs(o.request_timeout_seconds.max(1));
    c.graphiql = o
        .graphiql
        .unwrap_or(environment == Environment::Development);
    c.throttle.max_failures = o.max_failed_attempts.max(1);
    c.throttle.lockout = chrono::Duration::minutes(o.lockout_minutes.max(1));
    c.max_depth = o.max_query_depth.max(2);
    c.max_complexity = o.max_query_complexity.max(10);
    c.max_batch = o.max_batch.max(1);
    c.password_hash_concurrency = o.password_hash_concurrency.max(1);
    c.trust_proxy = o.trust_proxy;
    c.allowed_origins = o
        .allowed_origins
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    c
}

async fn connect(config: Config) -> AppState {
    let db = match crm::db::connect(&config).await {
        Ok(db) => db,
        Err(e) => fail(format!(
            "cannot open the database {}: {e}",
            redact_url(&config.database_url)
        )),
    };
    AppState::new(db, config, Arc::new(SystemClock))
}

async fn migrate(state: &AppState) {
    if let Err(e) = migration::Migrator::up(&state.db, None).await {
        fail(format!("migration failed: {e}"));
    }
}

/// Keeps glibc from serving argon2's 19 MiB working buffers out of its per-thread heaps: by
/// default it raises the mmap threshold after the first large free, and the heaps then keep
/// that memory (measured: 330 MiB peak under a login flood, 62 MiB with the threshold pinned;
/// see `bench/login_flood.py`).
fn pin_malloc_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() {
    pin_malloc_mmap_threshold();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => fail(format!("cannot start the runtime: {e}")),
    }
}

async fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => print!("{}", crm::graphql::sdl()),
        Command::Migrate => {
            let state = connect(build_config(&cli.opts)).await;
            migrate(&state).await;
            println!("migrations applied");
        }
        Command::CreateUser {
            email,
            password,
            name,
            role,
        } => {
            let state = connect(build_config(&cli.opts)).await;
            migrate(&state).await;
            match crm::services::accounts::create_user_cli(
                &state,
                &email,
                &password,
                &name,
                role.into(),
            )
            .await
            {
                Ok(id) => println!("{id}"),
                Err(e) => fail(format!("{e}")),
            }
        }
        Command::DemoTotp { email } => {
            let state = connect(build_config(&cli.opts)).await;
            if state.config.environment != Environment::Development {
                fail("demo-totp works only in development");
            }
            match crm::seed::demo_totp(&state, &email.to_lowercase()).await {
                Ok(Some(code)) => println!("{code}"),
                Ok(None) => fail(format!("{email} is not a demo account with 2FA")),
                Err(e) => fail(e),
            }
        }
        Command::Serve => serve(cli.opts).await,
    }
}

async fn serve(opts: Opts) {
    let state = connect(build_config(&opts)).await;
    migrate(&state).await;
    let dev = state.config.environment == Environment::Development;
    let mut seeded = false;
    if dev && opts.seed_demo {
        match crm::seed::is_empty(&state).await {
            Ok(true) => match crm::seed::seed_demo(&state).await {
                Ok(()) => seeded = true,
                Err(e) => fail(format!("seeding demo data failed: {e:?}")),
            },
            Ok(false) => {}
            Err(e) => fail(format!("{e:?}")),
        }
    }
    let listener = match tokio::net::TcpListener::bind(&state.config.bind_addr).await {
        Ok(l) => l,
        Err(e) => fail(format!("cannot listen on {}: {e}", state.config.bind_addr)),
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // The banner is written with errors ignored: a closed stdout must not stop a server.
    let mut banner = format!("CRM API listening on http://{addr}\n");
    if dev {
        banner.push_str(&format!("GraphiQL: http://{addr}/graphql\n"));
        let demo = seeded || crm::seed::demo_present(&state).await.unwrap_or(false);
        if demo {
            let head = if seeded {
                "Demo data seeded. Logins"
            } else {
                "Demo logins"
            };
            banner.push_str(&format!("{head} (email / password):\n"));
            for a in crm::seed::DEMO_ACCOUNTS {
                let note = if a.two_factor {
                    " (2FA on: code from `cargo run --release -- demo-totp EMAIL`)"
                } else if !a.impersonation_allowed {
                    " (impersonation switched off)"
                } else {
                    ""
                };
                banner.push_str(&format!(
                    "  {:<18} {:<14} {:?}{note}\n",
                    a.email, a.password, a.role
                ));
            }
        }
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|_| out.flush());
    }
    tracing::info!(config = ?state.config, "serving");
    let app = crm::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        fail(format!("server error: {e}"));
    }
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
