//! What the activity ledger records of an operation (`services::impersonation::ledger` stores it; the
//! operation gate, `graphql::gate`, writes the row for every operation made with an
//! impersonation token): the operation's type, name and top-level fields, every fragment
//! expanded however deep, and the record its first field is about (a lead, a business or a
//! team, by id only: the id argument's value, so that the customer's history can name it).
//! Never other variable values or the query text.
use std::collections::HashSet;

use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Value, Variables};

use crate::services::impersonation::ledger::Operation;

/// The record a top-level field is about: (field, its id argument, the record's kind).
const SUBJECTS: [(&str, &str, &str); 6] = [
    ("addLeadComment", "leadId", "lead"),
    ("lead", "id", "lead"),
    ("addBusinessComment", "businessId", "business"),
    ("business", "id", "business"),
    ("createLead", "businessId", "business"),
    ("switchTeam", "teamId", "team"),
];

/// The name of the operation a document runs (`chosen`'s).
pub fn operation_name(doc: &ExecutableDocument, name: Option<&str>) -> Option<String> {
    chosen(doc, name).0
}

/// The operation a document runs, and its name: the one named, else its only one.
fn chosen<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> (Option<String>, Option<&'a Positioned<OperationDefinition>>) {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => (None, Some(op)),
        (DocumentOperations::Multiple(map), Some(n)) => (Some(n.to_string()), map.get(n)),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            let (n, op) = map.iter().next().expect("one operation");
            (Some(n.to_string()), Some(op))
        }
        (DocumentOperations::Multiple(_), None) => (None, None),
    }
}

fn type_name(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// What the ledger records of the operation a document runs.
pub fn operation(doc: &ExecutableDocument, name: Option<&str>, vars: &Variables) -> Operation {
    let (name, op) = chosen(doc, name);
    let Some(op) = op else {
        // No such operation: nothing ran.
        return unknown(name.as_deref());
    };
    let kind = type_name(op.node.ty);
    let mut fields = Vec::new();
    let mut first = None;
    let mut expanded = HashSet::new();
    top_level(
        doc,
        &op.node.selection_set.node,
        &mut expanded,
        &mut fields,
        &mut first,
    );
    let subject = first.and_then(|f| subject(f, vars));
    Operation {
        kind,
        name,
        fields,
        subject,
    }
}

/// The type of the operation a document runs (`operation`'s choice of operation), without
/// walking its selections: query, mutation, subscription or unknown.
pub fn kind(doc: &ExecutableDocument, name: Option<&str>) -> &'static str {
    chosen(doc, name)
        .1
        .map_or("unknown", |op| type_name(op.node.ty))
}

/// An operation that did not run: no such operation, or a document that does not parse.
pub fn unknown(name: Option<&str>) -> Operation {
    Operation {
        kind: "unknown",
        name: name.map(|n| n.chars().take(200).collect()),
        fields: vec![],
        subject: None,
    }
}

/// The record `field` is about, when it is one `SUBJECTS` names and its id is given: a literal
/// or a variable, and shaped like an id (anything else is not kept).
fn subject(field: &Field, vars: &Variables) -> Option<(&'static str, String)> {
    let name = field.name.node.as_str();
    let (_, arg, kind) = SUBJECTS.iter().find(|(f, _, _)| *f == name)?;
    let value = field.get_argument(arg)?;
    // A literal, or a variable's value (a missing variable: nothing).
    let value = value
        .node
        .clone()
        .into_const_with(|v| vars.get(&v).cloned().ok_or(()))
        .ok()?;
    let Value::String(id) = value else {
        return None;
    };
    let id_like = !id.is_empty()
        && id.len() <= 36
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    id_like.then_some((*kind, id))
}

/// The field names at the top of a selection set, through fragments however deeply they
/// nest, each once. Each named fragment is expanded once (a cycle, which validation refuses,
/// cannot loop). An explicit stack, so a deep nesting cannot overflow this one either.
fn top_level<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    expanded: &mut HashSet<&'a str>,
    out: &mut Vec<String>,
    first: &mut Option<&'a Field>,
) {
    let mut pending = vec![set];
    while let Some(set) = pending.pop() {
        for item in set.items.iter().rev() {
            match &item.node {
                Selection::Field(_) => {}
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if expanded.insert(name)
                        && let Some(frag) = doc.fragments.get(&s.node.fragment_name.node)
                    {
                        pending.push(&frag.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(i) => pending.push(&i.node.selection_set.node),
            }
        }
        for item in &set.items {
            if let Selection::Field(f) = &item.node {
                first.get_or_insert(&f.node);
                let name = f.node.name.node.to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(query: &str, name: Option<&str>) -> Operation {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        operation(&doc, name, &Variables::default())
    }

    #[test]
    fn the_record_a_field_is_about_is_kept_by_id_only() {
        let doc = async_graphql::parser::parse_query(
            "mutation C($l: ID!, $t: String!) { addLeadComment(leadId: $l, text: $t) { id } }",
        )
        .unwrap();
        let vars =
            Variables::from_json(serde_json::json!({ "l": "0193-abc", "t": "secret words" }));
        let o = operation(&doc, None, &vars);
        assert_eq!(o.subject, Some(("lead", "0193-abc".to_string())));
        let o = op("{ business(id: \"b-1\") { name } }", None);
        assert_eq!(o.subject, Some(("business", "b-1".to_string())));
        // Not an id: not kept. Fields about no record: none.
        let o = op("{ business(id: \"<script>\") { name } }", None);
        assert_eq!(o.subject, None);
        assert_eq!(op("{ me { id } leads { id } }", None).subject, None);
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

    #[test]
    fn fragments_nested_however_deep_are_expanded_and_a_missing_operation_is_unknown() {
        let mut q = String::from("query Innocent { ...F0 }");
        for i in 0..40 {
            q.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        q.push_str(" fragment F40 on Query { businesses { id } leads { id } }");
        assert_eq!(op(&q, None).fields, ["businesses", "leads"]);
        let o = op("query A { me { id } } query B { leads { id } }", Some("C"));
        assert_eq!((o.kind, o.fields.len()), ("unknown", 0));
    }
}
