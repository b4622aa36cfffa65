//! Brings in the front-end assets the server embeds (GraphiQL and React at the versions pinned
//! in `web/package-lock.json`) with `npm ci`, when they are not there yet. Nothing third-party
//! is kept in the repository; a fresh clone gets them on its first build.
use std::path::Path;
use std::process::Command;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let web = Path::new(&root).join("web");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-changed=web/graphiql");
    for asset in ASSETS {
        println!("cargo:rerun-if-changed=web/node_modules/{asset}");
    }
    if ASSETS
        .iter()
        .all(|a| web.join("node_modules").join(a).exists())
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&web)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("`npm ci` in web/ failed ({s})")),
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

fn fail(msg: &str) -> ! {
    eprintln!("error: the GraphiQL assets are missing and {msg}");
    std::process::exit(1)
}
