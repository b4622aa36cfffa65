//! Each audit row as a sentence, as the customer's history and audit log show it ("Added a
//! comment on the lead “Spring order”", "Support entered the account, read-only: “Invoice”").
//! No action codes, GraphQL words or ids; a record is named only when it belongs to the row's
//! own team (the reader sees the row, so may see what it names there). Sentences are made
//! from the whole row, before what the reader may not see of it (`details`) is trimmed.
use std::collections::HashMap;

use crate::entities::audit_log;
use crate::entities::impersonation::EndReason;
use crate::error::AppResult;
use crate::services::audit::action as a;
use crate::services::history::names::{self, Named};

/// An audit row and its sentence.
#[derive(Debug, Clone)]
pub struct Described {
    pub row: audit_log::Model,
    pub summary: String,
}

/// The rows with their sentences: the records they name looked up in one statement per kind.
pub async fn describe(
    conn: &impl sea_orm::ConnectionTrait,
    rows: Vec<audit_log::Model>,
) -> AppResult<Vec<Described>> {
    let keys: Vec<names::Key> = rows.iter().filter_map(key).collect();
    let named: HashMap<names::Key, Named> = if keys.is_empty() {
        HashMap::new()
    } else {
        names::of(conn, &keys).await?
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let n = key(&row)
                .and_then(|k| named.get(&k))
                .filter(|n| row.team_id.as_deref() == Some(n.team_id.as_str()));
            let summary = summary(&row, n);
            Described { row, summary }
        })
        .collect())
}

fn key(row: &audit_log::Model) -> Option<names::Key> {
    let kind = match row.entity_type.as_deref()? {
        "Lead" => names::kind::LEAD,
        "Business" => names::kind::BUSINESS,
        "Team" => names::kind::TEAM,
        "BusinessComment" | "LeadComment" => names::kind::COMMENT,
        _ => return None,
    };
    Some((kind, row.entity_id.clone()?))
}

/// The row's `details`, parsed once (null when it has none).
type Details = serde_json::Value;

fn detail(d: &Details, field: &str) -> Option<String> {
    d.get(field)?.as_str().map(str::to_string)
}

fn mode_words(d: &Details) -> &'static str {
    match detail(d, "mode").as_deref() {
        Some("READ_ONLY") => "read-only",
        Some("READ_WRITE") => "read and write",
        _ => "",
    }
}

/// A reason or ticket as the customer reads it: `: “Invoice”`.
fn quoted(d: &Details, field: &str) -> String {
    detail(d, field)
        .map(|r| format!(": “{r}”"))
        .unwrap_or_default()
}

/// The sentence for one row; `named` is the record it is about, when the reader may see it.
pub fn summary(row: &audit_log::Model, named: Option<&Named>) -> String {
    let kind = key(row).map(|(k, _)| k).unwrap_or("");
    let record = names::phrase(kind, named);
    let d: Details = row
        .details
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    let mode = mode_words(&d);
    let with_mode = |s: &str| {
        if mode.is_empty() {
            s.to_string()
        } else {
            format!("{s}, {mode}")
        }
    };
    match row.action.as_str() {
        a::USER_REGISTERED => "Signed up".into(),
        a::USER_CREATED => "Created an account".into(),
        a::LOGIN => "Signed in".into(),
        a::TOKEN_REFRESHED => "Stayed signed in".into(),
        a::LOGGED_OUT => "Signed out".into(),
        a::PROFILE_UPDATED => "Changed the profile".into(),
        a::PASSWORD_CHANGED => "Changed the password".into(),
        a::TWO_FACTOR_SECRET_GENERATED => "Began setting up two-factor authentication".into(),
        a::TWO_FACTOR_ENABLED => "Turned on two-factor authentication".into(),
        a::TWO_FACTOR_AUTHENTICATED => "Confirmed a two-factor code".into(),
        a::TWO_FACTOR_DISABLED => "Turned off two-factor authentication".into(),
        a::PASSKEY_ADDED => format!("Added a passkey{}", quoted(&d, "name")),
        a::PASSKEY_REMOVED => format!("Removed a passkey{}", quoted(&d, "name")),
        a::PASSKEY_AUTHENTICATED => "Confirmed the sign-in with a passkey".into(),
        a::PASSKEY_FAILED => "A passkey's answer was refused".into(),
        a::PASSKEY_CHANGE_FAILED => "Adding or removing a passkey was refused".into(),
        a::WEBHOOK_ENDPOINT_CREATED => format!("Added a webhook endpoint{}", quoted(&d, "url")),
        a::WEBHOOK_ENDPOINT_UPDATED => format!("Changed a webhook endpoint{}", quoted(&d, "url")),
        a::WEBHOOK_ENDPOINT_DELETED => format!("Removed a webhook endpoint{}", quoted(&d, "url")),
        a::WEBHOOK_SECRET_ROTATED => "Rotated a webhook endpoint's signing secret".into(),
        a::WEBHOOK_ENDPOINT_DISABLED => format!(
            "A webhook endpoint kept failing and was switched off{}",
            quoted(&d, "url")
        ),
        a::ROLE_CHANGED => "Changed a person's role".into(),
        a::TEAM_CREATED => format!("Created {record}"),
        a::TEAM_SWITCHED => format!("Switched to {record}"),
        a::BUSINESS_CREATED => format!("Added the business {record}"),
        a::LEAD_CREATED => format!("Added {record}"),
        a::COMMENT_CREATED => format!("Added a comment on {record}"),
        a::IMPERSONATION_STARTED => format!(
            "{}{}{}",
            with_mode("Support entered the account"),
            quoted(&d, "reason"),
            detail(&d, "ticket")
                .map(|t| format!(" (ticket {t})"))
                .unwrap_or_default()
        ),
        a::IMPERSONATION_ENDED => format!(
            "Support left the account: {}",
            detail(&d, "endReason")
                .as_deref()
                .and_then(EndReason::parse)
                .map(EndReason::in_words)
                .unwrap_or("the session ended")
        ),
        a::IMPERSONATION_ELEVATED => {
            format!(
                "Support was allowed to make changes{}",
                quoted(&d, "reason")
            )
        }
        a::IMPERSONATION_DENIED => "Support was refused entry to an account".into(),
        a::LOGIN_FAILED => "A sign-in failed".into(),
        a::TWO_FACTOR_FAILED => "A wrong two-factor code was entered".into(),
        a::PASSWORD_CHANGE_FAILED => "A password change was refused".into(),
        a::TWO_FACTOR_ENABLE_FAILED => "Turning on two-factor authentication failed".into(),
        a::BLOCKED_WHILE_IMPERSONATING => {
            "Support tried something it may not do in the account: refused".into()
        }
        a::REFRESH_TOKEN_REUSED => {
            "A sign-in was ended because an old session key was used again".into()
        }
        a::DEMO_ACCOUNT_DISABLED => "A demo account was switched off".into(),
        a::IMPERSONATION_ENABLED => format!(
            "Support access was switched on for everyone{}",
            quoted(&d, "reason")
        ),
        a::IMPERSONATION_DISABLED => format!(
            "Support access was switched off for everyone{}",
            quoted(&d, "reason")
        ),
        a::SUPPORT_ACCESS_REQUESTED => format!(
            "{}{}",
            with_mode("Support asked for access"),
            quoted(&d, "reason")
        ),
        a::SUPPORT_ACCESS_APPROVED => "Support's request for access was approved".into(),
        a::SUPPORT_ACCESS_DENIED => "Support's request for access was denied".into(),
        a::SUPPORT_ACCESS_GRANTED => with_mode("Support was let in without a request"),
        a::SUPPORT_ACCESS_REVOKED => "Support access was withdrawn".into(),
        a::SUPPORT_ACCESS_REFUSED => "A support access change was refused".into(),
        a::NOTIFICATIONS_READ => "Marked notices read".into(),
        a::IMPERSONATION_REVIEW_REQUIRED_SET => match d
            .get("required")
            .and_then(serde_json::Value::as_bool)
        {
            Some(false) => "The account no longer needs a second admin's review".into(),
            _ => "The account was marked: sessions that can change it need a second admin's review"
                .into(),
        },
        a::REVIEW_REQUIREMENT_CHANGE_REQUESTED => format!(
            "A super admin asked to stop requiring a second admin's review{}",
            quoted(&d, "reason")
        ),
        a::REVIEW_REQUIREMENT_CHANGE_APPROVED => {
            "A second super admin approved no longer requiring review".into()
        }
        a::REVIEW_REQUIREMENT_CHANGE_DENIED => {
            "A second super admin refused to stop requiring review".into()
        }
        a::IMPERSONATION_REVIEW_REQUESTED => format!(
            "{}{}",
            with_mode("Support asked a second admin to approve a session"),
            quoted(&d, "reason")
        ),
        a::IMPERSONATION_REVIEW_APPROVED => {
            format!("A second admin approved a session{}", quoted(&d, "note"))
        }
        a::IMPERSONATION_REVIEW_DENIED => {
            format!("A second admin denied a session{}", quoted(&d, "note"))
        }
        a::IMPERSONATION_REVIEW_WITHDRAWN => "A request for review was withdrawn".into(),
        _ => "Made a change".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: &str, entity: Option<(&str, &str)>, details: Option<&str>) -> audit_log::Model {
        audit_log::Model {
            id: "r".into(),
            actor_id: Some("a".into()),
            on_behalf_of_id: None,
            team_id: Some("t".into()),
            action: action.into(),
            entity_type: entity.map(|(k, _)| k.into()),
            entity_id: entity.map(|(_, id)| id.into()),
            is_impersonated: false,
            details: details.map(str::to_string),
            ip_address: None,
            created_at: chrono::Utc::now(),
            impersonation_id: None,
        }
    }

    #[test]
    fn rows_read_as_sentences_naming_their_record() {
        let lead = Named {
            kind: names::kind::LEAD,
            name: "Spring order".into(),
            team_id: "t".into(),
        };
        let r = row(a::COMMENT_CREATED, Some(("LeadComment", "c1")), None);
        assert_eq!(
            summary(&r, Some(&lead)),
            "Added a comment on the lead “Spring order”"
        );
        assert_eq!(summary(&r, None), "Added a comment on a record");
        let r = row(
            a::IMPERSONATION_STARTED,
            Some(("Impersonation", "i1")),
            Some(r#"{"mode":"READ_ONLY","reason":"Invoice","ticket":"4521"}"#),
        );
        assert_eq!(
            summary(&r, None),
            "Support entered the account, read-only: “Invoice” (ticket 4521)"
        );
        let r = row(
            a::IMPERSONATION_ENDED,
            None,
            Some(r#"{"endReason":"REVOKED_BY_USER","cause":"x"}"#),
        );
        assert_eq!(
            summary(&r, None),
            "Support left the account: you withdrew access"
        );
    }

    #[test]
    fn every_action_has_words_of_its_own() {
        for action in [
            a::USER_REGISTERED,
            a::USER_CREATED,
            a::LOGIN,
            a::TOKEN_REFRESHED,
            a::LOGGED_OUT,
            a::PROFILE_UPDATED,
            a::PASSWORD_CHANGED,
            a::TWO_FACTOR_SECRET_GENERATED,
            a::TWO_FACTOR_ENABLED,
            a::TWO_FACTOR_AUTHENTICATED,
            a::TWO_FACTOR_DISABLED,
            a::ROLE_CHANGED,
            a::TEAM_CREATED,
            a::TEAM_SWITCHED,
            a::BUSINESS_CREATED,
            a::LEAD_CREATED,
            a::COMMENT_CREATED,
            a::IMPERSONATION_STARTED,
            a::IMPERSONATION_ENDED,
            a::LOGIN_FAILED,
            a::TWO_FACTOR_FAILED,
            a::IMPERSONATION_DENIED,
            a::PASSWORD_CHANGE_FAILED,
            a::TWO_FACTOR_ENABLE_FAILED,
            a::BLOCKED_WHILE_IMPERSONATING,
            a::REFRESH_TOKEN_REUSED,
            a::DEMO_ACCOUNT_DISABLED,
            a::IMPERSONATION_ENABLED,
            a::IMPERSONATION_DISABLED,
            a::IMPERSONATION_ELEVATED,
            a::SUPPORT_ACCESS_REQUESTED,
            a::SUPPORT_ACCESS_APPROVED,
            a::SUPPORT_ACCESS_DENIED,
            a::SUPPORT_ACCESS_GRANTED,
            a::SUPPORT_ACCESS_REVOKED,
            a::SUPPORT_ACCESS_REFUSED,
            a::NOTIFICATIONS_READ,
            a::IMPERSONATION_REVIEW_REQUIRED_SET,
            a::IMPERSONATION_REVIEW_REQUESTED,
            a::IMPERSONATION_REVIEW_APPROVED,
            a::IMPERSONATION_REVIEW_DENIED,
            a::IMPERSONATION_REVIEW_WITHDRAWN,
            a::PASSKEY_ADDED,
            a::PASSKEY_REMOVED,
            a::PASSKEY_AUTHENTICATED,
            a::PASSKEY_FAILED,
            a::PASSKEY_CHANGE_FAILED,
            a::WEBHOOK_ENDPOINT_CREATED,
            a::WEBHOOK_ENDPOINT_UPDATED,
            a::WEBHOOK_ENDPOINT_DELETED,
            a::WEBHOOK_SECRET_ROTATED,
            a::WEBHOOK_ENDPOINT_DISABLED,
        ] {
            let text = summary(&row(action, None, None), None);
            assert_ne!(text, "Made a change", "{action} has no words");
            assert!(!text.contains('_'), "{action}: {text}");
        }
    }
}
