//! Subscriptions (over `GET /graphql/ws`). `currentImpersonation`: the impersonating admin's
//! own session, watched from the database (so a change made on any server is seen): ELEVATED
//! when it becomes read-write, EXPIRING at most once a minute in its last 5 minutes, ENDED
//! (with its end reason) when it ends, after which the subscription completes.
use std::time::Duration;

use async_graphql::{Context, Result, SimpleObject, Subscription as SubscriptionRoot};
use futures_util::Stream;

use super::state;
use super::types::Impersonation;
use crate::AppState;
use crate::auth::context::caller;
use crate::entities::impersonation::{self as session, Mode};
use crate::error::AppError;
use crate::graphql::scalars::DateTime;
use crate::services::impersonation;

/// How often a watched session is read again.
const WATCH: Duration = Duration::from_secs(1);
/// EXPIRING is told during the session's last minutes, at most once a minute.
const EXPIRING_WITHIN: chrono::Duration = chrono::Duration::minutes(5);

/// Something that happened to an impersonation session.
#[derive(SimpleObject)]
pub struct ImpersonationEvent {
    /// STARTED, ELEVATED, ENDED (see `impersonation.endReason`), or EXPIRING.
    pub kind: String,
    pub impersonation: Impersonation,
    pub at: DateTime,
}

#[derive(Default)]
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The impersonating admin's own session (needs an impersonation token): ELEVATED,
    /// EXPIRING (at most once a minute during its last 5 minutes), then ENDED with its end
    /// reason, and the subscription completes.
    async fn current_impersonation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ImpersonationEvent> + use<>> {
        let c = caller(ctx)?;
        let active = c
            .impersonation
            .as_ref()
            .ok_or(AppError::Forbidden("this needs an impersonation token"))?;
        let watch = Watch {
            state: state(ctx)?.clone(),
            last: active.record.clone(),
            warned_at: None,
            done: false,
        };
        Ok(futures_util::stream::unfold(watch, Watch::next))
    }
}

struct Watch {
    state: AppState,
    last: session::Model,
    warned_at: Option<chrono::DateTime<chrono::Utc>>,
    done: bool,
}

impl Watch {
    async fn next(mut self) -> Option<(ImpersonationEvent, Watch)> {
        if self.done {
            return None;
        }
        loop {
            tokio::time::sleep(WATCH).await;
            let now = self.state.clock.now();
            let current = match impersonation::find_by_id(&self.state.db, &self.last.id).await {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a watched session");
                    continue;
                }
            };
            let event = |kind: &str, r: &session::Model| ImpersonationEvent {
                kind: kind.to_string(),
                impersonation: Impersonation(r.clone()),
                at: DateTime(now),
            };
            if current.ended_at.is_some() {
                self.done = true;
                return Some((event("ENDED", &current), self));
            }
            let elevated = self.last.mode == Mode::ReadOnly && current.mode == Mode::ReadWrite;
            self.last = current.clone();
            if elevated {
                return Some((event("ELEVATED", &current), self));
            }
            let ending = current.expires_at - now <= EXPIRING_WITHIN;
            let quiet = self
                .warned_at
                .is_none_or(|t| now - t >= chrono::Duration::minutes(1));
            if ending && quiet {
                self.warned_at = Some(now);
                return Some((event("EXPIRING", &current), self));
            }
        }
    }
}
