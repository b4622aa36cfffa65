//! Traces, over OTLP/HTTP (protobuf), when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a span per
//! HTTP request (its parent the caller's W3C `traceparent`, when one came), per GraphQL
//! operation (the gate; the impersonation session's id as an attribute, never its code or a
//! token) and per database statement (SeaORM's `tracing-spans`: the SQL with its placeholders,
//! never a bound value). The exporter's own settings (`OTEL_EXPORTER_OTLP_*`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_SERVICE_NAME`) are read by the OpenTelemetry SDK.
//!
//! Off (the default) no span of ours is made at all: the request path pays one atomic load.
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (and so made).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The layer that exports spans, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces variant)
/// is set; `None` otherwise. Must be called inside the tokio runtime (the batch exporter runs
/// on it). Only this service's spans and SeaORM's statements go out.
pub fn layer<S>() -> Result<Option<Box<dyn tracing_subscriber::Layer<S> + Send + Sync>>, String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    let set = |v: &str| std::env::var(v).is_ok_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(None);
    }
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
    let batch =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "crm-impersonation".into());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    let tracer = provider.tracer("crm-impersonation");
    let _ = PROVIDER.set(provider);
    ENABLED.store(true, Ordering::Relaxed);
    let only_ours = tracing_subscriber::filter::Targets::new()
        .with_target("crm", tracing::Level::INFO)
        .with_target("sea_orm", tracing::Level::INFO);
    use tracing_subscriber::Layer;
    Ok(Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(only_ours)
            .boxed(),
    ))
}

/// Sends what is still batched (at a clean shutdown).
pub fn flush() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.force_flush();
    }
}

/// The request's headers as the W3C propagator reads them: `traceparent`, `tracestate`.
struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A request's method as spans and logs name it: one of HTTP's own (RFC 9110 and PATCH), else
/// `_OTHER`, as OpenTelemetry's semantic conventions say, so a client cannot mint names.
pub fn known_method(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::DELETE => "DELETE",
        M::CONNECT => "CONNECT",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// The span of one HTTP request: `METHOD route` (a known method or `_OTHER`; the route as
/// routed, never the path a client chose), its parent the incoming `traceparent`.
pub fn http_span(
    headers: &axum::http::HeaderMap,
    method: &'static str,
    route: &str,
) -> tracing::Span {
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
    span
}

/// Names an exported span once it has started (a started span's `otel.name` field no longer
/// renames it).
pub fn rename(span: &tracing::Span, name: String) {
    use opentelemetry::trace::TraceContextExt;
    span.context().span().update_name(name);
}

/// The span of one GraphQL operation; the gate records its type, name and session.
pub fn operation_span() -> tracing::Span {
    tracing::info_span!(
        "graphql.operation",
        otel.name = "graphql",
        graphql.operation.type = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
        crm.impersonation.session_id = tracing::field::Empty,
    )
}
