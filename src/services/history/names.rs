//! What records are called, for sentences about them ("Added a comment on the lead “Spring
//! order”"). Each record comes with its team, so that the caller names it only where the reader
//! may see it: the history of an account names only the records of that account's teams.
use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::{business, comment, lead, team};
use crate::error::AppResult;

/// A record's kind in sentences and keys.
pub mod kind {
    pub const LEAD: &str = "lead";
    pub const BUSINESS: &str = "business";
    pub const TEAM: &str = "team";
    /// A comment is named by what it is on: its record is the lead's or the business's.
    pub const COMMENT: &str = "comment";
}

/// A named record: a lead, a business or a team, and the team it belongs to (a team's own id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub kind: &'static str,
    pub name: String,
    pub team_id: String,
}

pub type Key = (&'static str, String);

/// The records `keys` ask for, in one statement per kind asked (a comment's key gives its
/// lead's or business's record). Unknown ids are absent.
pub async fn of(conn: &impl ConnectionTrait, keys: &[Key]) -> AppResult<HashMap<Key, Named>> {
    let ids = |k: &str| -> Vec<String> {
        keys.iter()
            .filter(|(kind, _)| *kind == k)
            .map(|(_, id)| id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect()
    };
    let mut out = HashMap::new();
    // A comment's record: its lead or business, looked up with the others.
    let mut comment_on: Vec<(String, Key)> = vec![];
    let comments = ids(kind::COMMENT);
    if !comments.is_empty() {
        for c in comment::Entity::find()
            .filter(comment::Column::Id.is_in(comments))
            .all(conn)
            .await?
        {
            let on = match (c.lead_id, c.business_id) {
                (Some(l), _) => (kind::LEAD, l),
                (None, Some(b)) => (kind::BUSINESS, b),
                (None, None) => continue,
            };
            comment_on.push((c.id, on));
        }
    }
    let with_comments = |k: &'static str| {
        let mut v = ids(k);
        v.extend(
            comment_on
                .iter()
                .filter(|(_, (kind, _))| *kind == k)
                .map(|(_, (_, id))| id.clone()),
        );
        v
    };
    let leads = with_comments(kind::LEAD);
    if !leads.is_empty() {
        for l in lead::Entity::find()
            .filter(lead::Column::Id.is_in(leads))
            .all(conn)
            .await?
        {
            let named = Named {
                kind: kind::LEAD,
                name: l.name,
                team_id: l.team_id,
            };
            out.insert((kind::LEAD, l.id), named);
        }
    }
    let businesses = with_comments(kind::BUSINESS);
    if !businesses.is_empty() {
        for b in business::Entity::find()
            .filter(business::Column::Id.is_in(businesses))
            .all(conn)
            .await?
        {
            let named = Named {
                kind: kind::BUSINESS,
                name: b.name,
                team_id: b.team_id,
            };
            out.insert((kind::BUSINESS, b.id), named);
        }
    }
    let teams = ids(kind::TEAM);
    if !teams.is_empty() {
        for t in team::Entity::find()
            .filter(team::Column::Id.is_in(teams))
            .all(conn)
            .await?
        {
            let named = Named {
                kind: kind::TEAM,
                name: t.name,
                team_id: t.id.clone(),
            };
            out.insert((kind::TEAM, t.id), named);
        }
    }
    for (comment_id, on) in comment_on {
        if let Some(n) = out.get(&on).cloned() {
            out.insert((kind::COMMENT, comment_id), n);
        }
    }
    Ok(out)
}

/// How a record is named in a sentence: `the lead “Spring order”`, `“Olivia's Bakery”` (a
/// business goes by its name), `the team “Acme”`; unnamed (`None`: not found or not the
/// reader's to see) `a lead`, `a business`, `a team`.
pub fn phrase(kind: &str, named: Option<&Named>) -> String {
    match (kind, named) {
        (_, Some(n)) if n.kind == kind::BUSINESS => format!("“{}”", n.name),
        (_, Some(n)) => format!("the {} “{}”", n.kind, n.name),
        (kind::BUSINESS, None) => "a business".into(),
        (kind::TEAM, None) => "a team".into(),
        (kind::LEAD, None) => "a lead".into(),
        _ => "a record".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_named_by_kind_and_unnamed_ones_stay_vague() {
        let lead = Named {
            kind: kind::LEAD,
            name: "Spring order".into(),
            team_id: "t".into(),
        };
        let shop = Named {
            kind: kind::BUSINESS,
            name: "Olivia's Bakery".into(),
            team_id: "t".into(),
        };
        assert_eq!(phrase(kind::LEAD, Some(&lead)), "the lead “Spring order”");
        assert_eq!(
            phrase(kind::COMMENT, Some(&lead)),
            "the lead “Spring order”"
        );
        assert_eq!(phrase(kind::BUSINESS, Some(&shop)), "“Olivia's Bakery”");
        assert_eq!(phrase(kind::LEAD, None), "a lead");
        assert_eq!(phrase(kind::COMMENT, None), "a record");
    }
}
