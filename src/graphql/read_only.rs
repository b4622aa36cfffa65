//! Read-only impersonation sessions, enforced where no mutation can forget it: in the
//! pipeline, for every field of the mutation root. In a READ_ONLY session every mutation but
//! `cancelImpersonation`, `elevateImpersonation` and `startPasskeyAuthentication` (the
//! admin's own passkey challenge, to elevate) is `BLOCKED_WHILE_IMPERSONATING` with
//! `extensions.reason: "READ_ONLY"`, before its resolver runs (so it changes nothing), and the
//! refusal is audited. A mutation added later is covered without anyone remembering.
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, ServerError, ServerResult, Value};

use super::context::Caller;
use super::guards::refuse_and_audit;
use crate::auth::context::RequestMeta;
use crate::auth::proof::MayWrite;

/// The mutations a READ_ONLY session may still make: leave, or ask to write (with a passkey
/// challenge of the admin's own, which touches nothing of the customer's).
pub const ALLOWED: [&str; 3] = [
    "cancelImpersonation",
    "elevateImpersonation",
    "startPasskeyAuthentication",
];

pub struct ReadOnlySessions;

impl ExtensionFactory for ReadOnlySessions {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ReadOnlySessions)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ReadOnlySessions {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let mutation = info.parent_type == "Mutation" && !ALLOWED.contains(&info.name);
        let caller = ctx.data_opt::<Caller>().and_then(|c| c.0.as_ref());
        if let Some(caller) = caller.filter(|_| mutation)
            && let Err(refusal) = MayWrite::check(caller)
        {
            let meta = ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default();
            let refusal = refuse_and_audit(ctx.data_opt(), caller, info.name, &meta, refusal);
            let extended = refusal.await.extend();
            let mut e = ServerError::new(extended.message, None);
            e.extensions = extended.extensions;
            e.path = info
                .path_node
                .to_string_vec()
                .into_iter()
                .map(async_graphql::PathSegment::Field)
                .collect();
            return Err(e);
        }
        next.run(ctx, info).await
    }
}
