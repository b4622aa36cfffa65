//! What resolvers read of the request: the caller (attached once per operation by the gate,
//! `graphql::gate`) and the facts audit rows record. The one place that knows how they are
//! stored in the GraphQL context.
use async_graphql::Context;

use crate::auth::context::{AuthContext, RequestMeta};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The caller as attached to the GraphQL request: `None` for an anonymous request.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<AuthContext>);

/// The signed-in caller, or `UNAUTHENTICATED`.
pub fn caller<'a>(ctx: &'a Context<'_>) -> AppResult<&'a AuthContext> {
    ctx.data_opt::<Caller>()
        .and_then(|c| c.0.as_ref())
        .ok_or(AppError::Unauthenticated("sign in first"))
}

/// The caller if any; anonymous requests get `None`.
pub fn maybe_caller<'a>(ctx: &'a Context<'_>) -> Option<&'a AuthContext> {
    ctx.data_opt::<Caller>().and_then(|c| c.0.as_ref())
}

pub fn request_meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default()
}

/// The server's state, attached to every request by the gate.
pub(crate) fn state<'a>(ctx: &'a Context<'_>) -> Result<&'a AppState, AppError> {
    ctx.data_opt::<AppState>()
        .ok_or_else(|| AppError::internal("app state missing"))
}
