//! GraphiQL at `GET /graphql`, served entirely by this server: the page, its start-up script
//! and GraphiQL's and React's files at the versions pinned in `web/package-lock.json`,
//! embedded in the binary at build time (`build.rs` brings them in with `npm ci`). No CDN, so
//! it works offline, and a strict Content-Security-Policy keeps any other origin's script off
//! the page where admins paste impersonation-capable tokens.
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../../web/graphiql/index.html");

/// The page's files: (name, media type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../web/node_modules/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../web/node_modules/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../web/node_modules/react/umd/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../web/node_modules/react-dom/umd/react-dom.production.min.js"),
    ),
    (
        "init.js",
        "text/javascript",
        include_bytes!("../../web/graphiql/init.js"),
    ),
    (
        "page.css",
        "text/css",
        include_bytes!("../../web/graphiql/page.css"),
    ),
];

/// `GET /graphql`: the GraphiQL page (when enabled). Operations are never executed over GET
/// (a link must not be able to run a mutation): `?query=` answers 405.
pub async fn page(State(s): State<HttpState>, uri: Uri) -> Response {
    if uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("query=")))
    {
        let msg = "GraphQL operations must be sent with POST";
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            msg,
        )
            .into_response();
    }
    if !s.app.config.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    super::html_page(CSP, PAGE)
}

/// `GET /graphiql/{file}`: the page's files, cacheable.
pub async fn asset(State(s): State<HttpState>, Path(name): Path<String>) -> Response {
    let found = ASSETS.iter().find(|(n, _, _)| *n == name);
    match (s.app.config.graphiql, found) {
        (true, Some((_, media, bytes))) => super::static_file(
            HeaderValue::from_static(media),
            "public, max-age=3600",
            *bytes,
        ),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
