//! The web console (`web/app`, built into `web/dist` by `build.rs`): `GET /` serves the page,
//! `GET /assets/{file}` its bundle. Same origin as the API, so no CORS; the page's policy
//! allows scripts, styles and connections only from this server (`data:` images for the 2FA
//! QR code).
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Dist;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `GET /`: the console's page. Never cached: it names the current bundle.
pub async fn page() -> Response {
    match Dist::get("index.html") {
        Some(file) => super::html_page(CSP, file.data.into_owned()),
        None => (
            StatusCode::NOT_FOUND,
            "the web console was not built (build.rs runs `npm run build` in web/)",
        )
            .into_response(),
    }
}

/// `GET /assets/{file}`: the bundle. Its names carry a content hash, so it is cached for good.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(file) = Dist::get(&format!("assets/{name}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let media = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    super::static_file(
        media,
        "public, max-age=31536000, immutable",
        file.data.into_owned(),
    )
}
