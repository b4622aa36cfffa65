//! The GraphQL schema: root objects merged from one object per domain.
pub mod completion;
pub mod context;
pub mod gate;
pub mod guards;
pub mod ledger_row;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod nesting;
pub mod query;
pub mod read_only;
pub mod scalars;
pub mod schema;
pub mod subscription;
pub mod types;

use async_graphql::{Schema, SchemaBuilder};

pub type AppSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// The schema without data; `print-schema` uses it, needing no database.
pub fn schema_builder()
-> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        subscription::Subscription,
    )
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

pub(crate) use context::state;
