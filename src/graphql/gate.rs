//! The operation gate. Every GraphQL operation passes it on its own: each entry of an HTTP
//! batch, and each `subscribe` message on `/graphql/ws`. For each one it
//!
//! 1. authenticates the token afresh (`services::accounts::bearer`): revocation, password
//!    change, the session's end, consent withdrawn, the kill switch, role or 2FA lost. An
//!    operation that starts after its session ended is `UNAUTHENTICATED` and runs nothing;
//! 2. refuses documents that nest too deeply before anything parses them (`nesting`);
//! 3. counts the operation as the session's activity (the idle timeout counts operations,
//!    nothing else);
//! 4. attaches the per-operation data (the caller, the client's address, fresh DataLoaders),
//!    with introspection allowed only where the rules allow it;
//! 5. runs it acting in its impersonation session (`db::acting_in`), so that every write
//!    checks inside its own transaction that the session still runs;
//! 6. records it in the session's activity ledger: refused, failing to parse or naming an
//!    unknown operation included, and subscriptions too, once they are open or refused.
//!
//! The read-only rule and the guards then admit or refuse the operation's fields.
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::DataLoader;
use async_graphql::{Data, Request, Response, ServerError};
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};

use super::completion::{self, Operation, Shapes};
use super::ledger_row;
use super::limits::{PARSE_FAILED, VALIDATION_FAILED, set_code};
use super::loaders::{
    ChangeCountLoader, ContactLoader, LOADER_DELAY, MembersLoader, TeamLoader, UserLoader,
};
use super::{AppSchema, nesting};
use crate::auth::context::{AuthContext, RequestMeta};
use crate::config::Environment;
use crate::error::AppError;
use crate::graphql::context::Caller;
use crate::services::{accounts::bearer, impersonation::ledger};
use crate::state::AppState;

/// At most this many `__schema`/`__type` fields at the top of an introspection operation
/// (the standard query has one): each answers the whole schema, so aliases must not multiply
/// them under the introspection schema's generous limits.
const MAX_INTROSPECTION_FIELDS: usize = 4;

/// At most this much of a client's operation name is echoed back in an error.
const ECHO: usize = 64;

/// What every operation goes through. Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    pub state: AppState,
    pub schema: AppSchema,
    /// The same schema with limits that fit the standard introspection query.
    pub introspection_schema: AppSchema,
    /// Record impersonated operations (always, but for the benchmark of what it costs).
    pub ledger: bool,
    /// The schema's field types, to give answers the shape the spec says.
    pub shapes: Arc<Shapes>,
}

/// How an operation was presented: the bearer token (none: anonymous) and the client.
#[derive(Clone, Debug, Default)]
pub struct Presented {
    pub token: Option<String>,
    pub meta: RequestMeta,
}

/// An operation's answer, and whether the gate refused it for its token.
pub struct Answer {
    pub response: Response,
    pub unauthenticated: bool,
}

/// Set by `impersonate` when it starts a session: the response's selection reads the
/// customer's data (their notices, grants, team), so it is recorded in the new session's
/// ledger.
#[derive(Default)]
pub struct StartedSession(Mutex<Option<String>>);

impl StartedSession {
    pub fn note(ctx: &async_graphql::Context<'_>, session: &str) {
        if let Some(s) = ctx.data_opt::<Arc<StartedSession>>() {
            *s.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.to_string());
        }
    }
}

/// Rung by a subscription once it is open (its guards passed and it listens).
#[derive(Default)]
pub struct Opened(tokio::sync::Notify);

impl Opened {
    pub fn note(ctx: &async_graphql::Context<'_>) {
        if let Some(o) = ctx.data_opt::<Arc<Opened>>() {
            o.0.notify_one();
        }
    }
}

/// An admitted operation, ready to run.
struct Admitted {
    request: Request,
    caller: Option<AuthContext>,
    started: Arc<StartedSession>,
    opened: Arc<Opened>,
    /// The parsed document (parsed once: execution uses the same parse); `None` when it
    /// does not parse.
    operation: Option<Operation>,
}

impl Admitted {
    fn session(&self) -> Option<String> {
        session_of(self.caller.as_ref())
    }

    /// What the ledger records of this operation, when it may start a session (`impersonate`
    /// by an admin acting as themselves): its answer is recorded in the new session.
    fn recorded_if_may_start(&self) -> Option<ledger::Operation> {
        let may = self
            .caller
            .as_ref()
            .is_some_and(|c| c.role.is_admin() && !c.is_impersonating());
        (may && self.request.query.contains("impersonate")).then(|| self.recorded())
    }

    /// What the ledger records of this operation.
    fn recorded(&self) -> ledger::Operation {
        match &self.operation {
            Some(o) => ledger_row::operation(o.document(), o.name(), &self.request.variables),
            None => ledger_row::unknown(self.request.operation_name.as_deref()),
        }
    }
}

/// What the operation's span says (when traces are exported): its type, its name (at most 64
/// characters) and the impersonation session's id. Never its variables, code or token.
fn traced(kind: &'static str, admitted: &Admitted, session: Option<&str>) {
    if !crate::telemetry::enabled() {
        return;
    }
    let span = tracing::Span::current();
    crate::telemetry::rename(&span, format!("graphql {kind}"));
    span.record("graphql.operation.type", kind);
    let named = admitted
        .operation
        .as_ref()
        .and_then(|o| ledger_row::operation_name(o.document(), o.name()));
    if let Some(name) = named {
        span.record(
            "graphql.operation.name",
            name.chars().take(64).collect::<String>(),
        );
    }
    if let Some(id) = session {
        span.record("crm.impersonation.session_id", id);
    }
}

fn session_of(caller: Option<&AuthContext>) -> Option<String> {
    caller
        .and_then(|c| c.impersonation.as_ref())
        .map(|i| i.record.id.clone())
}

impl Gate {
    /// Runs one query or mutation (an HTTP request, or one entry of a batch), in a span of its
    /// own when traces are exported.
    pub async fn execute(&self, presented: &Presented, request: Request) -> Answer {
        match crate::telemetry::enabled() {
            false => self.execute_operation(presented, request).await,
            true => {
                use tracing::Instrument;
                let span = crate::telemetry::operation_span();
                self.execute_operation(presented, request)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn execute_operation(&self, presented: &Presented, request: Request) -> Answer {
        let started = std::time::Instant::now();
        let admitted = match self.admit(presented, request).await {
            Ok(a) => a,
            Err(answer) => {
                counted("unknown", &answer.response, started);
                return answer;
            }
        };
        let kind = kind_of(&admitted);
        let session = admitted.session();
        traced(kind, &admitted, session.as_deref());
        let recorded = self.ledger_row(&admitted);
        let may_start = admitted.recorded_if_may_start();
        // Recorded before it runs: an operation the ledger cannot hold does not run.
        let row = match self.begin(session.as_deref(), recorded.as_ref()).await {
            Ok(row) => row,
            Err(refused) => {
                counted(kind, &refused, started);
                return Answer {
                    response: refused,
                    unauthenticated: false,
                };
            }
        };
        let schema = self.schema_for(&admitted.request);
        let operation = admitted.operation.clone();
        let response =
            crate::db::acting_in(session.clone(), schema.execute(admitted.request)).await;
        let response = self.finish(operation.as_ref(), response);
        self.settle(row.as_deref(), &response).await;
        self.record_started(&admitted.started, may_start.as_ref(), &response)
            .await;
        counted(kind, &response, started);
        Answer {
            response,
            unauthenticated: false,
        }
    }

    /// Runs one operation of a socket: a subscription, or a query or mutation answered once.
    /// The socket's connection data (`session_data`) is shared by its operations; the
    /// caller and the loaders are this operation's own.
    pub fn execute_stream(
        &self,
        presented: Presented,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let gate = self.clone();
        let operation = async move {
            let began = std::time::Instant::now();
            let admitted = match gate.admit(&presented, request).await {
                Ok(a) => a,
                Err(answer) => {
                    counted("unknown", &answer.response, began);
                    return futures_util::stream::iter([answer.response]).boxed();
                }
            };
            let kind = kind_of(&admitted);
            let session = admitted.session();
            traced(kind, &admitted, session.as_deref());
            let recorded = gate.ledger_row(&admitted);
            let may_start = admitted.recorded_if_may_start();
            // Recorded before it runs: an operation the ledger cannot hold does not run.
            let row = match gate.begin(session.as_deref(), recorded.as_ref()).await {
                Ok(row) => row,
                Err(refused) => {
                    counted(kind, &refused, began);
                    return futures_util::stream::iter([refused]).boxed();
                }
            };
            let opened = admitted.opened.clone();
            let started = admitted.started.clone();
            let schema = gate.schema_for(&admitted.request).clone();
            let operation = admitted.operation.clone();
            let finisher = gate.clone();
            let inner = schema
                .execute_stream_with_session_data(
                    admitted.request,
                    session_data.unwrap_or_default(),
                )
                .map(move |r| finisher.finish(operation.as_ref(), r))
                .boxed();
            let mut inner = crate::db::ActingIn {
                session: session.clone(),
                inner,
            };
            // The ledger row is settled when the operation's outcome is known: its first
            // answer (a query, a mutation, a refused subscription), or the subscription
            // opening.
            let first = tokio::select! {
                biased;
                first = inner.next() => first,
                _ = opened.0.notified() => None,
            };
            let ok = Response::new(async_graphql::Value::Null);
            gate.settle(row.as_deref(), first.as_ref().unwrap_or(&ok))
                .await;
            counted(kind, first.as_ref().unwrap_or(&ok), began);
            if let Some(r) = &first {
                gate.record_started(&started, may_start.as_ref(), r).await;
            }
            futures_util::stream::iter(first).chain(inner).boxed()
        };
        // Traced: the span covers the operation up to its first answer.
        match crate::telemetry::enabled() {
            false => operation.flatten_stream().boxed(),
            true => {
                use tracing::Instrument;
                let span = crate::telemetry::operation_span();
                operation.instrument(span).flatten_stream().boxed()
            }
        }
    }

    /// Everything before the operation runs.
    async fn admit(&self, presented: &Presented, request: Request) -> Result<Admitted, Answer> {
        let state = &self.state;
        let caller = match &presented.token {
            None => None,
            Some(token) => match bearer::authenticate(state, token).await {
                Ok(c) => Some(c),
                Err(e) => {
                    return Err(Answer {
                        response: refusal(&e),
                        unauthenticated: matches!(e, AppError::Unauthenticated(_)),
                    });
                }
            },
        };
        if let Err(too_deep) = nesting::check(&request.query) {
            let mut e = ServerError::new(format!("the document is refused: {}", too_deep.0), None);
            set_code(&mut e, PARSE_FAILED);
            let response = Response::from_errors(vec![e]);
            if self.ledger
                && let Some(session) = session_of(caller.as_ref())
            {
                let op = ledger_row::unknown(request.operation_name.as_deref());
                let at = state.clock.now();
                record_row(state, &session, &op, PARSE_FAILED, at).await;
            }
            return Err(Answer {
                response,
                unauthenticated: false,
            });
        }
        let mut caller = caller;
        if let Some(c) = caller.as_mut()
            && let Err(e) = bearer::note_operation(state, c).await
        {
            tracing::error!(error = %e, "cannot note a session's activity");
        }
        let introspection = state.config.environment == Environment::Development
            || caller.as_ref().is_some_and(AuthContext::may_introspect);
        let mut request = request;
        if !introspection {
            request = request.disable_introspection();
        }
        let started = Arc::new(StartedSession::default());
        let opened = Arc::new(Opened::default());
        let mut request = with_operation_data(state, request, caller.clone(), &presented.meta)
            .data(started.clone())
            .data(opened.clone());
        let name = request.operation_name.clone();
        let operation = match request.parsed_query() {
            Ok(doc) => Some(Operation::new(doc.clone(), name.as_deref())),
            Err(_) => None,
        };
        Ok(Admitted {
            request,
            caller,
            started,
            opened,
            operation,
        })
    }

    /// The introspection schema for a request that only introspects; else the normal one.
    fn schema_for(&self, request: &Request) -> &AppSchema {
        match request.introspection_mode == async_graphql::IntrospectionMode::Enabled
            && only_introspection(request)
        {
            true => &self.introspection_schema,
            false => &self.schema,
        }
    }

    /// What the ledger records of an impersonated operation; `None` when nothing is.
    fn ledger_row(&self, admitted: &Admitted) -> Option<ledger::Operation> {
        (self.ledger && admitted.session().is_some()).then(|| admitted.recorded())
    }

    /// The answer as the client gets it: request errors named, and the spec's shape (errors
    /// null their nearest nullable parent; keys in the selection's order).
    fn finish(&self, operation: Option<&Operation>, response: Response) -> Response {
        let response = tidy(response);
        match operation {
            Some(o) => completion::complete(&self.shapes, o, response),
            None => response,
        }
    }

    /// Writes the ledger row of an operation about to run in `session` (outcome pending):
    /// its id, or `None` when nothing is recorded. When the row cannot be written the
    /// operation is refused (`INTERNAL`) and must not run.
    async fn begin(
        &self,
        session: Option<&str>,
        op: Option<&ledger::Operation>,
    ) -> Result<Option<String>, Response> {
        let (Some(session), Some(op)) = (session, op) else {
            return Ok(None);
        };
        let at = self.state.clock.now();
        match ledger::begin(&self.state, session, op, at).await {
            Ok(row) => Ok(Some(row)),
            Err(e) => {
                tracing::error!(error = %e, "cannot record an impersonated operation: refused");
                crate::metrics::ledger_refusal();
                Err(refusal(&AppError::Internal(
                    "the operation could not be recorded".into(),
                )))
            }
        }
    }

    /// Sets the outcome of the row `begin` wrote.
    async fn settle(&self, row: Option<&str>, response: &Response) {
        let Some(row) = row else {
            return;
        };
        if let Err(e) = ledger::settle(&self.state, row, &outcome(response)).await {
            tracing::error!(error = %e, "cannot settle an impersonated operation's outcome");
        }
    }

    /// Writes the ledger row of an operation made in `session`, once it has run.
    async fn record(
        &self,
        session: Option<&str>,
        op: Option<&ledger::Operation>,
        response: &Response,
    ) {
        let (Some(session), Some(op)) = (session, op) else {
            return;
        };
        let at = self.state.clock.now();
        record_row(&self.state, session, op, &outcome(response), at).await;
    }

    /// Records a successful `impersonate` in the session it started: its answer reads the
    /// customer's data. `op` is what the ledger records of it, kept for a caller who may
    /// start one.
    async fn record_started(
        &self,
        started: &StartedSession,
        op: Option<&ledger::Operation>,
        response: &Response,
    ) {
        let session = started.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        let (Some(session), Some(op), true) = (session, op, self.ledger) else {
            return;
        };
        self.record(Some(&session), Some(op), response).await;
    }
}

async fn record_row(
    state: &AppState,
    session: &str,
    op: &ledger::Operation,
    outcome: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    if let Err(e) = ledger::record_alone(state, session, op, outcome, at).await {
        tracing::error!(error = %e, "cannot record an impersonated operation");
    }
}

/// OK, or the first error's code.
/// The operation's type, for the metrics: query, mutation, subscription, or unknown (it does
/// not parse, or names no operation of its document).
fn kind_of(admitted: &Admitted) -> &'static str {
    admitted
        .operation
        .as_ref()
        .map_or("unknown", |o| ledger_row::kind(o.document(), o.name()))
}

/// Counts an answered operation in the metrics (`crate::metrics`).
fn counted(kind: &'static str, response: &Response, started: std::time::Instant) {
    crate::metrics::operation(kind, &outcome(response), started.elapsed().as_secs_f64());
}

fn outcome(response: &Response) -> String {
    let Some(e) = response.errors.first() else {
        return "OK".into();
    };
    match e.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(code)) => code.clone(),
        _ => super::limits::execution_code(e).to_string(),
    }
}

/// The answer to an operation the gate refused.
fn refusal(e: &AppError) -> Response {
    let extended = async_graphql::ErrorExtensions::extend(e);
    let mut err = ServerError::new(extended.message, None);
    err.extensions = extended.extensions;
    Response::from_errors(vec![err])
}

/// Request errors async-graphql raises without a code: an operation name that is missing
/// where the document has several operations, or names none of them. They are the client's
/// (`GRAPHQL_VALIDATION_FAILED`), and the name is echoed back only in part.
fn tidy(mut response: Response) -> Response {
    for e in &mut response.errors {
        let unknown = e.message.starts_with("Unknown operation named");
        if unknown || e.message == "Operation name required in request." {
            if unknown {
                let name: String = e
                    .message
                    .trim_start_matches("Unknown operation named \"")
                    .trim_end_matches('"')
                    .chars()
                    .take(ECHO)
                    .collect();
                e.message = format!("the document has no operation named \"{name}\"");
            } else {
                e.message = "the document has several operations: name one in operationName".into();
            }
            set_code(e, VALIDATION_FAILED);
        }
    }
    response
}

/// Whether the operation only introspects (a few `__schema` or `__type` fields at the top,
/// nothing else): it then runs on the introspection schema, whose limits fit the standard
/// introspection query. Anything else runs under the normal limits.
fn only_introspection(r: &Request) -> bool {
    use async_graphql::parser::types::Selection;
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
}

/// The data every operation carries: the caller, the client's address, and fresh
/// DataLoaders (a cache per operation, under this operation's caller).
fn with_operation_data(
    state: &AppState,
    request: Request,
    caller: Option<AuthContext>,
    meta: &RequestMeta,
) -> Request {
    let db = &state.db;
    let contact = ContactLoader {
        db: db.clone(),
        viewer: caller.clone(),
    };
    request
        .data(Caller(caller))
        .data(meta.clone())
        .data(Arc::new(
            DataLoader::new(UserLoader(db.clone()), tokio::spawn).delay(LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(TeamLoader(db.clone()), tokio::spawn).delay(LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(MembersLoader(db.clone()), tokio::spawn).delay(LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(contact, tokio::spawn).delay(LOADER_DELAY),
        ))
        .data(Arc::new(
            DataLoader::new(ChangeCountLoader(db.clone()), tokio::spawn).delay(LOADER_DELAY),
        ))
        .data(Arc::new(super::types::KillSwitchOnce::default()))
}
