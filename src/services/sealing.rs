//! Sealing the secrets already stored: values written before sealing existed, or sealed
//! under an older data key, are sealed under `DATA_ENCRYPTION_KEY` (`crate::sealed`). Run
//! right after the migrations (at every start, and by `migrate` and `rotate-data-key`).
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entities::{user, webhook_endpoint as endpoint};
use crate::error::AppResult;
use crate::sealed::Field;
use crate::state::AppState;

/// Seals every secret not sealed under the current key: values written before sealing
/// existed (run after the migrations, at every start and by `migrate`), and values under an
/// older key (`rotate-data-key`). Returns how many values were sealed.
pub async fn seal_existing(state: &AppState) -> AppResult<usize> {
    let keys = &state.config.data_keys;
    let db = &state.db;
    let mut sealed = 0;
    let users = user::Entity::find()
        .filter(user::Column::TotpSecret.is_not_null())
        .all(db)
        .await?;
    for u in users {
        let Some(stored) = u.totp_secret.as_deref() else {
            continue;
        };
        if let Some(new) = keys.reseal(Field::TotpSecret, stored)? {
            let id = u.id.clone();
            write(state, move |txn| async move {
                user::Entity::update_many()
                    .col_expr(
                        user::Column::TotpSecret,
                        sea_orm::sea_query::Expr::value(new),
                    )
                    .filter(user::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
                txn.commit().await?;
                Ok(())
            })
            .await?;
            sealed += 1;
        }
    }
    for e in endpoint::Entity::find().all(db).await? {
        let secret = keys.reseal(Field::WebhookSecret, &e.secret)?;
        let previous = match e.previous_secret.as_deref() {
            Some(p) => keys.reseal(Field::WebhookPreviousSecret, p)?,
            None => None,
        };
        if secret.is_none() && previous.is_none() {
            continue;
        }
        sealed += usize::from(secret.is_some()) + usize::from(previous.is_some());
        let mut row: endpoint::ActiveModel = e.into();
        if let Some(s) = secret {
            row.secret = Set(s);
        }
        if let Some(p) = previous {
            row.previous_secret = Set(Some(p));
        }
        write(state, move |txn| async move {
            row.update(&txn).await?;
            txn.commit().await?;
            Ok(())
        })
        .await?;
    }
    Ok(sealed)
}

async fn write<F, Fut>(state: &AppState, work: F) -> AppResult<()>
where
    F: FnOnce(crate::db::WriteTxn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<()>> + Send + 'static,
{
    crate::db::record(state, work).await
}
