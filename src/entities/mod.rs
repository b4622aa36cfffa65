//! SeaORM entities, one per table. GraphQL types live in `graphql::types`, not here.
pub mod audit_log;
pub mod auth_failure;
pub mod business;
pub mod comment;
pub mod email_outbox;
pub mod event;
pub mod impersonation;
pub mod impersonation_activity;
pub mod impersonation_review;
pub mod impersonation_setting;
pub mod lead;
pub mod notification;
pub mod passkey;
pub mod refresh_token;
pub mod review_requirement_change;
pub mod role;
pub mod support_access_grant;
pub mod team;
pub mod team_member;
pub mod user;
pub mod webauthn_challenge;
pub mod webhook_delivery;
pub mod webhook_endpoint;

/// The `(table, column)` of every 64-bit integer column: SQLite declares them `INTEGER` like
/// the 32-bit ones, and the SQLite writer (`db::writer`) reads each as its entity does.
pub fn big_integer_columns() -> Vec<(String, String)> {
    use sea_orm::{ColumnTrait, ColumnType, IdenStatic, Iterable};
    fn of<E: sea_orm::EntityTrait>(out: &mut Vec<(String, String)>) {
        for c in E::Column::iter() {
            if matches!(c.def().get_column_type(), ColumnType::BigInteger) {
                out.push((
                    E::default().table_name().to_string(),
                    IdenStatic::as_str(&c).to_string(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    of::<audit_log::Entity>(&mut out);
    of::<auth_failure::Entity>(&mut out);
    of::<business::Entity>(&mut out);
    of::<comment::Entity>(&mut out);
    of::<email_outbox::Entity>(&mut out);
    of::<event::Entity>(&mut out);
    of::<impersonation::Entity>(&mut out);
    of::<impersonation_activity::Entity>(&mut out);
    of::<impersonation_review::Entity>(&mut out);
    of::<impersonation_setting::Entity>(&mut out);
    of::<lead::Entity>(&mut out);
    of::<notification::Entity>(&mut out);
    of::<passkey::Entity>(&mut out);
    of::<refresh_token::Entity>(&mut out);
    of::<review_requirement_change::Entity>(&mut out);
    of::<support_access_grant::Entity>(&mut out);
    of::<team::Entity>(&mut out);
    of::<team_member::Entity>(&mut out);
    of::<user::Entity>(&mut out);
    of::<webauthn_challenge::Entity>(&mut out);
    of::<webhook_delivery::Entity>(&mut out);
    of::<webhook_endpoint::Entity>(&mut out);
    out
}
