//! Mutations, one object per domain, merged into the root. Resolvers read the context, call
//! a service and convert; the rules live in guards, the policy and the services.
use async_graphql::MergedObject;

mod account;
mod impersonation;
mod notifications;
mod review;
mod support_access;
mod team;
mod webhooks;
mod work;

pub use account::{AccountMutation, RegisterInput, UpdateProfileInput};
pub use impersonation::ImpersonationMutation;
pub use notifications::NotificationMutation;
pub use review::ReviewMutation;
pub use support_access::SupportAccessMutation;
pub use team::TeamMutation;
pub use work::WorkMutation;

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountMutation,
    TeamMutation,
    WorkMutation,
    ImpersonationMutation,
    SupportAccessMutation,
    NotificationMutation,
    ReviewMutation,
    webhooks::WebhookMutation,
);
