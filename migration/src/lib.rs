//! Database migrations. Each file is named `mYYYYMMDD_HHMMSS_what.rs` and is never edited
//! once merged; migrations use their own identifiers, never the live entities.
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_initial;
mod m20261121_000002_auth_failures;
mod m20261121_000003_sessions_valid_after;
mod m20261121_000004_impersonation_end_reason;
mod m20261121_000005_user_role_values;
mod m20261121_000006_comments_one_table;
mod m20261121_000007_modes_and_switch;
mod m20261121_000008_support_access;
mod m20261121_000009_transparency;
mod m20261122_000010_events;
mod m20261122_000011_membership_order;
mod m20261206_000012_history_in_words;
mod m20261206_000013_four_eyes_review;
mod m20261206_000014_passkeys;
mod m20261206_000015_webhooks;
mod m20261207_000016_readiness_probe;
mod m20261207_000017_sealed_secrets;
mod m20261207_000018_insiders;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261121_000002_auth_failures::Migration),
            Box::new(m20261121_000003_sessions_valid_after::Migration),
            Box::new(m20261121_000004_impersonation_end_reason::Migration),
            Box::new(m20261121_000005_user_role_values::Migration),
            Box::new(m20261121_000006_comments_one_table::Migration),
            Box::new(m20261121_000007_modes_and_switch::Migration),
            Box::new(m20261121_000008_support_access::Migration),
            Box::new(m20261121_000009_transparency::Migration),
            Box::new(m20261122_000010_events::Migration),
            Box::new(m20261122_000011_membership_order::Migration),
            Box::new(m20261206_000012_history_in_words::Migration),
            Box::new(m20261206_000013_four_eyes_review::Migration),
            Box::new(m20261206_000014_passkeys::Migration),
            Box::new(m20261206_000015_webhooks::Migration),
            Box::new(m20261207_000016_readiness_probe::Migration),
            Box::new(m20261207_000017_sealed_secrets::Migration),
            Box::new(m20261207_000018_insiders::Migration),
        ]
    }
}
