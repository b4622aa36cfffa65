//! Notices to a user about their account: written in the transaction of what they tell (a
//! session started or ended in the account, access asked for), listed in the app, and, with
//! `SMTP_URL` set, queued in the same transaction for e-mail (`services::notify::outbox`). Nothing an
//! admin sets turns them off.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::context::RequestMeta;
use crate::auth::proof::AsThemselves;
use crate::config::Config;
use crate::db::{db_time, new_id};
use crate::entities::{notification, user};
use crate::error::AppResult;
use crate::events::{self, NewEvent};
use crate::services::audit::{self, Entry, action};
use crate::services::notify::outbox;
use crate::services::pagination::{Page, PageArgs};
use crate::state::AppState;

/// A notice's kind is the kind of the live event it goes out with.
pub use crate::events::kind;

/// A notice to write.
pub struct Notice<'a> {
    pub kind: &'static str,
    /// Ready to show.
    pub message: String,
    /// The e-mail's subject line.
    pub subject: &'static str,
    pub impersonation_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
}

/// Writes the notice for `to` on `conn` (the transaction of the change it tells about), its
/// live event (of the notice's kind), and, when e-mail is set up, its e-mail into the outbox,
/// all in the same transaction.
pub async fn notify(
    conn: &impl ConnectionTrait,
    config: &Config,
    to: &user::Model,
    n: Notice<'_>,
    at: DateTime<Utc>,
) -> AppResult<notification::Model> {
    let row = notification::ActiveModel {
        id: Set(new_id()),
        user_id: Set(to.id.clone()),
        kind: Set(n.kind.to_string()),
        message: Set(n.message),
        created_at: Set(db_time(at)),
        read_at: Set(None),
        impersonation_id: Set(n.impersonation_id.map(str::to_string)),
        grant_id: Set(n.grant_id.map(str::to_string)),
    }
    .insert(conn)
    .await?;
    if config.smtp.is_some() {
        outbox::enqueue(conn, &row, &to.email, n.subject, at).await?;
    }
    // Live: the customer's open sessions (`myAccountEvents`) are told with the notice.
    let mut event = NewEvent::new(n.kind, &to.id)
        .grant(n.grant_id)
        .notification(&row.id);
    if let Some(id) = n.impersonation_id {
        event = event.impersonation(id);
    }
    events::publish(conn, event, at).await?;
    Ok(row)
}

/// A notice to every super admin but `except` (the one whose change it tells), on `conn`:
/// the changes one insider could make alone are seen by the others.
pub async fn tell_super_admins(
    conn: &impl ConnectionTrait,
    config: &Config,
    except: &str,
    kind: &'static str,
    subject: &'static str,
    message: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let others = user::Entity::find()
        .filter(user::Column::Role.eq(crate::entities::role::Role::SuperAdmin))
        .filter(user::Column::Id.ne(except))
        .all(conn)
        .await?;
    for other in &others {
        let notice = Notice {
            kind,
            message: message.to_string(),
            subject,
            impersonation_id: None,
            grant_id: None,
        };
        notify(conn, config, other, notice, at).await?;
    }
    Ok(())
}

/// A user's notices, newest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    user_id: &str,
    unread_only: bool,
    page: &PageArgs,
) -> AppResult<Page<notification::Model>> {
    use notification::Column as C;
    let mut q = notification::Entity::find()
        .filter(C::UserId.eq(user_id))
        .order_by_desc(C::Id);
    if unread_only {
        q = q.filter(C::ReadAt.is_null());
    }
    if let Some(after) = &page.after {
        q = q.filter(C::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}

/// `markNotificationsRead`: marks the caller's notices read (those of `ids`, others' ids
/// ignored, or all when `ids` is `None`), audited in the same transaction. Returns how many
/// were newly marked.
pub async fn mark_read(
    state: &AppState,
    caller: AsThemselves<'_>,
    ids: Option<&[String]>,
    meta: &RequestMeta,
) -> AppResult<u64> {
    if let Some(ids) = ids {
        use crate::services::validation::{MAX_IDS, at_most};
        at_most("ids", ids, MAX_IDS)?;
    }
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let n = mark(&txn, &caller.user.id, ids, now).await?;
    let entry = Entry::for_caller(action::NOTIFICATIONS_READ, &caller, meta, now)
        .details(serde_json::json!({ "marked": n }));
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    Ok(n)
}

async fn mark(
    conn: &impl ConnectionTrait,
    user_id: &str,
    ids: Option<&[String]>,
    at: DateTime<Utc>,
) -> AppResult<u64> {
    use notification::Column as C;
    let mut q = notification::Entity::update_many()
        .col_expr(C::ReadAt, Expr::value(Some(db_time(at))))
        .filter(C::UserId.eq(user_id))
        .filter(C::ReadAt.is_null());
    if let Some(ids) = ids {
        q = q.filter(C::Id.is_in(ids.iter().cloned()));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// A duration in words, to the minute.
pub fn minutes_in_words(d: chrono::Duration) -> String {
    match d.num_minutes() {
        0 => "less than a minute".into(),
        1 => "1 minute".into(),
        m => format!("{m} minutes"),
    }
}

/// A ticket's mention at the end of a notice's sentence: " (ticket 4521)", or nothing.
pub fn ticket_clause(ticket: Option<&str>) -> String {
    ticket.map(|t| format!(" (ticket {t})")).unwrap_or_default()
}
