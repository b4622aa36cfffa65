//! Authenticate: the bearer token of an operation becomes its `AuthContext`, before any
//! resolver runs (the operation gate, `graphql::gate`, calls this for every operation, and an
//! open socket for its re-checks). An impersonation token's session is re-checked each time
//! (`impersonation::session::live`); a session found dead is ended (once, with its reason)
//! and the token refused.
use sea_orm::EntityTrait;

use crate::auth::context::{AuthContext, issued_before_revocation};
use crate::auth::tokens;
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::services::impersonation::{ending, session};
use crate::state::AppState;

/// Builds the context from a bearer token. Any failure is `UNAUTHENTICATED`: a bad token is
/// never downgraded to an anonymous request.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<AuthContext> {
    let now = state.clock.now();
    let claims = tokens::verify_access(&state.config, now, token)?;
    // One indexed read either way: the user, or the session with everyone in it.
    let (user, impersonation) = match claims.impersonation()? {
        None => {
            let user = user::Entity::find_by_id(claims.sub.clone())
                .one(&state.db)
                .await?
                .ok_or(AppError::Unauthenticated("invalid or expired token"))?;
            (user, None)
        }
        Some(imp) => {
            let (user, active) = session::live(state, now, imp, &claims.sub).await?;
            (user, Some(active))
        }
    };
    if issued_before_revocation(&user, claims.issued_at_micros()) {
        return Err(AppError::Unauthenticated("session ended: sign in again"));
    }
    Ok(AuthContext {
        role: user.role,
        team_id: claims.team_id.clone(),
        two_factor_authenticated: claims.is_two_factor_authenticated,
        pre_two_factor: claims.is_pre_two_factor(),
        user,
        impersonation,
    })
}

/// Counts an operation as its session's activity (the operation gate calls this once per
/// operation; re-checks of an open socket do not, so an idle console tab still times out).
pub async fn note_operation(state: &AppState, caller: &mut AuthContext) -> AppResult<()> {
    if let Some(active) = caller.impersonation.as_mut() {
        ending::touch(state, &mut active.record, state.clock.now()).await?;
    }
    Ok(())
}
