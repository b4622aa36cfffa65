//! Impersonation for everyone: the kill switch. Kept in the database (one row), so switching
//! it off holds on every server sharing it, and ends every running session at once.
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use crate::auth::context::RequestMeta;
use crate::auth::policy::KillSwitch;
use crate::auth::proof::SuperAdmin;
use crate::db::db_time;
use crate::entities::impersonation_setting;
use crate::error::AppResult;
use crate::services::audit::{self, Entry, action};
use crate::services::impersonation::ending::{self, EndReason};
use crate::services::webhooks;
use crate::state::AppState;

/// The id of the one settings row.
pub(super) const GLOBAL: &str = "global";

/// Whether impersonation is switched on (on unless a super admin switched it off).
pub async fn read(conn: &impl ConnectionTrait) -> AppResult<KillSwitch> {
    let row = impersonation_setting::Entity::find_by_id(GLOBAL.to_string())
        .one(conn)
        .await?;
    Ok(KillSwitch {
        enabled: row.is_none_or(|r| r.enabled),
    })
}

/// `setImpersonationEnabled`: a super admin switches impersonation on or off for everyone.
/// Off ends every running session in the same transaction (`ENDED_BY_ADMIN`, cause
/// `IMPERSONATION_DISABLED`); new ones are refused with `IMPERSONATION_DISABLED`.
pub async fn set_enabled(
    state: &AppState,
    caller: SuperAdmin<'_>,
    enabled: bool,
    reason: Option<&str>,
    meta: &RequestMeta,
) -> AppResult<bool> {
    let reason = crate::services::validation::optional_reason("reason", reason)?;
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let row = impersonation_setting::ActiveModel {
        id: Set(GLOBAL.to_string()),
        enabled: Set(enabled),
        updated_at: Set(Some(db_time(now))),
        updated_by_id: Set(Some(caller.user.id.clone())),
    };
    match impersonation_setting::Entity::find_by_id(GLOBAL.to_string())
        .one(&txn)
        .await?
    {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    let action = match enabled {
        true => action::IMPERSONATION_ENABLED,
        false => action::IMPERSONATION_DISABLED,
    };
    let entry = Entry::for_caller(action, &caller, meta, now)
        .details(serde_json::json!({ "reason": reason }));
    audit::record(&txn, entry).await?;
    let by = &caller.user;
    let happening = webhooks::Happening::Switch {
        enabled,
        reason: reason.as_deref(),
        by,
    };
    webhooks::emit(&txn, happening, now).await?;
    let message = match enabled {
        true => format!("{} switched impersonation back on.", by.name),
        false => format!(
            "{} switched impersonation off for everyone{}.",
            by.name,
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    };
    crate::services::notify::notices::tell_super_admins(
        &txn,
        &state.config,
        &by.id,
        crate::events::kind::SECURITY_CHANGED,
        "Impersonation was switched on or off",
        &message,
        now,
    )
    .await?;
    if !enabled {
        let (reason, cause) = (EndReason::EndedByAdmin, "IMPERSONATION_DISABLED");
        ending::end_running(
            &txn,
            &state.config,
            ending::Running::All,
            reason,
            cause,
            now,
            meta,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(enabled)
}
