//! GraphQL object types. They wrap models; the API does not follow the column layout. One
//! file per domain; the helpers every type uses are here.
mod audit;
mod businesses;
mod impersonation;
mod passkeys;
mod review;
mod support_access;
mod teams;
mod transparency;
mod users;
mod webhooks;

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, OutputType, Result};

pub use audit::AuditLog;
pub use businesses::{Business, Comment, Lead};
pub use impersonation::Impersonation;
pub use passkeys::{Passkey, PasskeyChallenge, PasskeyResponse, StepUp};
pub use review::{ImpersonationReview, ReviewRequirementChange};
pub use support_access::{ImpersonationSettings, SupportAccessGrant};
pub use teams::Team;
pub use transparency::{ImpersonationActivity, Notification, StoryLine};
pub use users::{AuthPayload, CurrentUser, ImpersonationCheck, TwoFactorSecret, User};
pub use webhooks::{WebhookDelivery, WebhookEndpoint, WebhookEndpointCreated};

use super::loaders::{TeamLoader, UserLoader};
use crate::entities::{team, user};
use crate::error::AppError;
use crate::services::pagination::{Page, PageArgs, encode_cursor};

pub(crate) async fn load_user(ctx: &Context<'_>, id: &str) -> Result<user::Model> {
    let loader = ctx.data::<Arc<DataLoader<UserLoader>>>()?;
    loader
        .load_one(id.to_string())
        .await?
        .ok_or_else(|| AppError::NotFound("user").into())
}

pub(crate) async fn load_team(ctx: &Context<'_>, id: &str) -> Result<Option<team::Model>> {
    let loader = ctx.data::<Arc<DataLoader<TeamLoader>>>()?;
    loader.load_one(id.to_string()).await
}

/// The kill switch as this request sees it: read once per request, however many owners the
/// Teams List checks.
#[derive(Default)]
pub struct KillSwitchOnce(pub tokio::sync::OnceCell<crate::auth::policy::KillSwitch>);

pub(crate) async fn kill_switch(ctx: &Context<'_>) -> Result<crate::auth::policy::KillSwitch> {
    let once = ctx.data::<Arc<KillSwitchOnce>>()?;
    let db = &super::state(ctx)?.db;
    let s = once
        .0
        .get_or_try_init(|| crate::services::impersonation::kill_switch::read(db))
        .await?;
    Ok(*s)
}

/// The team with this id, if an id is given and the team exists.
async fn maybe_team(ctx: &Context<'_>, id: Option<&str>) -> Result<Option<Team>> {
    match id {
        Some(t) => Ok(load_team(ctx, t).await?.map(Team)),
        None => Ok(None),
    }
}

/// The user with this id, if an id is given.
async fn maybe_user(ctx: &Context<'_>, id: Option<&str>) -> Result<Option<User>> {
    match id {
        Some(u) => Ok(Some(User(load_user(ctx, u).await?))),
        None => Ok(None),
    }
}

/// Turns a page of rows into a Relay connection; cursors are the rows' ids.
pub(crate) fn connection<M, N: OutputType>(
    page: Page<M>,
    id: impl Fn(&M) -> &str,
    node: impl Fn(M) -> N,
) -> Connection<String, N> {
    let mut c = Connection::new(page.has_previous_page, page.has_next_page);
    c.edges.extend(
        page.items
            .into_iter()
            .map(|m| Edge::new(encode_cursor(id(&m)), node(m))),
    );
    c
}

pub(crate) fn page_args(first: Option<i32>, after: Option<String>) -> Result<PageArgs> {
    Ok(PageArgs::parse(first, after)?)
}
