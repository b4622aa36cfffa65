//! What the GraphQL spec says about a response's shape, where async-graphql 7 does otherwise.
//!
//! - "Handling Execution Errors": a field error on a non-null field nulls its parent, and so
//!   on up to the nearest nullable position (`data: null` at the top). async-graphql drops the
//!   field's key instead (or answers `null` under a non-null type).
//! - "Serialized Map Ordering": an object's keys come in the order of the selection set.
//!   async-graphql resolves fields concurrently and keeps the order they finish in.
//!
//! [`complete`] walks the answer once against the operation's selection sets and the schema's
//! field types, with the errors' paths, and puts both right. The schema has no interfaces or
//! unions, so every fragment applies to the object it is spread in.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, PathSegment, Response, Value};

/// Every object type's fields and their types, read from the schema's SDL once.
#[derive(Debug, Default)]
pub struct Shapes {
    types: HashMap<String, HashMap<String, Type>>,
    roots: [Option<String>; 3],
}

impl Shapes {
    pub fn of_sdl(sdl: &str) -> Shapes {
        let mut shapes = Shapes::default();
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return shapes;
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Type(t) => {
                    if let TypeKind::Object(o) = t.node.kind {
                        let fields = o
                            .fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect();
                        shapes.types.insert(t.node.name.node.to_string(), fields);
                    }
                }
                TypeSystemDefinition::Schema(s) => {
                    let name =
                        |n: Option<async_graphql::Positioned<Name>>| n.map(|n| n.node.to_string());
                    shapes.roots = [
                        name(s.node.query),
                        name(s.node.mutation),
                        name(s.node.subscription),
                    ];
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        let defaults = ["Query", "Mutation", "Subscription"];
        for (root, default) in shapes.roots.iter_mut().zip(defaults) {
            if root.is_none() && shapes.types.contains_key(default) {
                *root = Some(default.to_string());
            }
        }
        shapes
    }

    fn root(&self, kind: OperationType) -> Option<&str> {
        let i = match kind {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        self.roots[i].as_deref()
    }

    fn field(&self, object: &str, field: &str) -> Option<&Type> {
        self.types.get(object)?.get(field)
    }
}

/// An operation's document, kept to complete its answers.
#[derive(Clone)]
pub struct Operation {
    document: Arc<ExecutableDocument>,
    name: Option<String>,
}

impl Operation {
    pub fn new(document: ExecutableDocument, name: Option<&str>) -> Operation {
        Operation {
            document: Arc::new(document),
            name: name.map(str::to_string),
        }
    }

    pub fn document(&self) -> &ExecutableDocument {
        &self.document
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Puts `response` in the shape the spec gives it: errors null their nearest nullable
/// position, keys follow the selection. A response without data is left alone.
pub fn complete(shapes: &Shapes, operation: &Operation, mut response: Response) -> Response {
    let doc = operation.document();
    let op = match (&doc.operations, operation.name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return response,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return response,
        },
        (DocumentOperations::Multiple(_), None) => return response,
    };
    let Some(root) = shapes.root(op.node.ty) else {
        return response;
    };
    let errors: Vec<Vec<Key>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.iter().map(Key::of).collect())
        .collect();
    if response.data == Value::Null && errors.is_empty() {
        // Nothing ran (a request error), or the operation answered nothing.
        return response;
    }
    let walk = Walk {
        shapes,
        doc,
        errors: &errors,
    };
    let data = std::mem::take(&mut response.data);
    let sets = [&op.node.selection_set.node];
    response.data = match walk.object(Some(data), root, &sets, &mut Vec::new()) {
        Done::Value(v) => v,
        Done::Absent | Done::Null => Value::Null,
    };
    response
}

#[derive(Debug, PartialEq)]
enum Key {
    Field(String),
    Index(usize),
}

impl Key {
    fn of(p: &PathSegment) -> Key {
        match p {
            PathSegment::Field(f) => Key::Field(f.clone()),
            PathSegment::Index(i) => Key::Index(*i),
        }
    }
}

/// What a position completes to.
enum Done {
    Value(Value),
    /// Not in the answer and not because of an error (`@skip`, `@include`): left out.
    Absent,
    /// Null where the type forbids it: the parent is null instead.
    Null,
}

struct Walk<'a> {
    shapes: &'a Shapes,
    doc: &'a ExecutableDocument,
    errors: &'a [Vec<Key>],
}

impl<'a> Walk<'a> {
    /// Whether an error was raised at `path` or below it.
    fn erred(&self, path: &[Key]) -> bool {
        self.errors.iter().any(|e| e.starts_with(path))
    }

    /// A value of type `ty` at `path` (`None`: its key is missing).
    fn value(
        &self,
        slot: Option<Value>,
        ty: &Type,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Key>,
    ) -> Done {
        let here = self.errors.iter().any(|e| e == path);
        let below = !here && self.erred(path);
        let done = match (slot, &ty.base) {
            (None, _) if !here && !below => return Done::Absent,
            (None, _) => Done::Null,
            (Some(Value::Null), _) if here => Done::Null,
            (Some(Value::Null), BaseType::Named(name)) if below && !sets.is_empty() => {
                // async-graphql answers null for an object all of whose fields failed.
                self.object(Some(Value::Null), name, sets, path)
            }
            (Some(Value::Null), _) if below => Done::Null,
            (Some(Value::List(items)), BaseType::List(item)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut nulled = false;
                for (i, v) in items.into_iter().enumerate() {
                    path.push(Key::Index(i));
                    let done = self.value(Some(v), item, sets, path);
                    path.pop();
                    match done {
                        Done::Value(v) => out.push(v),
                        Done::Absent | Done::Null => {
                            nulled = true;
                            break;
                        }
                    }
                }
                match nulled {
                    true => Done::Null,
                    false => Done::Value(Value::List(out)),
                }
            }
            (Some(v @ Value::Object(_)), BaseType::Named(name)) if !sets.is_empty() => {
                self.object(Some(v), name, sets, path)
            }
            (Some(v), _) => Done::Value(v),
        };
        match done {
            Done::Null if ty.nullable => Done::Value(Value::Null),
            d => d,
        }
    }

    /// An object of type `object` answering the selection sets `sets` (merged: the same
    /// response key may be selected in several places).
    fn object(
        &self,
        slot: Option<Value>,
        object: &str,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Key>,
    ) -> Done {
        let mut fields = match slot {
            Some(Value::Object(map)) => map,
            Some(Value::Null) | None => IndexMap::new(),
            Some(other) => return Done::Value(other),
        };
        let mut out = IndexMap::with_capacity(fields.len());
        for (key, name, subsets) in self.collect(sets) {
            let Some(ty) = self.shapes.field(object, &name) else {
                // Introspection (`__typename`, `__schema`): as answered.
                if let Some(v) = fields.shift_remove(key.as_str()) {
                    out.insert(key, v);
                }
                continue;
            };
            path.push(Key::Field(key.to_string()));
            let done = self.value(fields.shift_remove(key.as_str()), ty, &subsets, path);
            path.pop();
            match done {
                Done::Value(v) => {
                    out.insert(key, v);
                }
                Done::Absent => {}
                Done::Null => return Done::Null,
            }
        }
        // Anything the walk did not expect stays, after the rest.
        out.extend(fields);
        Done::Value(Value::Object(out))
    }

    /// The spec's CollectFields: the response keys of `sets` in order, each with its field
    /// name and every selection set selected under it. Each fragment is expanded once.
    fn collect(&self, sets: &[&'a SelectionSet]) -> Vec<(Name, Name, Vec<&'a SelectionSet>)> {
        let mut out: Vec<(Name, Name, Vec<&'a SelectionSet>)> = Vec::new();
        let mut visited: Vec<&str> = Vec::new();
        let mut stack: Vec<std::slice::Iter<'a, async_graphql::Positioned<Selection>>> =
            sets.iter().rev().map(|s| s.items.iter()).collect();
        while let Some(top) = stack.last_mut() {
            let Some(item) = top.next() else {
                stack.pop();
                continue;
            };
            match &item.node {
                Selection::Field(f) => {
                    let key = f.node.response_key().node.clone();
                    let sub = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _, _)| *k == key) {
                        Some((_, _, subs)) => subs.push(sub),
                        None => out.push((key, f.node.name.node.clone(), vec![sub])),
                    }
                }
                Selection::InlineFragment(i) => {
                    stack.push(i.node.selection_set.node.items.iter());
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if visited.contains(&name) {
                        continue;
                    }
                    visited.push(name);
                    if let Some(f) = self.doc.fragments.get(&s.node.fragment_name.node) {
                        stack.push(f.node.selection_set.node.items.iter());
                    }
                }
            }
        }
        for (_, _, subs) in &mut out {
            subs.retain(|s| !s.items.is_empty());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::ServerError;

    const SDL: &str = r#"
        type Query { me: User! maybe: User list: [User!]! items: [User] n: Int }
        type User { id: ID! email: String! nick: String friend: User }
    "#;

    fn run(query: &str, data: serde_json::Value, errors: &[&[&str]]) -> serde_json::Value {
        let shapes = Shapes::of_sdl(SDL);
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let mut response = Response::new(Value::from_json(data).unwrap());
        for path in errors {
            let mut e = ServerError::new("boom", None);
            e.path = path
                .iter()
                .map(|p| match p.parse::<usize>() {
                    Ok(i) => PathSegment::Index(i),
                    Err(_) => PathSegment::Field(p.to_string()),
                })
                .collect();
            response.errors.push(e);
        }
        let r = complete(&shapes, &Operation::new(doc, None), response);
        // Serialized as the server does: in the map's order.
        serde_json::from_str::<serde_json::Value>(&serde_json::to_string(&r.data).unwrap()).unwrap()
    }

    fn keys(query: &str, data: serde_json::Value) -> String {
        let shapes = Shapes::of_sdl(SDL);
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let r = complete(
            &shapes,
            &Operation::new(doc, None),
            Response::new(Value::from_json(data).unwrap()),
        );
        serde_json::to_string(&r.data).unwrap()
    }

    #[test]
    fn a_failed_non_null_field_nulls_the_nearest_nullable_parent() {
        // `me` is non-null: its failure nulls the whole answer.
        let v = run("{ n me { id } }", serde_json::json!({ "n": 1 }), &[&["me"]]);
        assert_eq!(v, serde_json::Value::Null);
        // `email` is non-null, `maybe` is nullable: `maybe` becomes null.
        let v = run(
            "{ n maybe { id email } }",
            serde_json::json!({ "n": 1, "maybe": { "id": "u" } }),
            &[&["maybe", "email"]],
        );
        assert_eq!(v, serde_json::json!({ "n": 1, "maybe": null }));
        // A nullable field that failed is null, its key kept.
        let v = run(
            "{ me { id nick } }",
            serde_json::json!({ "me": { "id": "u" } }),
            &[&["me", "nick"]],
        );
        assert_eq!(v, serde_json::json!({ "me": { "id": "u", "nick": null } }));
        // Null under a non-null type, with an error there, travels up too.
        let v = run(
            "{ n maybe { friend { id email } } }",
            serde_json::json!({ "n": 1, "maybe": { "friend": { "id": "f", "email": null } } }),
            &[&["maybe", "friend", "email"]],
        );
        assert_eq!(
            v,
            serde_json::json!({ "n": 1, "maybe": { "friend": null } })
        );
    }

    #[test]
    fn lists_follow_their_item_type() {
        // Non-null items: one failed item nulls the list, which is non-null: everything.
        let v = run(
            "{ n list { email } }",
            serde_json::json!({ "n": 1, "list": [{ "email": "a" }, {}] }),
            &[&["list", "1", "email"]],
        );
        assert_eq!(v, serde_json::Value::Null);
        // Nullable items: the failed item alone is null.
        let v = run(
            "{ items { email } }",
            serde_json::json!({ "items": [{ "email": "a" }, {}] }),
            &[&["items", "1", "email"]],
        );
        assert_eq!(v, serde_json::json!({ "items": [{ "email": "a" }, null] }));
    }

    #[test]
    fn an_object_all_of_whose_fields_failed_keeps_its_nullable_keys() {
        let v = run(
            "{ me { nick } }",
            serde_json::json!({ "me": null }),
            &[&["me", "nick"]],
        );
        assert_eq!(v, serde_json::json!({ "me": { "nick": null } }));
    }

    #[test]
    fn keys_come_in_the_selection_order() {
        let q = "query { n me { email ...F id } alias: maybe { id } } fragment F on User { nick }";
        let data = serde_json::json!({
            "alias": { "id": "m" },
            "me": { "id": "u", "nick": "x", "email": "e" },
            "n": 1,
        });
        assert_eq!(
            keys(q, data),
            r#"{"n":1,"me":{"email":"e","nick":"x","id":"u"},"alias":{"id":"m"}}"#
        );
    }

    #[test]
    fn skipped_fields_stay_out_and_introspection_stays_as_answered() {
        let q = "{ __typename n @skip(if: true) me { id } }";
        let data = serde_json::json!({ "me": { "id": "u" }, "__typename": "Query" });
        assert_eq!(keys(q, data), r#"{"__typename":"Query","me":{"id":"u"}}"#);
    }
}
