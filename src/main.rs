//! The binary: reads the command line, sets up logging, and dispatches the subcommands into
//! the library. Settings and their checks live in `config`, demo data in `seed`.
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use crm::AppState;
use crm::auth::Role;
use crm::clock::SystemClock;
use crm::config::{Config, Environment, LogFormat, Opts, redact_url};
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

#[derive(Subcommand)]
enum Command {
    /// Migrate the database if needed, then serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the SDL that `schema.graphql` must equal.
    PrintSchema,
    /// Create a user (and its team); prints its id as the last line. The password comes from
    /// `--password-file` (`-` for standard input), or standard input when neither is given,
    /// so it need not appear in `ps` or the shell's history.
    CreateUser {
        #[arg(long)]
        email: String,
        /// The password itself (visible to other local users in `ps`: prefer the file).
        #[arg(long, conflicts_with = "password_file")]
        password: Option<String>,
        /// A file holding the password (its first line); `-` reads standard input.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "user")]
        role: RoleArg,
    },
    /// Print the current TOTP code of a demo account (demo data only); with `--next`, the
    /// next 30-second step's (accepted now too: one step of clock skew), for a second code
    /// before the first step ends.
    DemoTotp {
        email: String,
        #[arg(long)]
        next: bool,
    },
    /// Lock the demo accounts (a random password, sessions ended), so that a database that
    /// once ran in development may serve production.
    DisableDemoAccounts,
    /// Seal every stored secret (TOTP and webhook secrets) with DATA_ENCRYPTION_KEY. To
    /// rotate: set the new key as DATA_ENCRYPTION_KEY and the old one in
    /// DATA_ENCRYPTION_OLD_KEYS, run this, then drop the old key.
    RotateDataKey,
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

/// A listener that cannot be bound, in words that name the setting and what to do.
fn busy(setting: &str, addr: &str, e: &std::io::Error, fix: &str) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "the port is already in use".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("{setting}: cannot listen on {addr}: {why}; {fix}")
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
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

/// Log lines go to standard output: coloured only on a terminal, JSON with `LOG_FORMAT=json`.
/// With `OTEL_EXPORTER_OTLP_ENDPOINT`, spans are also exported (`crm::telemetry`); the log's
/// own filter leaves SeaORM's statement spans and ours out of the lines.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,crm::telemetry=warn"));
    let lines = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let lines = match format {
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
        LogFormat::Text => lines.boxed(),
    };
    let spans = match crm::telemetry::layer() {
        Ok(spans) => spans,
        Err(e) => fail(e),
    };
    tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(spans)
        .init();
}

async fn run() {
    let cli = Cli::parse();
    init_logging(cli.opts.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::PrintSchema = command {
        print!("{}", crm::graphql::sdl());
        return;
    }
    if let Command::DemoTotp { .. } = command {
        // It reads the server's database; it never creates or migrates one (nor the secret
        // kept beside it).
        if let Some(path) = crm::db::sqlite::path_of(&cli.opts.database_url) {
            let file = std::path::Path::new(path);
            if !file.exists() {
                let shown = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
                fail(format!(
                    "demo-totp found no database at {} and creates none. Run it in the folder \
                     the server runs in, or point it at the server's database: \
                     DATABASE_URL=sqlite:///path/to/data/crm.db",
                    shown.display()
                ));
            }
        }
    }
    let config = Config::from_opts(&cli.opts).unwrap_or_else(|e| fail(e));
    let state = connect(config).await;
    match command {
        Command::Serve => serve(state).await,
        Command::PrintSchema => {} // printed above, without a database
        Command::Migrate => {
            migrate(&state).await;
            println!("migrations applied");
        }
        Command::CreateUser {
            email,
            password,
            password_file,
            name,
            role,
        } => {
            let password = match password {
                Some(p) => p,
                None => read_password(password_file).unwrap_or_else(|e| fail(e)),
            };
            migrate(&state).await;
            let created = crm::services::accounts::signup::create_operator_account(
                &state,
                &email,
                &password,
                &name,
                role.into(),
            )
            .await;
            match created {
                Ok(id) => println!("{id}"),
                Err(e) => fail(e),
            }
        }
        Command::DemoTotp { email, next } => {
            if state.config.environment != Environment::Development {
                fail("demo-totp works only in development");
            }
            match crm::seed::demo_totp(&state, &email.to_lowercase(), next).await {
                Ok(Some(code)) => println!("{code}"),
                Ok(None) => fail(format!("{email} is not a demo account with 2FA")),
                Err(e) => fail(e),
            }
        }
        Command::RotateDataKey => {
            migrate(&state).await;
            println!(
                "every stored secret is sealed with data key {}; the old keys may be dropped",
                state.config.data_keys.current_id()
            );
        }
        Command::DisableDemoAccounts => {
            migrate(&state).await;
            match crm::seed::disable_demo_accounts(&state).await {
                Ok(locked) if locked.is_empty() => {
                    println!("no demo account accepts its published password")
                }
                Ok(locked) => println!("locked: {}", locked.join(", ")),
                Err(e) => fail(e),
            }
        }
    }
}

/// The password of `create-user`: the first line of a file, or of standard input.
fn read_password(file: Option<PathBuf>) -> Result<String, String> {
    let text = match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?,
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            s
        }
    };
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err("no password given (use --password-file or standard input)".into());
    }
    Ok(line)
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
    // Secrets written before they were sealed at rest are sealed now (the key is not the
    // database's to know, so this is the server's step of the migration).
    match crm::services::sealing::seal_existing(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sealed = n, "stored secrets sealed with DATA_ENCRYPTION_KEY"),
        Err(e) => fail(format!("sealing stored secrets failed: {e}")),
    }
}

async fn serve(state: AppState) {
    migrate(&state).await;
    let seeded = match crm::seed::seed_if_empty(&state).await {
        Ok(seeded) => seeded,
        Err(e) => fail(format!("seeding demo data failed: {e}")),
    };
    if state.config.environment == Environment::Production {
        match crm::seed::published_demo_accounts(&state).await {
            Ok(open) if open.is_empty() => {}
            Ok(open) => fail(format!(
                "this database holds demo accounts that accept their published passwords ({}); \
                 production will not serve them. Lock them with `crm-impersonation \
                 disable-demo-accounts` (same DATABASE_URL), or serve with APP_ENV=development",
                open.join(", ")
            )),
            Err(e) => fail(format!("cannot check for demo accounts: {e}")),
        }
    }
    // Every listener is bound before the server says it is listening: a busy port stops it
    // here, naming the setting, not after the demo logins were printed.
    let listener = match tokio::net::TcpListener::bind(&state.config.bind_addr).await {
        Ok(l) => l,
        Err(e) => fail(busy(
            "BIND_ADDR",
            &state.config.bind_addr,
            &e,
            "set BIND_ADDR to another address (e.g. 127.0.0.1:3001)",
        )),
    };
    let metrics = match state.config.metrics_addr.clone() {
        None => None,
        Some(metrics_addr) => match tokio::net::TcpListener::bind(&metrics_addr).await {
            Ok(l) => Some(l),
            Err(e) => fail(busy(
                "METRICS_ADDR",
                &metrics_addr,
                &e,
                "set METRICS_ADDR to another address (e.g. 127.0.0.1:9465), or METRICS_ADDR=off to serve no metrics",
            )),
        },
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let banner = crm::seed::banner(&state, &addr, seeded).await;
    // The banner is written with errors ignored: a closed stdout must not stop a server.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|_| out.flush());
    }
    if let Some(metrics) = metrics {
        crm::metrics::handle();
        let at = metrics
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Metrics on http://{at}/metrics").and_then(|_| out.flush());
        }
        let app = crm::metrics::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    tracing::info!(config = ?state.config, "serving");
    crm::jobs::spawn_all(&state);
    let app = crm::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // No Nagle: a socket operation's `next` and `complete` are two small frames, and the
    // second would otherwise wait for the client's delayed ACK (~40 ms).
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
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
