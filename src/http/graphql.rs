//! `POST /graphql`, as the GraphQL-over-HTTP spec and its tools expect it:
//! - the body must be `application/json` (else 415: a cross-site form cannot fire `login`);
//! - a body that is not a GraphQL request in JSON gets a 400 with a GraphQL-shaped error;
//! - the answer is `application/json` when the client accepts it (or says nothing, or `*/*`),
//!   `application/graphql-response+json` when it asks for that; a client that accepts
//!   neither gets 406;
//! - a request that does not parse or validate has no `data` entry, and with
//!   `application/graphql-response+json` is a 400 (with `application/json`, a 200);
//! - every error carries `extensions.code`.
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::auth::context::{AuthContext, Caller, RequestMeta};
use crate::config::Environment;
use crate::error::AppError;
use crate::graphql::limits::{PARSE_FAILED, VALIDATION_FAILED};
use crate::graphql::loaders::{MembersLoader, TeamLoader, UserLoader};

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The media type of the answer, from the request's `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    GraphqlResponseJson,
}

impl MediaType {
    /// `application/graphql-response+json` if the client lists it (first, or without JSON
    /// before it), `application/json` if it accepts that, `*/*` or says nothing; `None` if it
    /// accepts neither.
    pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(MediaType::Json);
        };
        for range in accept.split(',') {
            let (media, params) = range.split_once(';').unwrap_or((range, ""));
            let q_zero = params
                .split(';')
                .any(|p| p.trim().replace(' ', "") == "q=0");
            if q_zero {
                continue;
            }
            match media.trim().to_ascii_lowercase().as_str() {
                GRAPHQL_RESPONSE_JSON => return Some(MediaType::GraphqlResponseJson),
                JSON | "application/*" | "*/*" => return Some(MediaType::Json),
                _ => {}
            }
        }
        None
    }

    fn header(self) -> HeaderValue {
        match self {
            MediaType::Json => HeaderValue::from_static("application/json; charset=utf-8"),
            MediaType::GraphqlResponseJson => {
                HeaderValue::from_static("application/graphql-response+json; charset=utf-8")
            }
        }
    }
}

/// A response of errors only, from before execution.
fn errors_only(status: StatusCode, media: MediaType, errors: serde_json::Value) -> Response {
    let body = serde_json::json!({ "errors": errors }).to_string();
    (status, [(header::CONTENT_TYPE, media.header())], body).into_response()
}

/// One error with a code, as a GraphQL error object.
fn error(code: &str, message: impl Into<String>) -> serde_json::Value {
    serde_json::json!([{ "message": message.into(), "extensions": { "code": code } }])
}

/// A request-level refusal from an `AppError` (a bad token, a batch too large).
fn app_error(media: MediaType, e: AppError) -> Response {
    let extended = async_graphql::ErrorExtensions::extend(&e);
    let mut err = async_graphql::ServerError::new(extended.message, None);
    err.extensions = extended.extensions;
    let status = match (media, &e) {
        (MediaType::GraphqlResponseJson, AppError::Unauthenticated(_)) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    let errors = serde_json::to_value(vec![err]).unwrap_or_default();
    errors_only(status, media, errors)
}

/// Whether the body is declared JSON (`application/json`, any parameters).
fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(JSON))
}

/// At most this many `__schema`/`__type` fields at the top of an introspection operation
/// (the standard query has one): each answers the whole schema, so aliases must not multiply
/// them under the introspection schema's generous limits.
const MAX_INTROSPECTION_FIELDS: usize = 4;

/// Whether every operation in the request only introspects (a few `__schema` or `__type`
/// fields at the top, nothing else): such a request runs on the introspection schema, whose
/// limits fit the standard introspection query. Anything else runs under the normal limits.
fn only_introspection(batch: &BatchRequest) -> bool {
    use async_graphql::parser::types::Selection;
    batch.iter().all(|r| {
        if !r.query.contains("__schema") && !r.query.contains("__type") {
            return false;
        }
        let Ok(doc) = async_graphql::parser::parse_query(&r.query) else {
            return false;
        };
        doc.operations.iter().all(|(_, op)| {
            let items = &op.node.selection_set.node.items;
            let introspects = |s: &async_graphql::Positioned<Selection>| match &s.node {
                Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
                _ => false,
            };
            items.len() <= MAX_INTROSPECTION_FIELDS && items.iter().all(introspects)
        })
    })
}

/// `POST /graphql`. Authenticates once, then runs the request with the `AuthContext`, the
/// request facts and fresh per-request DataLoaders attached.
pub async fn graphql(s: HttpState, headers: HeaderMap, meta: RequestMeta, body: Bytes) -> Response {
    let Some(media) = MediaType::negotiate(&headers) else {
        let msg = format!("answers are {JSON} or {GRAPHQL_RESPONSE_JSON}");
        return (StatusCode::NOT_ACCEPTABLE, msg).into_response();
    };
    if !is_json_body(&headers) {
        let msg = format!("the request body must be {JSON}");
        let errors = error(PARSE_FAILED, msg);
        return errors_only(StatusCode::UNSUPPORTED_MEDIA_TYPE, media, errors);
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("the body is not a GraphQL request in JSON: {e}");
            return errors_only(StatusCode::BAD_REQUEST, media, error(PARSE_FAILED, msg));
        }
    };
    // The parsed request owns its strings: the raw body is not kept through execution (under a
    // flood of large bodies that copy was a quarter of the peak memory).
    drop(body);
    let config = &s.app.config;
    if let BatchRequest::Batch(ops) = &batch
        && ops.len() > config.max_batch
    {
        let msg = format!("at most {} operations per batch", config.max_batch);
        let status = match media {
            MediaType::Json => StatusCode::OK,
            MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        };
        return errors_only(status, media, error(VALIDATION_FAILED, msg));
    }
    let caller = match super::bearer(&headers) {
        Err(e) => return app_error(media, e),
        Ok(None) => None,
        Ok(Some(token)) => match crate::services::authentication::authenticate(&s.app, token).await
        {
            Ok(c) => Some(c),
            Err(e) => return app_error(media, e),
        },
    };
    // In production the schema is visible only to 2FA-authenticated admins.
    let introspection = config.environment == Environment::Development
        || caller.as_ref().is_some_and(AuthContext::may_introspect);
    let schema = match introspection && only_introspection(&batch) {
        true => &s.introspection_schema,
        false => &s.schema,
    };
    let mut batch = batch;
    if !introspection {
        batch = batch.disable_introspection();
    }
    let db = &s.app.db;
    let batch = batch
        .data(Caller(caller))
        .data(meta)
        .data(Arc::new(
            DataLoader::new(UserLoader(db.clone()), tokio::spawn)
                .delay(crate::graphql::loaders::LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(TeamLoader(db.clone()), tokio::spawn)
                .delay(crate::graphql::loaders::LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(MembersLoader(db.clone()), tokio::spawn)
                .delay(crate::graphql::loaders::LOADER_DELAY),
        ))
        .data(Arc::new(crate::graphql::types::SwitchOnce::default()));
    respond(media, schema.execute_batch(batch).await)
}

/// Whether a response is a request error: nothing ran because the document did not parse or
/// validate.
fn is_request_error(r: &async_graphql::Response) -> bool {
    let code = |e: &async_graphql::ServerError| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
    };
    !r.errors.is_empty()
        && r.data == async_graphql::Value::Null
        && r.errors.iter().all(|e| {
            matches!(
                code(e).as_deref(),
                Some(PARSE_FAILED) | Some(VALIDATION_FAILED)
            )
        })
}

/// Serializes one response: a request error has no `data` entry; an error without a code
/// (one async-graphql raised itself during execution) gets `BAD_USER_INPUT` for an argument
/// it could not coerce, else `INTERNAL`.
fn to_json(mut r: async_graphql::Response) -> (serde_json::Value, bool) {
    for e in &mut r.errors {
        if e.message.starts_with("Subscriptions are not supported") {
            e.message = "subscriptions go over GET /graphql/ws (graphql-transport-ws)".into();
        }
        let code = crate::graphql::limits::execution_code(e);
        crate::graphql::limits::set_code(e, code);
    }
    let request_error = is_request_error(&r);
    let mut v = serde_json::to_value(&r).unwrap_or_default();
    if request_error && let Some(o) = v.as_object_mut() {
        o.remove("data");
    }
    (v, request_error)
}

fn respond(media: MediaType, resp: BatchResponse) -> Response {
    let (body, request_error) = match resp {
        BatchResponse::Single(r) => to_json(r),
        BatchResponse::Batch(rs) => {
            let all: Vec<_> = rs.into_iter().map(to_json).collect();
            let failed = all.iter().all(|(_, e)| *e);
            (
                serde_json::Value::Array(all.into_iter().map(|(v, _)| v).collect()),
                failed,
            )
        }
    };
    let status = match (media, request_error) {
        (MediaType::GraphqlResponseJson, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    (
        status,
        [(header::CONTENT_TYPE, media.header())],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<MediaType> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        MediaType::negotiate(&h)
    }

    #[test]
    fn the_answer_type_follows_accept() {
        assert_eq!(
            MediaType::negotiate(&HeaderMap::new()),
            Some(MediaType::Json)
        );
        assert_eq!(accept("application/json"), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }
}
