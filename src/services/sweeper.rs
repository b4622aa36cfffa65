//! The periodic sweep every server runs (from `serve`): the end of sessions nobody touched
//! again (`session_ends::sweep_expired`), grants that lapsed (`support_access::expire_lapsed`,
//! which tells the customer), passkey challenges past their 5 minutes, and events older than a
//! day. Each step is a conditional write,
//! so servers sweeping at once record each change once.
use crate::state::AppState;

/// How often the sweep runs.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the sweep every `SWEEP_INTERVAL` for as long as the process lives.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match crate::services::impersonation::ending::sweep_expired(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(ended = n, "recorded the end of expired impersonations"),
                Err(e) => tracing::warn!(error = %e, "impersonation sweep failed"),
            }
            if let Err(e) = crate::services::support_access::expire_lapsed(&state).await {
                tracing::warn!(error = %e, "support access sweep failed");
            }
            if let Err(e) = crate::services::accounts::passkeys::sweep_challenges(&state).await {
                tracing::warn!(error = %e, "passkey challenge sweep failed");
            }
            let old = state.clock.now() - crate::events::KEPT;
            if let Err(e) = prune_events(&state, old).await {
                tracing::warn!(error = %e, "cannot prune old events");
            }
        }
    });
}

/// Deletes the events older than `before`, in a write of its own.
async fn prune_events(
    state: &crate::state::AppState,
    before: chrono::DateTime<chrono::Utc>,
) -> crate::error::AppResult<u64> {
    let txn = crate::db::write_txn(state).await?;
    let n = crate::events::prune(&txn, before).await?;
    txn.commit().await?;
    Ok(n)
}
