//! Webhooks for SIEMs and support tools: super admins manage endpoints; security events are
//! queued for them in the transaction of the change they tell (`emit`), and sent at least
//! once, signed per the Standard Webhooks specification, by whichever server claims each
//! delivery (`sender`). The SSRF rules: `address`.
//!
//! A payload carries ids, names, reasons, modes, times and end reasons: never a token, an
//! impersonation code, an e-mail address or a secret.
pub mod address;
pub mod in_flight;
pub mod sender;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::{Value, json};

use crate::auth::context::RequestMeta;
use crate::auth::proof::SuperAdmin;
use crate::db::{db_time, new_id};
use crate::entities::{
    impersonation, impersonation_review as review, support_access_grant as grant, user,
    webhook_delivery as delivery, webhook_endpoint as endpoint,
};
use crate::error::{AppError, AppResult};
use crate::sealed::Field;
use crate::services::audit::{self, Entry, action};
use crate::services::pagination::{Page, PageArgs};
use crate::state::AppState;

/// The event types an endpoint may ask for (the contract's list), and the test event.
pub const EVENT_TYPES: [&str; 21] = [
    "impersonation.started",
    "impersonation.elevated",
    "impersonation.ended",
    "support_access.requested",
    "support_access.approved",
    "support_access.denied",
    "support_access.revoked",
    "support_access.expired",
    "impersonation_review.requested",
    "impersonation_review.approved",
    "impersonation_review.denied",
    "impersonation.disabled",
    "impersonation.enabled",
    "user.factor_changed",
    "user.role_changed",
    "user.review_requirement_changed",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.disabled",
    "webhook_endpoint.deleted",
    "webhook.test",
];

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// What happened, by the id of the row that tells it; `emit` reads the rest.
pub enum Happening<'a> {
    /// `impersonation.started`, `.elevated` or `.ended`.
    Session(&'static str, &'a str),
    /// `support_access.*`.
    Grant(&'static str, &'a str),
    /// `impersonation_review.*`.
    Review(&'static str, &'a str),
    /// `user.factor_changed`: what signs a person in changed.
    Factor {
        user: &'a user::Model,
        /// PASSKEY_ADDED, PASSKEY_REMOVED, TOTP_ENABLED, TOTP_DISABLED or PASSWORD_CHANGED.
        change: &'static str,
        passkey_name: Option<&'a str>,
    },
    /// `user.role_changed`: `by` set `user`'s role from `from` to its role now.
    RoleChanged {
        user: &'a user::Model,
        from: &'static str,
        by: &'a user::Model,
    },
    /// `user.review_requirement_changed`: `user`'s account marked or unmarked for four-eyes
    /// review, by `by` (and, when unmarked, approved by `approved_by`).
    ReviewRequirement {
        user: &'a user::Model,
        by: &'a user::Model,
        approved_by: Option<&'a user::Model>,
    },
    /// `webhook_endpoint.created`, `.updated`, `.disabled` or `.deleted` (the endpoint as it
    /// was before the change, but for `.created`).
    Endpoint {
        kind: &'static str,
        endpoint: &'a endpoint::Model,
        by: &'a str,
    },
    /// The kill switch: `impersonation.enabled` or `.disabled`.
    Switch {
        enabled: bool,
        reason: Option<&'a str>,
        by: &'a user::Model,
    },
}

fn person(u: &user::Model) -> Value {
    json!({ "id": u.id, "name": u.name })
}

async fn person_by_id(conn: &impl ConnectionTrait, id: Option<&str>) -> AppResult<Value> {
    let Some(id) = id else {
        return Ok(Value::Null);
    };
    Ok(match user::Entity::find_by_id(id).one(conn).await? {
        Some(u) => person(&u),
        None => json!({ "id": id }),
    })
}

/// A time as the API writes it: RFC 3339 in UTC, milliseconds.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| json!(rfc3339(t))).unwrap_or(Value::Null)
}

/// The event's type and data.
async fn describe(
    conn: &impl ConnectionTrait,
    h: &Happening<'_>,
) -> AppResult<Option<(&'static str, Value)>> {
    Ok(match h {
        Happening::Session(kind, id) => {
            let Some(s) = impersonation::Entity::find_by_id(*id).one(conn).await? else {
                return Ok(None);
            };
            let data = json!({
                "impersonationId": s.id,
                "admin": person_by_id(conn, Some(&s.impersonator_id)).await?,
                "user": person_by_id(conn, Some(&s.impersonated_user_id)).await?,
                "reason": s.reason,
                "ticket": s.ticket,
                "mode": s.mode.as_str(),
                "initialMode": s.initial_mode().as_str(),
                "startedAt": time(Some(s.started_at)),
                "expiresAt": time(Some(s.expires_at)),
                "elevatedAt": time(s.elevated_at),
                "elevationReason": s.elevation_reason,
                "endedAt": time(s.ended_at),
                "endReason": s.end_reason,
                "grantId": s.grant_id,
                "reviewId": s.review_id,
            });
            Some((*kind, data))
        }
        Happening::Grant(kind, id) => {
            let Some(g) = grant::Entity::find_by_id(*id).one(conn).await? else {
                return Ok(None);
            };
            let data = json!({
                "grantId": g.id,
                "user": person_by_id(conn, Some(&g.user_id)).await?,
                "requestedBy": person_by_id(conn, g.requested_by_id.as_deref()).await?,
                "reason": g.reason,
                "ticket": g.ticket,
                "mode": g.mode.as_str(),
                "status": g.status.as_str(),
                "requestedMinutes": g.requested_minutes,
                "decidedAt": time(g.decided_at),
                "expiresAt": time(g.expires_at),
            });
            Some((*kind, data))
        }
        Happening::Review(kind, id) => {
            let Some(r) = review::Entity::find_by_id(*id).one(conn).await? else {
                return Ok(None);
            };
            let data = json!({
                "reviewId": r.id,
                "requester": person_by_id(conn, Some(&r.requester_id)).await?,
                "user": person_by_id(conn, Some(&r.target_id)).await?,
                "reviewer": person_by_id(conn, r.reviewer_id.as_deref()).await?,
                "reason": r.reason,
                "ticket": r.ticket,
                "mode": r.mode.as_str(),
                "minutes": r.minutes,
                "status": r.status.as_str(),
                "note": r.note,
                "decidedAt": time(r.decided_at),
            });
            Some((*kind, data))
        }
        Happening::Factor {
            user,
            change,
            passkey_name,
        } => Some((
            "user.factor_changed",
            json!({
                "user": person(user),
                "role": user.role.as_str(),
                "change": change,
                "passkeyName": passkey_name,
                "twoFactorEnabled": user.two_factor_on(),
            }),
        )),
        Happening::RoleChanged { user, from, by } => Some((
            "user.role_changed",
            json!({ "user": person(user), "from": from, "to": user.role.as_str(), "by": person(by) }),
        )),
        Happening::ReviewRequirement {
            user,
            by,
            approved_by,
        } => Some((
            "user.review_requirement_changed",
            json!({
                "user": person(user),
                "reviewRequired": user.impersonation_review_required,
                "by": person(by),
                "approvedBy": approved_by.map(person),
            }),
        )),
        Happening::Endpoint { kind, endpoint, by } => Some((
            *kind,
            json!({
                "endpointId": endpoint.id,
                "url": address::for_the_record(&endpoint.url),
                "events": endpoint.event_types(),
                "enabled": endpoint.enabled,
                "by": person_by_id(conn, Some(by)).await?,
            }),
        )),
        Happening::Switch {
            enabled,
            reason,
            by,
        } => {
            let kind = match enabled {
                true => "impersonation.enabled",
                false => "impersonation.disabled",
            };
            Some((
                kind,
                json!({ "enabled": enabled, "reason": reason, "by": person(by) }),
            ))
        }
    })
}

/// Queues `h` for every enabled endpoint that wants its type, on `conn` (the transaction of
/// the change): the deliveries exist exactly when the change committed. With no endpoint,
/// one indexed read.
pub async fn emit(
    conn: &impl ConnectionTrait,
    h: Happening<'_>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let endpoints = endpoint::Entity::find()
        .filter(endpoint::Column::Enabled.eq(true))
        .all(conn)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let Some((kind, data)) = describe(conn, &h).await? else {
        return Ok(());
    };
    // The endpoint being changed, switched off or deleted is told too, whatever it asked
    // for, at the address and with the secret it has now (a farewell: queued before the
    // change, sent whatever becomes of the endpoint).
    let changed = match &h {
        Happening::Endpoint { kind, endpoint, .. } if *kind != "webhook_endpoint.created" => {
            Some(endpoint.id.as_str())
        }
        _ => None,
    };
    for e in &endpoints {
        let farewell = changed == Some(e.id.as_str());
        if farewell || e.event_types().iter().any(|t| t == kind) {
            queue(conn, e, kind, &data, farewell, at).await?;
        }
    }
    Ok(())
}

/// One delivery of `kind` to `e`: the body as it will be signed and sent.
async fn queue(
    conn: &impl ConnectionTrait,
    e: &endpoint::Model,
    kind: &str,
    data: &Value,
    farewell: bool,
    at: DateTime<Utc>,
) -> AppResult<delivery::Model> {
    let body = json!({ "type": kind, "timestamp": rfc3339(at), "data": data });
    Ok(delivery::ActiveModel {
        id: Set(format!("msg_{}", new_id().replace('-', ""))),
        endpoint_id: Set(e.id.clone()),
        event_type: Set(kind.to_string()),
        payload: Set(body.to_string()),
        status: Set(sender::PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(db_time(at)),
        claimed_until: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        created_at: Set(db_time(at)),
        delivered_at: Set(None),
        target_url: Set(farewell.then(|| e.url.clone())),
        target_secret: Set(farewell.then(|| e.secret.clone())),
        claim_token: Set(None),
    }
    .insert(conn)
    .await?)
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// What an endpoint is set to.
pub struct EndpointInput<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
}

fn check_events(events: &[String]) -> AppResult<String> {
    use crate::services::validation::{MAX_EVENT_TYPES, at_most};
    at_most("events", events, MAX_EVENT_TYPES)?;
    if events.is_empty() {
        return Err(AppError::bad_input(
            "events",
            "name at least one event type",
        ));
    }
    if let Some(bad) = events.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(AppError::bad_input(
            "events",
            format!(
                "unknown event type {bad:?}; known: {}",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    let mut unique: Vec<&String> = events.iter().collect();
    unique.sort();
    unique.dedup();
    Ok(json!(unique).to_string())
}

fn check_description(d: Option<&str>) -> AppResult<Option<String>> {
    crate::services::validation::optional_reason("description", d)
}

/// `createWebhookEndpoint`: the endpoint and its secret, shown this once.
pub async fn create(
    state: &AppState,
    caller: SuperAdmin<'_>,
    input: EndpointInput<'_>,
    meta: &RequestMeta,
) -> AppResult<(endpoint::Model, String)> {
    let url = address::check_url(input.url.unwrap_or(""), state.config.webhooks.allow_private)?;
    let events = check_events(input.events.unwrap_or(&[]))?;
    let description = check_description(input.description)?;
    let now = state.clock.now();
    let secret = new_secret();
    let sealed = state.config.data_keys.seal(Field::WebhookSecret, &secret)?;
    let txn = crate::db::write_txn(state).await?;
    let row = endpoint::ActiveModel {
        id: Set(new_id()),
        url: Set(url.to_string()),
        description: Set(description),
        events: Set(events),
        secret: Set(sealed),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        enabled: Set(input.enabled.unwrap_or(true)),
        disabled_at: Set(None),
        failing_since: Set(None),
        created_by: Set(caller.user.id.clone()),
        created_at: Set(db_time(now)),
        updated_at: Set(db_time(now)),
        timeouts_in_row: Set(0),
        held_until: Set(None),
    }
    .insert(&txn)
    .await?;
    let entry = Entry::for_caller(action::WEBHOOK_ENDPOINT_CREATED, &caller, meta, now)
        .entity("WebhookEndpoint", &row.id)
        .details(json!({ "url": address::for_the_record(&row.url), "events": row.event_types() }));
    audit::record(&txn, entry).await?;
    endpoint_changed(
        state,
        &txn,
        "webhook_endpoint.created",
        &row,
        &caller.user,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((row, secret))
}

/// Tells a change of an endpoint (`kind`; `e` as it was before the change, but when created)
/// to the webhook endpoints (the changed one too, at its old address: see `emit`) and to
/// every other super admin: one insider cannot quietly blind the SIEM.
async fn endpoint_changed(
    state: &AppState,
    conn: &impl ConnectionTrait,
    kind: &'static str,
    e: &endpoint::Model,
    by: &user::Model,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let by_id = by.id.as_str();
    emit(
        conn,
        Happening::Endpoint {
            kind,
            endpoint: e,
            by: by_id,
        },
        at,
    )
    .await?;
    let what = match kind {
        "webhook_endpoint.created" => "added",
        "webhook_endpoint.updated" => "changed",
        "webhook_endpoint.disabled" => "switched off",
        _ => "removed",
    };
    let message = format!(
        "{} {what} the webhook endpoint {}.",
        by.name,
        address::for_the_record(&e.url)
    );
    crate::services::notify::notices::tell_super_admins(
        conn,
        &state.config,
        by_id,
        crate::events::kind::SECURITY_CHANGED,
        "A webhook endpoint changed",
        &message,
        at,
    )
    .await
}

async fn find(conn: &impl ConnectionTrait, id: &str) -> AppResult<endpoint::Model> {
    endpoint::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// `updateWebhookEndpoint`: what is given changes. Enabling one clears its failure clock.
pub async fn update(
    state: &AppState,
    caller: SuperAdmin<'_>,
    id: &str,
    input: EndpointInput<'_>,
    meta: &RequestMeta,
) -> AppResult<endpoint::Model> {
    let url = match input.url {
        Some(u) => Some(address::check_url(u, state.config.webhooks.allow_private)?),
        None => None,
    };
    let events = input.events.map(check_events).transpose()?;
    let description = match input.description {
        Some(d) => Some(check_description(Some(d))?),
        None => None,
    };
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let before = find(&txn, id).await?;
    // Told before it changes: a switch-off or a new address is heard where it was.
    let kind = match input.enabled {
        Some(false) if before.enabled => "webhook_endpoint.disabled",
        _ => "webhook_endpoint.updated",
    };
    endpoint_changed(state, &txn, kind, &before, &caller.user, now).await?;
    let mut row: endpoint::ActiveModel = before.into();
    if let Some(u) = url {
        row.url = Set(u.to_string());
    }
    if let Some(e) = events {
        row.events = Set(e);
    }
    if let Some(d) = description {
        row.description = Set(d);
    }
    if let Some(on) = input.enabled {
        row.enabled = Set(on);
        row.disabled_at = Set((!on).then(|| db_time(now)));
        row.failing_since = Set(None);
    }
    row.updated_at = Set(db_time(now));
    let row = row.update(&txn).await?;
    let entry = Entry::for_caller(action::WEBHOOK_ENDPOINT_UPDATED, &caller, meta, now)
        .entity("WebhookEndpoint", &row.id)
        .details(json!({ "url": address::for_the_record(&row.url), "events": row.event_types(), "enabled": row.enabled }));
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    Ok(row)
}

/// `deleteWebhookEndpoint`: the endpoint and its deliveries, pending ones included.
pub async fn delete(
    state: &AppState,
    caller: SuperAdmin<'_>,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<()> {
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let row = find(&txn, id).await?;
    // Its pending deliveries go with it, but its farewells (they carry their own address).
    delivery::Entity::delete_many()
        .filter(delivery::Column::EndpointId.eq(row.id.clone()))
        .filter(delivery::Column::TargetUrl.is_null())
        .exec(&txn)
        .await?;
    // Told before it goes (the farewell to it carries its address and secret).
    endpoint_changed(
        state,
        &txn,
        "webhook_endpoint.deleted",
        &row,
        &caller.user,
        now,
    )
    .await?;
    endpoint::Entity::delete_by_id(row.id.clone())
        .exec(&txn)
        .await?;
    let entry = Entry::for_caller(action::WEBHOOK_ENDPOINT_DELETED, &caller, meta, now)
        .entity("WebhookEndpoint", &row.id)
        .details(json!({ "url": address::for_the_record(&row.url) }));
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    Ok(())
}

/// `rotateWebhookSecret`: a new secret, shown this once; the old one signs too for 24 hours
/// (two signatures in `webhook-signature` meanwhile).
pub async fn rotate(
    state: &AppState,
    caller: SuperAdmin<'_>,
    id: &str,
    meta: &RequestMeta,
) -> AppResult<(endpoint::Model, String)> {
    let now = state.clock.now();
    let secret = new_secret();
    let txn = crate::db::write_txn(state).await?;
    let old = find(&txn, id).await?;
    let keys = &state.config.data_keys;
    // Sealed again for the column it moves to (the column is the seal's associated data).
    let previous = keys.seal(
        Field::WebhookPreviousSecret,
        &keys.open(Field::WebhookSecret, &old.secret)?,
    )?;
    let mut row: endpoint::ActiveModel = old.clone().into();
    row.previous_secret = Set(Some(previous));
    row.previous_secret_until = Set(Some(db_time(now + ROTATION_OVERLAP)));
    row.secret = Set(keys.seal(Field::WebhookSecret, &secret)?);
    row.updated_at = Set(db_time(now));
    let row = row.update(&txn).await?;
    let entry = Entry::for_caller(action::WEBHOOK_SECRET_ROTATED, &caller, meta, now)
        .entity("WebhookEndpoint", &row.id);
    audit::record(&txn, entry).await?;
    txn.commit().await?;
    Ok((row, secret))
}

/// `sendTestWebhook`: a `webhook.test` delivery to this endpoint alone, queued now.
pub async fn send_test(
    state: &AppState,
    caller: SuperAdmin<'_>,
    id: &str,
) -> AppResult<delivery::Model> {
    let now = state.clock.now();
    let txn = crate::db::write_txn(state).await?;
    let e = find(&txn, id).await?;
    let data = json!({ "endpointId": e.id, "by": person(&caller.user) });
    let d = queue(&txn, &e, "webhook.test", &data, false, now).await?;
    txn.commit().await?;
    Ok(d)
}

/// Every endpoint, oldest first.
pub async fn list(conn: &impl ConnectionTrait) -> AppResult<Vec<endpoint::Model>> {
    Ok(endpoint::Entity::find()
        .order_by_asc(endpoint::Column::CreatedAt)
        .order_by_asc(endpoint::Column::Id)
        .all(conn)
        .await?)
}

/// An endpoint's deliveries, newest first (ids are time-ordered).
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    endpoint_id: &str,
    page: &PageArgs,
) -> AppResult<Page<delivery::Model>> {
    let mut q = delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(delivery::Column::Id);
    if let Some(after) = &page.after {
        q = q.filter(delivery::Column::Id.lt(after.clone()));
    }
    let rows = q.limit(page.first + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page))
}
