//! `POST /graphql`, as the GraphQL-over-HTTP spec and its tools expect it:
//! - the body must be `application/json` (else 415: a cross-site form cannot fire `login`);
//! - a body that is not a GraphQL request in JSON gets a 400 with a GraphQL-shaped error;
//! - the answer is `application/json` when the client accepts it (or says nothing, or `*/*`),
//!   `application/graphql-response+json` when it asks for that; a client that accepts
//!   neither gets 406;
//! - a request that does not parse or validate has no `data` entry, and with
//!   `application/graphql-response+json` is a 400 (with `application/json`, a 200);
//! - every error carries `extensions.code`.
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::auth::context::RequestMeta;
use crate::error::AppError;
use crate::graphql::gate::Presented;
use crate::graphql::limits::{PARSE_FAILED, VALIDATION_FAILED};

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

/// `POST /graphql`. Each operation (the request, or each entry of a batch, in order) goes
/// through the operation gate on its own: authenticated afresh, so an entry after a
/// `cancelImpersonation` or a revoke, in this batch or another request, is refused.
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
    let presented = match super::bearer(&headers) {
        Err(e) => return app_error(media, e),
        Ok(token) => Presented {
            token: token.map(str::to_string),
            meta,
        },
    };
    match batch {
        BatchRequest::Single(r) => {
            let answer = s.gate.execute(&presented, r).await;
            if answer.unauthenticated {
                // Refused before anything ran: a request error (no `data`), 401 where the
                // media type lets the status speak.
                let status = match media {
                    MediaType::Json => StatusCode::OK,
                    MediaType::GraphqlResponseJson => StatusCode::UNAUTHORIZED,
                };
                let errors = serde_json::to_value(&answer.response.errors).unwrap_or_default();
                return errors_only(status, media, errors);
            }
            respond(media, BatchResponse::Single(answer.response))
        }
        BatchRequest::Batch(entries) => {
            let mut responses = Vec::with_capacity(entries.len());
            for r in entries {
                responses.push(s.gate.execute(&presented, r).await.response);
            }
            respond(media, BatchResponse::Batch(responses))
        }
    }
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

/// One response as the client reads it: a request error has no `data` entry. The keys keep
/// their order (the selection's): serialized straight from async-graphql's ordered maps.
#[derive(serde::Serialize)]
struct Body {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<async_graphql::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<async_graphql::ServerError>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Prepares one response: an error without a code (one async-graphql raised itself during
/// execution) gets `BAD_USER_INPUT` for an argument it could not coerce, else `INTERNAL`.
fn body(mut r: async_graphql::Response) -> (Body, bool) {
    for e in &mut r.errors {
        if e.message.starts_with("Subscriptions are not supported") {
            e.message = "subscriptions go over GET /graphql/ws (graphql-transport-ws)".into();
        }
        let code = crate::graphql::limits::execution_code(e);
        crate::graphql::limits::set_code(e, code);
    }
    let request_error = is_request_error(&r);
    let body = Body {
        data: (!request_error).then_some(r.data),
        errors: r.errors,
        extensions: r.extensions,
    };
    (body, request_error)
}

fn respond(media: MediaType, resp: BatchResponse) -> Response {
    let (text, request_error) = match resp {
        BatchResponse::Single(r) => {
            let (b, failed) = body(r);
            (serde_json::to_string(&b), failed)
        }
        BatchResponse::Batch(rs) => {
            let all: Vec<_> = rs.into_iter().map(body).collect();
            let failed = all.iter().all(|(_, e)| *e);
            let bodies: Vec<Body> = all.into_iter().map(|(b, _)| b).collect();
            (serde_json::to_string(&bodies), failed)
        }
    };
    let Ok(text) = text else {
        let errors = error("INTERNAL", "the answer could not be written");
        return errors_only(StatusCode::INTERNAL_SERVER_ERROR, media, errors);
    };
    let status = match (media, request_error) {
        (MediaType::GraphqlResponseJson, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    (status, [(header::CONTENT_TYPE, media.header())], text).into_response()
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
