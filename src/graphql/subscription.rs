//! Subscriptions (over `GET /graphql/ws`), fed by this server's event bus (`crate::events`),
//! which receives what every server commits. What each subscriber receives of an event is
//! decided in `services::notify::live` under its own `AuthContext`.
//!
//! - `myAccountEvents`: the customer's own account (sessions started, elevated, ended; access
//!   asked for, decided, lapsed), with the stored notice.
//! - `impersonationEvents`: admins with 2FA, every session started, elevated or ended, and
//!   every review asked for or decided.
//! - `sessionActivity`: a session's operations as they happen, for super admins and its
//!   reviewer.
//! - `currentImpersonation`: the impersonating admin's own session: ELEVATED, EXPIRING (at
//!   most once a minute in its last 5 minutes), then ENDED with its end reason, and the
//!   subscription completes. Woken by the bus, and read again every `WATCH` regardless.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, Result, SimpleObject, Subscription as SubscriptionRoot};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::state;
use super::types::{
    Impersonation, ImpersonationActivity, ImpersonationReview, Notification, SupportAccessGrant,
};
use crate::auth::context::AuthContext;
use crate::entities::impersonation::{self as session, Mode};
use crate::events::{Event, SlowConsumer};
use crate::graphql::context::caller;
use crate::graphql::guards::{
    AdminWithTwoFactor, Impersonating, NotImpersonating, TwoFactorPassed,
};
use crate::graphql::scalars::DateTime;
use crate::services::{impersonation, notify::live};
use crate::state::AppState;

/// How often a watched session is read again without being woken.
const WATCH: Duration = Duration::from_secs(2);
/// EXPIRING is told during the session's last minutes, at most once a minute.
const EXPIRING_WITHIN: chrono::Duration = chrono::Duration::minutes(5);

/// Something that happened to an impersonation session.
#[derive(SimpleObject)]
pub struct ImpersonationEvent {
    /// STARTED, ELEVATED, ENDED (see `impersonation.endReason`), or EXPIRING; for
    /// `impersonationEvents` also REVIEW_REQUESTED and REVIEW_DECIDED (see `review`), and
    /// ACCESS_CHANGED (see `grant`).
    pub kind: String,
    /// The session: always, but on REVIEW_REQUESTED, REVIEW_DECIDED and ACCESS_CHANGED.
    pub impersonation: Option<Impersonation>,
    /// The review, on REVIEW_REQUESTED and REVIEW_DECIDED.
    pub review: Option<ImpersonationReview>,
    /// On ACCESS_CHANGED: a customer's support-access window opened (asked for or not),
    /// decided, revoked or lapsed.
    pub grant: Option<SupportAccessGrant>,
    pub at: DateTime,
}

/// Something that happened in the customer's account.
#[derive(SimpleObject)]
pub struct AccountEvent {
    /// IMPERSONATION_STARTED, IMPERSONATION_ELEVATED, IMPERSONATION_ENDED,
    /// SUPPORT_ACCESS_REQUESTED, SUPPORT_ACCESS_APPROVED, SUPPORT_ACCESS_DENIED,
    /// SUPPORT_ACCESS_REVOKED, SUPPORT_ACCESS_GRANTED or SUPPORT_ACCESS_EXPIRED.
    pub kind: String,
    /// The notice stored for it (sessions starting, elevated or ending; access asked for).
    pub notification: Option<Notification>,
    pub impersonation: Option<Impersonation>,
    pub grant: Option<SupportAccessGrant>,
    pub at: DateTime,
}

#[derive(Default)]
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The customer's own account: sessions starting, elevated and ending in it, access asked
    /// for, decided and lapsed. Not with an impersonation token.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(TwoFactorPassed)")]
    async fn my_account_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = AccountEvent> + use<>> {
        let (state, me, feed) = open(ctx).await?;
        Ok(events(feed, slow(ctx), move |e| {
            let (state, me) = (state.clone(), me.clone());
            async move {
                let seen = live::for_account(&state.db, &me, &e).await;
                let v = unless_failed(seen)?;
                if !live::may_still_hear(&state.db, &me, false).await {
                    return Some(None);
                }
                Some(Some(AccountEvent {
                    kind: v.kind,
                    notification: v.notification.map(Notification),
                    impersonation: v.impersonation.map(Impersonation),
                    grant: v.grant.map(SupportAccessGrant),
                    at: DateTime(v.at),
                }))
            }
        }))
    }

    /// Admins with 2FA (not while impersonating): every session started, elevated or ended,
    /// system-wide.
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn impersonation_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ImpersonationEvent> + use<>> {
        let (state, me, feed) = open(ctx).await?;
        Ok(events(feed, slow(ctx), move |e| {
            let (state, me) = (state.clone(), me.clone());
            async move {
                let v = unless_failed(live::for_admin(&state.db, &me, &e).await)?;
                // Still an admin with 2FA, read afresh: a demoted admin hears nothing more.
                if !live::may_still_hear(&state.db, &me, true).await {
                    return Some(None);
                }
                Some(Some(ImpersonationEvent {
                    kind: v.kind.to_string(),
                    impersonation: v.impersonation.map(Impersonation),
                    review: v.review.map(ImpersonationReview),
                    grant: v.grant.map(SupportAccessGrant),
                    at: DateTime(e.at),
                }))
            }
        }))
    }

    /// Follows a session operation by operation, as the customer's history tells them (those
    /// already made first), and completes once it has ended: for super admins and the admin
    /// who approved its review (others FORBIDDEN), who may end it (`endImpersonation`).
    #[graphql(guard = "NotImpersonating::ALWAYS.and(AdminWithTwoFactor::ADMIN)")]
    async fn session_activity(
        &self,
        ctx: &Context<'_>,
        impersonation_id: async_graphql::ID,
    ) -> Result<impl Stream<Item = ImpersonationActivity> + use<>> {
        let state = state(ctx)?.clone();
        let me = caller(ctx)?;
        let record = impersonation::find_by_id(&state.db, &impersonation_id)
            .await?
            .ok_or(crate::error::AppError::NotFound("impersonation"))?;
        let reviewer = crate::services::review::reviewer_of(&state.db, &record).await?;
        if !crate::services::review::may_watch(me, reviewer.as_deref()) {
            return Err(crate::error::AppError::Forbidden(
                "only super admins and the admin who approved its review may watch a session",
            )
            .into());
        }
        super::gate::Opened::note(ctx);
        let reader =
            crate::services::history::story::reader_for(&state.db, &me.true_user().id, &record)
                .await?;
        let follow = Follow {
            state,
            me: Arc::new(me.clone()),
            record,
            after: None,
            pending: Default::default(),
            reader,
            first: true,
            done: false,
        };
        Ok(futures_util::stream::unfold(follow, Follow::next))
    }

    /// The impersonating admin's own session (needs an impersonation token): ELEVATED,
    /// EXPIRING (at most once a minute during its last 5 minutes), then ENDED with its end
    /// reason, and the subscription completes.
    #[graphql(guard = "Impersonating")]
    async fn current_impersonation(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ImpersonationEvent> + use<>> {
        let (state, me, feed) = open(ctx).await?;
        // The guard let only impersonation tokens through; no panic path either way.
        let active = me
            .impersonation
            .clone()
            .ok_or(crate::error::AppError::Forbidden(
                "this needs an impersonation token",
            ))?;
        let watch = Watch {
            state,
            me,
            feed,
            last: active.record,
            warned_at: None,
            done: false,
        };
        Ok(futures_util::stream::unfold(watch, Watch::next))
    }
}

/// How often a watched session's ledger is read for new operations.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `sessionActivity`: a running session's operations, read from its ledger as they are
/// recorded (those already made first), until the session has ended and all are told.
struct Follow {
    state: AppState,
    me: Arc<AuthContext>,
    record: session::Model,
    after: Option<String>,
    pending: std::collections::VecDeque<crate::services::history::story::Told>,
    /// The watcher reads as staff ("Olivia's profile").
    reader: crate::services::history::story::Reader,
    first: bool,
    done: bool,
}

/// A ledger row pending this long belongs to an operation whose server stopped while it ran
/// (the request timeout is far shorter): the follower tells it as it is.
const PENDING_FOR_GOOD_SECONDS: i64 = 120;

impl Follow {
    async fn next(mut self) -> Option<(ImpersonationActivity, Follow)> {
        use crate::services::pagination::PageArgs;
        use crate::services::{history::story, impersonation::ledger};
        loop {
            if let Some(t) = self.pending.pop_front() {
                // The watcher may still watch (an admin with 2FA, read afresh).
                if !live::may_still_hear(&self.state.db, &self.me, true).await {
                    return None;
                }
                return Some((ImpersonationActivity(t), self));
            }
            if self.done {
                return None;
            }
            if !self.first {
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
            self.first = false;
            let db = &self.state.db;
            let now = self.state.clock.now();
            // Read the session before its ledger: once it has ended, what the ledger holds
            // then is all there will be.
            let record = match impersonation::find_by_id(db, &self.record.id).await {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a followed session");
                    continue;
                }
            };
            let over = record.ended_at.is_some() || record.expires_at <= now;
            let args = PageArgs {
                first: 100,
                after: self.after.clone(),
            };
            let page = match ledger::list(db, &record.id, &args).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a followed session's ledger");
                    continue;
                }
            };
            // An operation still running is told once it is settled: the follower waits
            // at it (unless its server stopped long ago and it stays pending).
            let mut more = page.has_next_page;
            let mut items = page.items;
            let stale = now - chrono::Duration::seconds(PENDING_FOR_GOOD_SECONDS);
            if let Some(i) = items
                .iter()
                .position(|r| r.outcome == ledger::PENDING && r.at > stale)
            {
                items.truncate(i);
                more = true;
            }
            // The cursor moves past background reads too; they are not told.
            let last_id = items.last().map(|r| r.id.clone());
            let items = items
                .into_iter()
                .filter(|r| !story::is_background(r))
                .collect();
            let told = match story::tell(db, &record, items, &self.reader).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot tell a followed session's operations");
                    continue;
                }
            };
            if let Some(last) = last_id {
                self.after = Some(last);
            }
            self.done = over && !more;
            self.pending.extend(told);
            self.record = record;
        }
    }
}

/// What every subscription starts from: the app, the caller (as `connection_init`
/// established it; the socket re-checks the token), and the feed of events from now on.
async fn open(
    ctx: &Context<'_>,
) -> Result<(AppState, Arc<AuthContext>, broadcast::Receiver<Arc<Event>>)> {
    let state = state(ctx)?.clone();
    let me = Arc::new(caller(ctx)?.clone());
    let feed = live::subscribe(&state).await?;
    // The subscription is open: the gate records it in the session's ledger now.
    super::gate::Opened::note(ctx);
    Ok((state, me, feed))
}

fn slow(ctx: &Context<'_>) -> SlowConsumer {
    ctx.data_opt::<SlowConsumer>().cloned().unwrap_or_default()
}

/// A failure to load is logged and the event skipped.
fn unless_failed<T>(r: crate::error::AppResult<Option<T>>) -> Option<T> {
    r.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot load a live event");
        None
    })
}

/// The events `see` keeps (as it shows them to this subscriber): `None` skips an event,
/// `Some(None)` ends the stream (the subscriber may no longer hear it). A subscriber that
/// falls too far behind (the bus's backlog) rings `slow` and its stream ends.
fn events<T, F, Fut>(
    feed: broadcast::Receiver<Arc<Event>>,
    slow: SlowConsumer,
    see: F,
) -> impl Stream<Item = T> + use<T, F, Fut>
where
    F: Fn(Arc<Event>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Option<T>>> + Send,
    T: Send,
{
    futures_util::stream::unfold((feed, see, slow), |(mut feed, see, slow)| async move {
        loop {
            match feed.recv().await {
                Ok(e) => match see(e).await {
                    Some(Some(shown)) => return Some((shown, (feed, see, slow))),
                    Some(None) => return None,
                    None => {}
                },
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live subscriber fell behind; dropping it");
                    slow.0.notify_one();
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

struct Watch {
    state: AppState,
    me: Arc<AuthContext>,
    feed: broadcast::Receiver<Arc<Event>>,
    last: session::Model,
    warned_at: Option<chrono::DateTime<chrono::Utc>>,
    done: bool,
}

impl Watch {
    /// Waits for news of the session (or `WATCH`), then reads it.
    async fn wake(&mut self) {
        let sleep = tokio::time::sleep(WATCH);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return,
                e = self.feed.recv() => match e {
                    Ok(e) if live::about_own_session(&self.me, &e) => return,
                    Ok(_) => {}
                    // Behind or closed: reading the session again is all it needs.
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => {
                        sleep.as_mut().await;
                        return;
                    }
                },
            }
        }
    }

    async fn next(mut self) -> Option<(ImpersonationEvent, Watch)> {
        if self.done {
            return None;
        }
        loop {
            self.wake().await;
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
                impersonation: Some(Impersonation(r.clone())),
                review: None,
                grant: None,
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
