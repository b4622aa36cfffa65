//! Assembling the schema: the resolvers with the state, the limits and the extensions.
use crate::config::{Config, Environment};
use crate::graphql::{self, AppSchema};
use crate::state::AppState;

/// The GraphQL schema with its data and limits.
pub fn build_schema(state: AppState) -> AppSchema {
    let limits = Limits::of(&state.config);
    schema_with(state, limits)
}

/// The same schema for the standard introspection query (GraphiQL, codegen and
/// graphql-inspector send it), which is 15 levels deep: generous fixed limits instead of the
/// configured ones, so depth and complexity limits never refuse it. Who may introspect at all
/// is decided per request, as for any query.
pub fn build_introspection_schema(state: AppState) -> AppSchema {
    let limits = Limits {
        depth: 32,
        complexity: 50_000,
        directives: state.config.max_directives,
    };
    schema_with(state, limits)
}

pub(crate) struct Limits {
    depth: usize,
    complexity: usize,
    directives: usize,
}

impl Limits {
    pub(crate) fn of(config: &Config) -> Limits {
        Limits {
            depth: config.max_depth,
            complexity: config.max_complexity,
            directives: config.max_directives,
        }
    }
}

pub(crate) fn schema_with(state: AppState, limits: Limits) -> AppSchema {
    let production = state.config.environment == Environment::Production;
    let builder = graphql::schema_builder()
        .data(state)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_directives(limits.directives)
        .limit_recursive_depth(limits.depth * 2)
        .extension(graphql::limits::ErrorCodes)
        .extension(graphql::read_only::ReadOnlySessions)
        .extension(graphql::limits::SelectionLimit {
            max: limits.complexity,
        });
    if production {
        // No "did you mean" hints for probing clients; introspection is gated per request.
        builder.disable_suggestions().finish()
    } else {
        builder.finish()
    }
}
