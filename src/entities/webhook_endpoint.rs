use sea_orm::entity::prelude::*;

/// A receiver of signed webhooks, managed by super admins. `secret` (`whsec_…`) signs every
/// delivery and is shown once; after a rotation the previous one also signs until
/// `previous_secret_until` (24 hours), so receivers can switch without losing an event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// The event types it wants, as a JSON array of strings.
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub enabled: bool,
    /// When it was switched off (by an admin, or after failing for a day).
    pub disabled_at: Option<DateTimeUtc>,
    /// The first failure since its last success.
    pub failing_since: Option<DateTimeUtc>,
    /// The super admin told when it is disabled.
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Deliveries in a row that timed out (the circuit breaker's count).
    pub timeouts_in_row: i32,
    /// Held back until then: no delivery to it is claimed (the breaker is open).
    pub held_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The event types it wants.
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}
