//! Records every operation made with an impersonation token in the session's activity
//! ledger (`services::activity`), refused ones included: those the guards or the read-only
//! rule refuse, and those that fail validation. The document is kept only for impersonated
//! requests; any other request passes through untouched. The row is written after the
//! operation, on its own (outside the operation's transaction).
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Response, ServerResult, Variables};

use crate::AppState;
use crate::auth::context::Caller;
use crate::services::activity::{self, Operation};

pub struct ActivityLedger;

impl ExtensionFactory for ActivityLedger {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Ledger::default())
    }
}

/// What an impersonated request asked for, kept between the hooks of one request.
struct Seen {
    state: AppState,
    session: String,
    document: ExecutableDocument,
    operation_name: Option<String>,
}

#[derive(Default)]
struct Ledger(Mutex<Option<Seen>>);

impl Ledger {
    fn with<R>(&self, f: impl FnOnce(&mut Option<Seen>) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Ledger {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let session = ctx
            .data_opt::<Caller>()
            .and_then(|c| c.0.as_ref())
            .and_then(|c| c.impersonation.as_ref())
            .map(|i| i.record.id.clone());
        if let (Some(session), Some(state)) = (session, ctx.data_opt::<AppState>()) {
            let seen = Seen {
                state: state.clone(),
                session,
                document: document.clone(),
                operation_name: None,
            };
            self.with(|s| *s = Some(seen));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(name) = operation_name {
            self.with(|s| {
                if let Some(seen) = s {
                    seen.operation_name = Some(name.to_string());
                }
            });
        }
        next.run(ctx, operation_name).await
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        if let Some(seen) = self.with(Option::take) {
            let op = operation(&seen.document, seen.operation_name.as_deref());
            let outcome = outcome(&response);
            let now = seen.state.clock.now();
            if let Err(e) =
                activity::record_alone(&seen.state, &seen.session, &op, &outcome, now).await
            {
                tracing::error!(error = %e, "cannot record an impersonated operation");
            }
        }
        response
    }
}

/// OK, or the first error's code.
fn outcome(response: &Response) -> String {
    let Some(e) = response.errors.first() else {
        return "OK".into();
    };
    match e.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(code)) => code.clone(),
        _ => super::limits::execution_code(e).to_string(),
    }
}

/// The operation a document runs: the one named, else its only one.
pub fn operation(doc: &ExecutableDocument, name: Option<&str>) -> Operation {
    let (name, op) = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => (None, Some(op)),
        (DocumentOperations::Multiple(map), Some(n)) => (Some(n.to_string()), map.get(n)),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            let (n, op) = map.iter().next().expect("one operation");
            (Some(n.to_string()), Some(op))
        }
        (DocumentOperations::Multiple(_), None) => (None, None),
    };
    let Some(op) = op else {
        return Operation {
            kind: "query",
            name,
            fields: vec![],
        };
    };
    let kind = match op.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let mut fields = Vec::new();
    top_level(doc, &op.node.selection_set.node, 0, &mut fields);
    Operation { kind, name, fields }
}

/// The field names at the top of a selection set, through fragments, each once.
fn top_level(doc: &ExecutableDocument, set: &SelectionSet, depth: u8, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            Selection::FragmentSpread(s) => {
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                    top_level(doc, &frag.node.selection_set.node, depth + 1, out);
                }
            }
            Selection::InlineFragment(i) => {
                top_level(doc, &i.node.selection_set.node, depth + 1, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(query: &str, name: Option<&str>) -> Operation {
        operation(&async_graphql::parser::parse_query(query).unwrap(), name)
    }

    #[test]
    fn names_the_type_the_operation_and_its_top_level_fields_through_fragments() {
        let o = op(
            "query Q { me { id } ...F ... on Query { leads { id } me { name } } } fragment F on Query { businesses { id } }",
            None,
        );
        assert_eq!(o.kind, "query");
        assert_eq!(o.name.as_deref(), Some("Q"));
        assert_eq!(o.fields, ["me", "businesses", "leads"]);
        let o = op("mutation { createLead(name: \"x\") { id } }", None);
        assert_eq!(
            (o.kind, o.name, o.fields),
            ("mutation", None, vec!["createLead".to_string()])
        );
        let o = op(
            "query A { me { id } } mutation B { cancelImpersonation { accessToken } }",
            Some("B"),
        );
        assert_eq!(o.kind, "mutation");
        assert_eq!(o.name.as_deref(), Some("B"));
        assert_eq!(o.fields, ["cancelImpersonation"]);
    }
}
