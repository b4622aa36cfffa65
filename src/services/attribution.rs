//! How actions taken while impersonating are shown: under the impersonator, as support.

/// The displayed name of a comment's author or an audit row's actor. Rows written while
/// impersonating show "Support team (<impersonator's name>)". Used by comments and audit logs.
pub fn display_name(author_name: &str, is_impersonated: bool) -> String {
    if is_impersonated {
        format!("Support team ({author_name})")
    } else {
        author_name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn impersonated_rows_are_shown_as_support_team() {
        assert_eq!(display_name("Ada Admin", true), "Support team (Ada Admin)");
        assert_eq!(display_name("Ada Admin", false), "Ada Admin");
    }
}
