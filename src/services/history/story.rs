//! What support did in an account, in words the customer reads: a sentence for each
//! operation of a session ("Viewed your businesses and leads", "Added a comment on the lead
//! “Spring order”", "Tried to add a comment on “Olivia's Bakery”: refused, the session was
//! read-only"), repeated views told once ("Viewed your businesses and leads (4 views)"), and one line for the session
//! itself (who, how it started, when it was allowed to make changes and why, how long, how
//! many changes, how it ended). No GraphQL words, error codes or ids; records named only
//! where they belong to one of the account's teams.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::impersonation::EndReason;
use crate::entities::impersonation::{self, Mode};
use crate::entities::{impersonation_activity as activity, user};
use crate::error::AppResult;
use crate::services::history::names::{self, Named};
use crate::services::notify::notices::minutes_in_words;

/// An operation of a session, and its sentence.
#[derive(Debug, Clone)]
pub struct Told {
    pub row: activity::Model,
    pub summary: String,
    /// What a view looked at, in words (for telling repeated views once).
    pub nouns: Vec<String>,
}

/// One line of a session's story: an operation, or a run of views told once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How many operations it tells.
    pub count: usize,
    pub summary: String,
}

/// At most this many operations of a session go into its story.
pub const STORY_LIMIT: u64 = 1000;

/// Who reads a session's story: the customer whose account it entered reads "your profile";
/// support staff read "Olivia's profile". Decided here, once, for every sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    Customer,
    /// Staff, with the customer's first name.
    Staff(String),
}

impl Reader {
    /// The reader of `customer`'s story: the customer themselves (the true user, so an admin
    /// signed in as the customer is staff), or anyone else, who is staff.
    pub fn of(viewer_id: &str, customer: &user::Model) -> Self {
        if viewer_id == customer.id {
            Reader::Customer
        } else {
            let first = customer
                .name
                .split_whitespace()
                .next()
                .unwrap_or("the customer");
            Reader::Staff(first.to_string())
        }
    }

    /// "you" or "Olivia".
    fn name(&self) -> &str {
        match self {
            Reader::Customer => "you",
            Reader::Staff(first) => first,
        }
    }

    /// "your" or "Olivia's".
    fn whose(&self) -> String {
        match self {
            Reader::Customer => "your".into(),
            Reader::Staff(first) => format!("{first}'s"),
        }
    }

    /// "your account" or "Olivia's account": a sentence's "your {thing}" for this reader.
    fn own(&self, text: &str) -> String {
        match self {
            Reader::Customer => text.to_string(),
            Reader::Staff(_) => text.replace("your ", &format!("{} ", self.whose())),
        }
    }
}

/// The reader of `session`'s story when `viewer_id` (a true user) reads it.
pub async fn reader_for(
    conn: &impl ConnectionTrait,
    viewer_id: &str,
    session: &impersonation::Model,
) -> AppResult<Reader> {
    if viewer_id == session.impersonated_user_id {
        return Ok(Reader::Customer);
    }
    let customer = user::Entity::find_by_id(session.impersonated_user_id.clone())
        .one(conn)
        .await?;
    Ok(match customer {
        Some(c) => Reader::of(viewer_id, &c),
        None => Reader::Staff("the customer".into()),
    })
}

/// What the console reads in the background (the banner's status, live updates): not steps
/// of the story a person made.
const BACKGROUND: &[&str] = &[
    "currentImpersonation",
    "impersonationEvents",
    "myAccountEvents",
];

/// An operation that only looked in the background: a successful read of status fields.
pub fn is_background(row: &activity::Model) -> bool {
    let fields = fields(row);
    is_view(row)
        && !fields.is_empty()
        && fields
            .iter()
            .all(|f| f.starts_with("__") || BACKGROUND.contains(&f.as_str()))
}

/// The sentences of `rows`, operations of `session`: the records they name are looked up in
/// one statement per kind, and named only when they belong to one of the account's teams.
pub async fn tell(
    conn: &impl ConnectionTrait,
    session: &impersonation::Model,
    rows: Vec<activity::Model>,
    reader: &Reader,
) -> AppResult<Vec<Told>> {
    let keys: Vec<names::Key> = rows.iter().filter_map(subject_key).collect();
    let named = if keys.is_empty() {
        HashMap::new()
    } else {
        let teams: HashSet<String> =
            crate::services::work::memberships::teams_of(conn, &session.impersonated_user_id)
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect();
        names::of(conn, &keys)
            .await?
            .into_iter()
            .filter(|(_, n)| teams.contains(&n.team_id))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let n = subject_key(&row).and_then(|k| named.get(&k));
            let summary = sentence(&row, session, n, reader);
            let nouns = view_nouns(&row, n);
            Told {
                row,
                summary,
                nouns,
            }
        })
        .collect())
}

/// A session's story, oldest first: its operations (at most `STORY_LIMIT`) but background
/// reads, repeated views told once, in `reader`'s words.
pub async fn story(
    conn: &impl ConnectionTrait,
    session: &impersonation::Model,
    reader: &Reader,
) -> AppResult<Vec<Line>> {
    let rows = activity::Entity::find()
        .filter(activity::Column::ImpersonationId.eq(session.id.clone()))
        .order_by_asc(activity::Column::Id)
        .limit(STORY_LIMIT)
        .all(conn)
        .await?;
    let rows = rows.into_iter().filter(|r| !is_background(r)).collect();
    Ok(collapse(tell(conn, session, rows, reader).await?, reader))
}

fn subject_key(row: &activity::Model) -> Option<names::Key> {
    let kind = match row.subject_type.as_deref()? {
        names::kind::LEAD => names::kind::LEAD,
        names::kind::BUSINESS => names::kind::BUSINESS,
        names::kind::TEAM => names::kind::TEAM,
        _ => return None,
    };
    Some((kind, row.subject_id.clone()?))
}

/// Runs of successful views become one line; everything else stays a line of its own.
pub fn collapse(told: Vec<Told>, reader: &Reader) -> Vec<Line> {
    let mut out: Vec<Line> = vec![];
    let mut run: Vec<Told> = vec![];
    let flush = |run: &mut Vec<Told>, out: &mut Vec<Line>| {
        match run.len() {
            0 => {}
            1 => out.push(line(&run[0])),
            n => {
                let mut nouns: Vec<String> = vec![];
                for t in run.iter() {
                    for noun in &t.nouns {
                        if !nouns.contains(noun) {
                            nouns.push(noun.clone());
                        }
                    }
                }
                // Operations are not pages: the line says what was seen, and how often.
                let what = if nouns.is_empty() {
                    "the app".to_string()
                } else {
                    join_nouns(&nouns, reader)
                };
                out.push(Line {
                    from: run[0].row.at,
                    to: run[n - 1].row.at,
                    count: n,
                    summary: format!("Viewed {what} ({n} views)"),
                });
            }
        }
        run.clear();
    };
    for t in told {
        if is_view(&t.row) {
            run.push(t);
        } else {
            flush(&mut run, &mut out);
            out.push(line(&t));
        }
    }
    flush(&mut run, &mut out);
    out
}

fn line(t: &Told) -> Line {
    Line {
        from: t.row.at,
        to: t.row.at,
        count: 1,
        summary: t.summary.clone(),
    }
}

/// A successful read: a query or a subscription that was answered.
fn is_view(row: &activity::Model) -> bool {
    row.outcome == "OK" && matches!(row.operation_type.as_str(), "query" | "subscription")
}

fn fields(row: &activity::Model) -> Vec<String> {
    crate::services::impersonation::ledger::fields(row)
}

/// What a view looked at, each field in words ("your …" whoever reads: `join_nouns` says
/// whose).
fn view_nouns(row: &activity::Model, named: Option<&Named>) -> Vec<String> {
    if !is_view(row) {
        return vec![];
    }
    fields(row).iter().filter_map(|f| noun(f, named)).collect()
}

/// A top-level field as what it shows, for "Viewed …"; `None` for what shows nothing of the
/// account (`__typename`, the schema).
fn noun(field: &str, named: Option<&Named>) -> Option<String> {
    Some(
        match field {
            "me" => "your profile",
            "businesses" => "your businesses",
            "leads" => "your leads",
            "business" => return Some(names::phrase(names::kind::BUSINESS, named)),
            "lead" => return Some(names::phrase(names::kind::LEAD, named)),
            "teams" => "the list of teams",
            "auditLogs" => "your team's activity log",
            "impersonations" => "support sessions",
            "supportAccessGrants" => "requests for support access",
            "impersonationSettings" => "support settings",
            "myAccountEvents" => "live updates about your account",
            "currentImpersonation" | "impersonationEvents" => "the session's status",
            f if f.starts_with("__") => return None,
            _ => "your account",
        }
        .to_string(),
    )
}

/// "your businesses and leads"; "your businesses and leads, and the lead “Spring order”";
/// "the list of teams and support settings".
fn join_nouns(nouns: &[String], reader: &Reader) -> String {
    let whose = reader.whose();
    let (yours, others): (Vec<&String>, Vec<&String>) =
        nouns.iter().partition(|n| n.starts_with("your "));
    let yours: Vec<String> = yours
        .iter()
        .map(|n| n["your ".len()..].to_string())
        .collect();
    let others: Vec<String> = others.into_iter().cloned().collect();
    match (yours.is_empty(), others.is_empty()) {
        (true, _) => and_list(&others),
        (false, true) => format!("{whose} {}", and_list(&yours)),
        (false, false) => format!("{whose} {}, and {}", and_list(&yours), and_list(&others)),
    }
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

/// What a change does: (done, tried), with `{}` for the record it is about.
fn change(field: &str) -> (&'static str, &'static str) {
    match field {
        "addLeadComment" | "addBusinessComment" => ("Added a comment on {}", "add a comment on {}"),
        "createLead" => ("Added a lead", "add a lead"),
        "createBusiness" => ("Added a business", "add a business"),
        "updateProfile" => ("Changed your profile", "change your profile"),
        "changePassword" => ("Changed your password", "change your password"),
        "generateTwoFactorSecret"
        | "turnOnTwoFactor"
        | "turnOffTwoFactor"
        | "authenticateTwoFactor" => (
            "Changed your two-factor settings",
            "change your two-factor settings",
        ),
        "startPasskeyRegistration"
        | "startPasskeyRegistrationWithPassword"
        | "finishPasskeyRegistration"
        | "deletePasskey"
        | "authenticateWithPasskey" => ("Changed your passkeys", "change your passkeys"),
        "startPasskeyAuthentication" => (
            "Got ready to confirm their own identity",
            "get ready to confirm their own identity",
        ),
        "createTeam" => ("Created a team", "create a team"),
        "switchTeam" => ("Switched to {}", "switch to {}"),
        "markNotificationsRead" => ("Marked your notices read", "mark your notices read"),
        "approveSupportAccess"
        | "denySupportAccess"
        | "grantSupportAccess"
        | "revokeSupportAccess" => ("Changed your support access", "change your support access"),
        "impersonate" => ("Entered your account", "enter your account"),
        "cancelImpersonation" => ("Left your account", "leave your account"),
        "elevateImpersonation" => (
            "Was allowed to make changes",
            "get permission to make changes",
        ),
        "logout" => ("Signed out", "sign out"),
        _ => ("Made a change", "make a change"),
    }
}

/// Why an operation did not go through, from its outcome.
fn why(outcome: &str, read_only: bool) -> &'static str {
    match outcome {
        "BLOCKED_WHILE_IMPERSONATING" if read_only => "refused, the session was read-only",
        "BLOCKED_WHILE_IMPERSONATING" => "refused, support may not do that in your account",
        "FORBIDDEN" | "IMPERSONATION_DENIED" | "TWO_FACTOR_REQUIRED" => "refused, not allowed",
        "UNAUTHENTICATED" => "refused, the session had ended",
        "RATE_LIMITED" => "refused, too many attempts",
        "STEP_UP_REQUIRED" => "refused, support had to confirm their identity first",
        "NOT_FOUND" => "it was not found",
        "BAD_USER_INPUT" => "what was entered was not accepted",
        "PENDING" => "its outcome was not recorded (the server stopped while it ran)",
        _ => "it did not go through",
    }
}

/// Whether the session could only read at `at`.
fn read_only_at(session: &impersonation::Model, at: DateTime<Utc>) -> bool {
    session.initial_mode() == Mode::ReadOnly && session.elevated_at.is_none_or(|e| at < e)
}

/// The sentence for one operation of `session`; `named` is the record it was about, when
/// the reader may see its name.
pub fn sentence(
    row: &activity::Model,
    session: &impersonation::Model,
    named: Option<&Named>,
    reader: &Reader,
) -> String {
    let fields = fields(row);
    let ok = row.outcome == "OK";
    let subject_kind = row.subject_type.as_deref().unwrap_or("");
    match row.operation_type.as_str() {
        "query" | "subscription" => {
            let nouns: Vec<String> = fields.iter().filter_map(|f| noun(f, named)).collect();
            let what = if nouns.is_empty() {
                "the app".to_string()
            } else {
                join_nouns(&nouns, reader)
            };
            if ok {
                format!("Viewed {what}")
            } else {
                format!("Tried to view {what}: {}", why(&row.outcome, false))
            }
        }
        "mutation" => {
            let first = fields.first().map(String::as_str).unwrap_or("");
            let (done, tried) = change(first);
            let record = names::phrase(subject_kind, named);
            let (done, tried) = (done.replace("{}", &record), tried.replace("{}", &record));
            let (done, tried) = (reader.own(&done), reader.own(&tried));
            let more = match fields.len() {
                0 | 1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            if ok {
                format!("{done}{more}")
            } else {
                let read_only = read_only_at(session, row.at);
                let why = reader.own(why(&row.outcome, read_only));
                format!("Tried to {tried}{more}: {why}")
            }
        }
        _ => "Sent a request the app could not read".to_string(),
    }
}

/// What a session's line tells besides the session itself.
#[derive(Clone, Copy)]
pub struct SessionFacts<'a> {
    /// Who entered.
    pub admin: &'a user::Model,
    /// The second admin who approved its review, in an account marked for one.
    pub reviewer: Option<&'a user::Model>,
    /// Changes to the customer's data (`audit::changes_in`).
    pub changes: u64,
}

/// The line that tells a whole session: "Ada Admin (support), read-only, then allowed to make
/// changes at 09:11 UTC (“Fix the invoice comment”); 4 minutes; 1 change; they signed out of
/// it; ticket 4521".
pub fn session_summary(
    session: &impersonation::Model,
    facts: SessionFacts<'_>,
    now: DateTime<Utc>,
    reader: &Reader,
) -> String {
    let SessionFacts {
        admin,
        reviewer,
        changes,
    } = facts;
    let mut parts = vec![];
    let mut head = format!(
        "{}, {}",
        crate::services::audit::attribution::support_person(admin),
        session.initial_mode().in_words()
    );
    if let Some(r) = reviewer {
        head.push_str(&format!(", approved by a second admin, {}", r.name));
    }
    if let Some(at) = session.elevated_at {
        head.push_str(&format!(
            ", then allowed to make changes at {}",
            at.format("%H:%M UTC")
        ));
        if let Some(r) = &session.elevation_reason {
            head.push_str(&format!(" (“{r}”)"));
        }
    }
    parts.push(head);
    let running = session.ended_at.is_none() && session.expires_at > now;
    let end = session.ended_at.unwrap_or(session.expires_at.min(now));
    parts.push(minutes_in_words(end - session.started_at));
    parts.push(format!(
        "{changes} change{}",
        if changes == 1 { "" } else { "s" }
    ));
    parts.push(
        match session.end_reason.as_deref().and_then(EndReason::parse) {
            // The customer reads "you withdrew access"; staff, who withdrew it.
            Some(EndReason::RevokedByUser) if matches!(reader, Reader::Staff(_)) => {
                format!("{} withdrew access", reader.name())
            }
            Some(r) => r.in_words().to_string(),
            None if running => "still running".to_string(),
            None => EndReason::Expired.in_words().to_string(),
        },
    );
    if let Some(t) = &session.ticket {
        parts.push(format!("ticket {t}"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, h, m, 0).unwrap()
    }

    fn session(initial: Mode, elevated: Option<DateTime<Utc>>) -> impersonation::Model {
        impersonation::Model {
            id: "s".into(),
            code: "secret".into(),
            impersonator_id: "a".into(),
            impersonated_user_id: "c".into(),
            impersonator_team_id: None,
            started_at: at(9, 7),
            expires_at: at(9, 37),
            ended_at: Some(at(9, 11) + chrono::Duration::seconds(200)),
            end_reason: Some("CANCELLED".into()),
            reason: Some("Invoice".into()),
            mode: if elevated.is_some() {
                Mode::ReadWrite
            } else {
                initial
            },
            grant_id: None,
            last_activity_at: None,
            initial_mode: Some(initial),
            elevated_at: elevated,
            elevation_reason: elevated.map(|_| "Fix the invoice comment".into()),
            ticket: Some("4521".into()),
            review_id: None,
        }
    }

    fn op(kind: &str, fields: &[&str], outcome: &str, at_: DateTime<Utc>) -> activity::Model {
        activity::Model {
            id: format!("{at_}"),
            impersonation_id: "s".into(),
            at: at_,
            operation_type: kind.into(),
            operation_name: Some("Work".into()),
            fields: serde_json::to_string(fields).unwrap(),
            outcome: outcome.into(),
            subject_type: None,
            subject_id: None,
        }
    }

    fn admin_model() -> user::Model {
        user::Model::sample("a", "Ada Admin", crate::auth::Role::Admin, true)
    }

    fn lead() -> Named {
        Named {
            kind: names::kind::LEAD,
            name: "Spring order".into(),
            team_id: "t".into(),
        }
    }

    #[test]
    fn views_read_as_what_was_seen() {
        let s = session(Mode::ReadWrite, None);
        let row = op(
            "query",
            &["businesses", "leads", "__typename"],
            "OK",
            at(9, 8),
        );
        assert_eq!(
            sentence(&row, &s, None, &Reader::Customer),
            "Viewed your businesses and leads"
        );
        let row = op("query", &["lead", "me"], "OK", at(9, 8));
        assert_eq!(
            sentence(&row, &s, Some(&lead()), &Reader::Customer),
            "Viewed your profile, and the lead “Spring order”"
        );
    }

    #[test]
    fn changes_name_their_record_and_refusals_say_why_in_words() {
        let s = session(Mode::ReadOnly, Some(at(9, 11)));
        let mut row = op("mutation", &["addLeadComment"], "OK", at(9, 12));
        row.subject_type = Some("lead".into());
        assert_eq!(
            sentence(&row, &s, Some(&lead()), &Reader::Customer),
            "Added a comment on the lead “Spring order”"
        );
        // Before the elevation the session was read-only.
        let shop = Named {
            kind: names::kind::BUSINESS,
            name: "Olivia's Bakery".into(),
            team_id: "t".into(),
        };
        let mut row = op(
            "mutation",
            &["addBusinessComment"],
            "BLOCKED_WHILE_IMPERSONATING",
            at(9, 9),
        );
        row.subject_type = Some("business".into());
        assert_eq!(
            sentence(&row, &s, Some(&shop), &Reader::Customer),
            "Tried to add a comment on “Olivia's Bakery”: refused, the session was read-only"
        );
        // After it, a block is one support may never do; an unnamed record stays vague.
        let row = op(
            "mutation",
            &["changePassword"],
            "BLOCKED_WHILE_IMPERSONATING",
            at(9, 13),
        );
        assert_eq!(
            sentence(&row, &s, None, &Reader::Customer),
            "Tried to change your password: refused, support may not do that in your account"
        );
        let mut row = op("mutation", &["addLeadComment"], "NOT_FOUND", at(9, 13));
        row.subject_type = Some("lead".into());
        assert_eq!(
            sentence(&row, &s, None, &Reader::Customer),
            "Tried to add a comment on a lead: it was not found"
        );
    }

    #[test]
    fn no_graphql_words_codes_or_ids_reach_a_sentence() {
        let s = session(Mode::ReadOnly, None);
        for (kind, fields, outcome) in [
            ("query", vec!["auditLogs"], "FORBIDDEN"),
            (
                "mutation",
                vec!["setUserRole"],
                "BLOCKED_WHILE_IMPERSONATING",
            ),
            ("mutation", vec!["createLead", "createBusiness"], "INTERNAL"),
            ("unknown", vec![], "GRAPHQL_PARSE_FAILED"),
            ("subscription", vec!["myAccountEvents"], "OK"),
        ] {
            let text = sentence(
                &op(kind, &fields, outcome, at(9, 8)),
                &s,
                None,
                &Reader::Customer,
            );
            for word in [
                "query",
                "mutation",
                "subscription",
                "auditLogs",
                "setUserRole",
                "createLead",
                "FORBIDDEN",
                "BLOCKED",
                "INTERNAL",
                "GRAPHQL",
                "Work",
            ] {
                assert!(!text.contains(word), "{text:?} contains {word:?}");
            }
        }
    }

    #[test]
    fn staff_read_the_customers_name_where_the_customer_reads_your() {
        let s = session(Mode::ReadOnly, None);
        let staff = Reader::Staff("Olivia".into());
        let row = op("query", &["me", "businesses"], "OK", at(9, 8));
        assert_eq!(
            sentence(&row, &s, None, &staff),
            "Viewed Olivia's profile and businesses"
        );
        assert_eq!(
            sentence(&row, &s, None, &Reader::Customer),
            "Viewed your profile and businesses"
        );
        let row = op("mutation", &["impersonate"], "OK", at(9, 7));
        assert_eq!(sentence(&row, &s, None, &staff), "Entered Olivia's account");
        let row = op(
            "mutation",
            &["changePassword"],
            "BLOCKED_WHILE_IMPERSONATING",
            at(9, 9),
        );
        assert_eq!(
            sentence(&row, &s, None, &staff),
            "Tried to change Olivia's password: refused, the session was read-only"
        );
        let customer = user::Model {
            id: "c".into(),
            name: "Olivia Owner".into(),
            ..admin_model()
        };
        assert_eq!(Reader::of("c", &customer), Reader::Customer);
        assert_eq!(Reader::of("a", &customer), staff);
    }

    #[test]
    fn background_status_reads_are_not_steps_of_the_story() {
        for fields in [
            vec!["currentImpersonation"],
            vec!["myAccountEvents", "__typename"],
        ] {
            assert!(is_background(&op("subscription", &fields, "OK", at(9, 8))));
        }
        assert!(!is_background(&op("query", &["me"], "OK", at(9, 8))));
        // A refused status read is told: it says something about the session.
        assert!(!is_background(&op(
            "subscription",
            &["currentImpersonation"],
            "UNAUTHENTICATED",
            at(9, 8)
        )));
    }

    #[test]
    fn repeated_views_are_told_once_and_changes_stay_apart() {
        let s = session(Mode::ReadWrite, None);
        let rows = vec![
            op("query", &["businesses", "leads"], "OK", at(9, 8)),
            op("query", &["me"], "OK", at(9, 8)),
            op("query", &["leads"], "OK", at(9, 9)),
            op("query", &["businesses"], "OK", at(9, 9)),
            op("mutation", &["createBusiness"], "OK", at(9, 10)),
            op("query", &["me"], "OK", at(9, 10)),
        ];
        let told = rows
            .into_iter()
            .map(|row| Told {
                summary: sentence(&row, &s, None, &Reader::Customer),
                nouns: view_nouns(&row, None),
                row,
            })
            .collect();
        let lines: Vec<(usize, String)> = collapse(told, &Reader::Customer)
            .into_iter()
            .map(|l| (l.count, l.summary))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    4,
                    "Viewed your businesses, leads and profile (4 views)".to_string()
                ),
                (1, "Added a business".to_string()),
                (1, "Viewed your profile".to_string()),
            ]
        );
    }

    #[test]
    fn a_session_reads_as_who_how_it_started_its_elevation_length_changes_and_end() {
        let admin = admin_model();
        let sam = user::Model {
            name: "Sam Super".into(),
            ..admin.clone()
        };
        let facts = |reviewer, changes| SessionFacts {
            admin: &admin,
            reviewer,
            changes,
        };
        let s = session(Mode::ReadOnly, Some(at(9, 11)));
        assert_eq!(
            session_summary(&s, facts(None, 1), at(10, 0), &Reader::Customer),
            "Ada Admin (support), read-only, then allowed to make changes at 09:11 UTC (“Fix the invoice comment”); 7 minutes; 1 change; they signed out of it; ticket 4521"
        );
        let mut s = session(Mode::ReadWrite, None);
        s.ended_at = None;
        s.end_reason = None;
        s.ticket = None;
        assert_eq!(
            session_summary(&s, facts(Some(&sam), 0), at(9, 11), &Reader::Customer),
            "Ada Admin (support), read and write, approved by a second admin, Sam Super; 4 minutes; 0 changes; still running"
        );
        // How it ended, for each reader.
        let mut s = session(Mode::ReadOnly, None);
        s.end_reason = Some("REVOKED_BY_USER".into());
        s.ticket = None;
        let customer = session_summary(&s, facts(None, 0), at(10, 0), &Reader::Customer);
        assert!(customer.ends_with("; you withdrew access"), "{customer}");
        let staff = Reader::Staff("Olivia".into());
        let theirs = session_summary(&s, facts(None, 0), at(10, 0), &staff);
        assert!(theirs.ends_with("; Olivia withdrew access"), "{theirs}");
    }
}
