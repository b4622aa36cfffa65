//! Attribution: who a written row (a comment, an audit row) is attributed to, on whose
//! behalf, and how it is shown. While impersonating, the impersonator wrote it, on behalf of
//! the target, shown as "Support team (<impersonator's name>)".
use crate::auth::AuthContext;
use crate::entities::user;

/// The label that marks what support staff wrote while impersonating. Nobody may take it as
/// their own name (`validation::person_name`).
pub const SUPPORT_LABEL: &str = "Support team";

/// Who a written row is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Who really acted: the impersonator while impersonating.
    pub actor_id: String,
    /// The impersonated user, while impersonating (or the target of an admin's own action).
    pub on_behalf_of_id: Option<String>,
    /// Written with an impersonation token.
    pub is_impersonated: bool,
    /// The impersonation session it was written in, while impersonating.
    pub session: Option<String>,
}

impl Attribution {
    /// The caller of a request: while impersonating, the impersonator on behalf of the target.
    pub fn caller(ctx: &AuthContext) -> Attribution {
        match &ctx.impersonation {
            Some(imp) => Attribution {
                actor_id: imp.impersonator.id.clone(),
                on_behalf_of_id: Some(ctx.user.id.clone()),
                is_impersonated: true,
                session: Some(imp.record.id.clone()),
            },
            None => Attribution::user(&ctx.user.id),
        }
    }

    /// A user acting as themselves.
    pub fn user(user_id: &str) -> Attribution {
        Attribution {
            actor_id: user_id.to_string(),
            on_behalf_of_id: None,
            is_impersonated: false,
            session: None,
        }
    }

    /// An admin acting as themselves on a target: how an impersonation's start, end and
    /// refusal are recorded.
    pub fn admin_on(admin_id: &str, target_id: &str) -> Attribution {
        Attribution {
            on_behalf_of_id: Some(target_id.to_string()),
            ..Attribution::user(admin_id)
        }
    }
}

/// The displayed name of a comment's author or an audit row's actor: "Support team (<name>)"
/// for rows written while impersonating.
pub fn display_name(author_name: &str, is_impersonated: bool) -> String {
    if is_impersonated {
        format!("{SUPPORT_LABEL} ({author_name})")
    } else {
        author_name.to_string()
    }
}

/// How a sentence told to the customer names the support person in it, as its subject:
/// "Ada Admin (support) entered your account". The same family as `display_name`, which names
/// the author of a row written in a session ("Support team (Ada Admin)").
pub fn support_person(admin: &user::Model) -> String {
    format!("{} (support)", admin.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impersonated_rows_are_shown_as_support_team() {
        assert_eq!(display_name("Ada Admin", true), "Support team (Ada Admin)");
        assert_eq!(display_name("Ada Admin", false), "Ada Admin");
    }

    #[test]
    fn an_admin_on_a_target_acts_as_themselves() {
        let a = Attribution::admin_on("ada", "carl");
        assert_eq!(a.actor_id, "ada");
        assert_eq!(a.on_behalf_of_id.as_deref(), Some("carl"));
        assert!(!a.is_impersonated);
    }
}
