//! What resolvers read of the request: the caller (attached once per operation by the gate,
//! `graphql::gate`) and the facts audit rows record. The one place that knows how they are
//! stored in the GraphQL context.
use async_graphql::Context;

use super::guards::refuse_and_audit;
use crate::auth::context::{AuthContext, RequestMeta};
use crate::auth::proof::{AsThemselves, MayWrite};
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

/// The caller's proof that they act as themselves (`auth::proof`), for the services that
/// must never run in an impersonation session. An impersonation token is refused, and the
/// refusal audited.
pub async fn as_themselves<'a>(ctx: &'a Context<'_>) -> Result<AsThemselves<'a>, AppError> {
    let c = caller(ctx)?;
    match AsThemselves::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

/// The caller's proof that they may change data (not a read-only session), for the services
/// that write the customer's data. A read-only session is refused, and the refusal audited.
pub async fn may_write<'a>(ctx: &'a Context<'_>) -> Result<MayWrite<'a>, AppError> {
    let c = caller(ctx)?;
    match MayWrite::check(c) {
        Ok(proof) => Ok(proof),
        Err(refusal) => Err(refused(ctx, c, refusal).await),
    }
}

async fn refused(ctx: &Context<'_>, c: &AuthContext, refusal: AppError) -> AppError {
    let field = ctx.item.node.name.node.as_str();
    refuse_and_audit(ctx.data_opt(), c, field, &request_meta(ctx), refusal).await
}
