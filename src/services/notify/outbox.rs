//! The durable e-mail outbox. Notices are queued in the transaction that writes them, and a
//! background task on every server sends what is due: it claims a row first (a conditional
//! update), so one server sends it; a failure is retried with backoff; nothing is lost when a
//! server restarts (the row waits in the database). Sending never blocks or fails a request.
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::config::smtp::{SmtpConfig, SmtpSecurity};
use crate::db::{db_time, new_id};
use crate::entities::{email_outbox as outbox, notification};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A sender holds a claimed e-mail this long before another may take it over.
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);
/// After this many failed attempts an e-mail is left for operators (`last_error` says why).
pub const MAX_ATTEMPTS: i32 = 20;
/// The longest wait between attempts.
const MAX_BACKOFF_SECONDS: i64 = 300;
/// How often each server looks for due e-mail.
pub const POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Queues the e-mail of a notice, on `conn` (the notice's transaction).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    n: &notification::Model,
    to: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let body = format!(
        "{}\n\nYour account's Support access page lists who entered your account, why, \
         and what they did.\n",
        n.message
    );
    outbox::ActiveModel {
        id: Set(new_id()),
        notification_id: Set(Some(n.id.clone())),
        to_address: Set(to.to_string()),
        subject: Set(subject.to_string()),
        body: Set(body),
        created_at: Set(db_time(at)),
        attempts: Set(0),
        next_attempt_at: Set(db_time(at)),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Runs `deliver_due` every `POLL` for as long as the process lives, when e-mail is set up.
pub fn spawn_worker(state: AppState) {
    let Some(smtp) = &state.config.smtp else {
        return;
    };
    tracing::info!(host = %smtp.host, port = smtp.port, security = ?smtp.security, "e-mailing notices");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match deliver_due(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "e-mailed notices"),
                Err(e) => tracing::warn!(error = %e, "e-mail outbox pass failed"),
            }
        }
    });
}

/// Sends every e-mail that is due and not held by another sender. Returns how many it sent.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    use outbox::Column as C;
    let Some(smtp) = &state.config.smtp else {
        return Ok(0);
    };
    let now = state.clock.now();
    let free = || {
        Condition::any()
            .add(C::ClaimedUntil.is_null())
            .add(C::ClaimedUntil.lt(db_time(now)))
    };
    let due = outbox::Entity::find()
        .filter(C::SentAt.is_null())
        .filter(C::NextAttemptAt.lte(db_time(now)))
        .filter(C::Attempts.lt(MAX_ATTEMPTS))
        .filter(free())
        .order_by_asc(C::NextAttemptAt)
        .limit(50)
        .all(&state.db)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let transport = transport(smtp)?;
    let mut sent = 0;
    for mail in due {
        let txn = crate::db::write_txn(state).await?;
        let claimed = outbox::Entity::update_many()
            .col_expr(C::ClaimedUntil, Expr::value(Some(db_time(now + CLAIM))))
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .filter(C::Id.eq(mail.id.clone()))
            .filter(C::SentAt.is_null())
            .filter(free())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if claimed.rows_affected != 1 {
            continue; // another server took it
        }
        let attempt = mail.attempts + 1;
        let result = send(&transport, smtp, &mail).await;
        let done = state.clock.now();
        let mut row: outbox::ActiveModel = outbox::Entity::find_by_id(mail.id.clone())
            .one(&state.db)
            .await?
            .ok_or(AppError::NotFound("e-mail"))?
            .into();
        row.claimed_until = Set(None);
        match result {
            Ok(()) => {
                row.sent_at = Set(Some(db_time(done)));
                row.last_error = Set(None);
                sent += 1;
            }
            Err(e) => {
                let wait = Ord::min(1i64 << (attempt - 1).clamp(0, 20), MAX_BACKOFF_SECONDS);
                row.next_attempt_at = Set(db_time(done + chrono::Duration::seconds(wait)));
                row.last_error = Set(Some(e.chars().take(500).collect()));
                tracing::warn!(attempt, retry_in_seconds = wait, error = %e, "e-mail not sent");
            }
        }
        let txn = crate::db::write_txn(state).await?;
        row.update(&txn).await?;
        txn.commit().await?;
    }
    Ok(sent)
}

fn transport(smtp: &SmtpConfig) -> AppResult<AsyncSmtpTransport<Tokio1Executor>> {
    type T = AsyncSmtpTransport<Tokio1Executor>;
    let builder = match smtp.security {
        SmtpSecurity::Tls => T::relay(&smtp.host).map_err(AppError::internal)?,
        SmtpSecurity::StartTls => T::starttls_relay(&smtp.host).map_err(AppError::internal)?,
        SmtpSecurity::PlainLoopback => T::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(10)));
    if let Some(user) = &smtp.user {
        let pass = smtp.password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), pass));
    }
    Ok(builder.build())
}

/// One attempt; the error in words (lettre's errors carry no credentials).
async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    smtp: &SmtpConfig,
    mail: &outbox::Model,
) -> Result<(), String> {
    let from = smtp.from.parse().map_err(|e| format!("SMTP_FROM: {e}"))?;
    let to = mail
        .to_address
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("message: {e}"))?;
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
