//! The logic, over SeaORM, in rooms by domain. Services take a connection or transaction and
//! return `AppResult`.
//!
//! - `accounts`: signing up, signing in and the tokens a client holds, the bearer token of an
//!   operation becoming its caller, two-factor, the profile, throttling of guesses.
//! - `impersonation`: support sessions in a customer's account: start, elevate, cancel, how
//!   they end, the kill switch, and the ledger of what support did in them.
//! - `support_access`: the customer's permission for support to enter (grants).
//! - `review`: four-eyes review, a second admin's approval of sessions into marked accounts.
//! - `work`: teams and memberships, businesses, leads and comments.
//! - `audit`: the audit trail and attribution (who a row is shown as written by).
//! - `notify`: notices to a user, the e-mail outbox, and what live subscribers receive.
//! - `webhooks`: signed security events for SIEMs: endpoints, the outbox, the sender.
//! - `sealing`: sealing the stored secrets with the data key (at start, `rotate-data-key`).
//! - `pagination`, `validation`: shared by every room; `sweeper`: the periodic sweep.
pub mod accounts;
pub mod audit;
pub mod history;
pub mod impersonation;
pub mod notify;
pub mod pagination;
pub mod review;
pub mod sealing;
pub mod support_access;
pub mod sweeper;
pub mod validation;
pub mod webhooks;
pub mod work;
