//! What happens to a document before it runs: its errors get the contract's codes
//! (`ErrorCodes`), and a limit async-graphql's own complexity count misses is applied
//! (`SelectionLimit`).
//!
//! The limit: async-graphql's complexity count misses `__typename`: its validation skips `__typename`,
//! so a document of 10,000 aliased `__typename`s costs nothing there yet builds a 10,000-entry
//! answer. This extension counts every selection of the document, `__typename` included,
//! fragments expanded where they are spread, and refuses a document whose count exceeds the
//! complexity limit, before validation or execution.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::ValidationResult;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult, Variables};

/// Refuses documents with more than `max` selections.
pub struct SelectionLimit {
    pub max: usize,
}

impl ExtensionFactory for SelectionLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SelectionLimitExtension { max: self.max })
    }
}

struct SelectionLimitExtension {
    max: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for SelectionLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let mut counter = Counter {
            doc: &doc,
            fragments: HashMap::new(),
            max: self.max,
        };
        let mut total = 0usize;
        for (_, op) in doc.operations.iter() {
            total = total.saturating_add(counter.count(&op.node.selection_set.node, 0));
        }
        if total > self.max {
            let mut e = ServerError::new(
                format!(
                    "Query is too complex: {total} selections, at most {}.",
                    self.max
                ),
                None,
            );
            set_code(&mut e, VALIDATION_FAILED);
            return Err(e);
        }
        Ok(doc)
    }
}

struct Counter<'a> {
    doc: &'a ExecutableDocument,
    /// Selections per fragment, once counted (`None` while being counted: a cycle, which
    /// validation reports).
    fragments: HashMap<&'a Name, Option<usize>>,
    max: usize,
}

impl<'a> Counter<'a> {
    fn count(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
        // Deeper documents are refused by the depth limit; stop counting early.
        if depth > 64 {
            return self.max.saturating_add(1);
        }
        let mut n = 0usize;
        for item in &set.items {
            let here = match &item.node {
                Selection::Field(f) => {
                    1usize.saturating_add(self.count(&f.node.selection_set.node, depth + 1))
                }
                Selection::InlineFragment(f) => self.count(&f.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(s) => self.fragment(&s.node.fragment_name.node, depth),
            };
            n = n.saturating_add(here);
            if n > self.max {
                return n;
            }
        }
        n
    }

    fn fragment(&mut self, name: &'a Name, depth: usize) -> usize {
        match self.fragments.get(name) {
            Some(Some(n)) => return *n,
            Some(None) => return 0,
            None => {}
        }
        let Some(def) = self.doc.fragments.get(name) else {
            return 0; // unknown fragment: validation reports it
        };
        self.fragments.insert(name, None);
        let n = self.count(&def.node.selection_set.node, depth + 1);
        self.fragments.insert(name, Some(n));
        n
    }
}

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Gives the code an error lacks: a document that does not parse is `GRAPHQL_PARSE_FAILED`,
/// one that does not validate (unknown fields, wrong argument or variable types, the depth,
/// complexity and directive limits) `GRAPHQL_VALIDATION_FAILED`, as Apollo names them.
pub fn set_code(e: &mut ServerError, code: &str) {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
}

/// The code of an error async-graphql raised itself while executing: an argument value it
/// could not coerce (a null variable for a non-null argument, a value out of an enum or
/// scalar's range, a subscription sent over HTTP) is the client's (`BAD_USER_INPUT`); anything
/// else is `INTERNAL`.
pub fn execution_code(e: &ServerError) -> &'static str {
    const INPUT: [&str; 5] = [
        "Failed to parse",
        "Expected input type",
        "Invalid value for argument",
        // A subscription sent over HTTP: the client's to send over the socket.
        "Subscriptions are not supported",
        "subscriptions go over",
    ];
    match INPUT.iter().any(|p| e.message.starts_with(p)) {
        true => "BAD_USER_INPUT",
        false => "INTERNAL",
    }
}

/// Puts `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED` on the errors of those stages.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut e| {
            set_code(&mut e, PARSE_FAILED);
            e
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                set_code(e, VALIDATION_FAILED);
            }
            errors
        })
    }
}
