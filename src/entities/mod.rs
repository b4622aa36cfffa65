//! SeaORM entities, one per table. GraphQL types live in `graphql::types`, not here.
pub mod audit_log;
pub mod auth_failure;
pub mod business;
pub mod comment;
pub mod email_outbox;
pub mod event;
pub mod impersonation;
pub mod impersonation_activity;
pub mod impersonation_setting;
pub mod lead;
pub mod notification;
pub mod refresh_token;
pub mod role;
pub mod support_access_grant;
pub mod team;
pub mod team_member;
pub mod user;
