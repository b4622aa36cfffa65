//! The integration tests, one binary (issue 23): every file here is a module, all share
//! `common` (the test server, the cast of users, the socket helpers). One binary links once
//! per change to `src/`, where 27 used to. `tests/logs.rs` stays a binary of its own: it
//! installs a process-wide log subscriber at TRACE level to search every line for secrets.
mod common;

mod abuse;
mod accounts;
mod cli;
mod concurrency;
mod console_truth;
mod email;
mod faults;
mod graphql_http;
mod hardening;
mod history_words;
mod http;
mod impersonation;
mod indexes;
mod live;
mod live_events;
mod live_restart;
mod metrics;
mod migrations;
mod modes_and_switch;
mod multi_process;
mod operator;
mod passkeys;
mod per_operation;
mod reviews;
mod schema;
mod secrets_at_rest;
mod security;
mod services;
mod support_access;
mod teams_and_work;
mod traces;
mod transparency;
mod two_factor;
mod walkthrough;
mod webhooks;
mod writer;
