use sea_orm::entity::prelude::*;

/// One event for one endpoint: the outbox row a sender claims, sends and records. `id` is the
/// Standard Webhooks `webhook-id` (`msg_…`), the same on every retry, so receivers can drop
/// duplicates.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    /// The body, exactly as signed and sent.
    pub payload: String,
    /// PENDING, DELIVERED or FAILED (the retry schedule ran out, or the endpoint is gone).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A sender holds it until then.
    pub claimed_until: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// A farewell to an endpoint that is changed, switched off or deleted: the address it had
    /// (sent there whatever became of the endpoint since).
    pub target_url: Option<String>,
    /// With `target_url`: the endpoint's signing secret as it was, sealed.
    pub target_secret: Option<String>,
    /// The fencing token of the sender holding the claim: only it records the outcome.
    pub claim_token: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
