//! Brings in the front end with npm and builds it, so that a fresh clone needs only
//! `cargo run`:
//! - `npm ci` in `web/` when `node_modules` is missing or older than `package-lock.json`
//!   (GraphiQL and React at the pinned versions, the console's toolchain);
//! - `npm run build`: typed operations from `schema.graphql` (graphql-codegen), a type check
//!   (tsc) and the console's bundle in `web/dist/` (Vite), which the server embeds.
//!
//! Nothing third-party is kept in the repository.
use std::path::Path;
use std::process::Command;

/// The inputs of the web build: cargo runs this script again when one changes.
const INPUTS: &[&str] = &[
    "web/package.json",
    "web/package-lock.json",
    "web/graphiql",
    "web/app",
    "web/codegen.json",
    "web/vite.config.ts",
    "web/tsconfig.json",
    "schema.graphql",
];

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let web = Path::new(&root).join("web");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    for asset in ASSETS {
        println!("cargo:rerun-if-changed=web/node_modules/{asset}");
    }
    if needs_install(&web) {
        npm(&web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    }
    npm(&web, &["run", "build", "--silent"]);
}

/// `node_modules` is missing a file the build needs, or predates the lockfile.
fn needs_install(web: &Path) -> bool {
    let modules = web.join("node_modules");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let missing = ASSETS
        .iter()
        .chain(TOOLS)
        .any(|a| !modules.join(a).exists());
    let stale = match (
        modified(&web.join("package-lock.json")),
        modified(&modules.join(".package-lock.json")),
    ) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    };
    missing || stale
}

fn npm(web: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(web).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("`npm {}` in web/ failed ({s})", args.join(" "))),
        Err(e) => fail(&format!("cannot run npm ({e}): install Node.js and npm")),
    }
}

/// The files `src/http/graphiql.rs` embeds.
const ASSETS: &[&str] = &[
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
];

/// The console's build tools.
const TOOLS: &[&str] = &[".bin/vite", ".bin/tsc", ".bin/graphql-codegen"];

fn fail(msg: &str) -> ! {
    eprintln!("error: the web front end cannot be built: {msg}");
    std::process::exit(1)
}
