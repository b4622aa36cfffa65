//! Input rules. Every violation is `BAD_USER_INPUT` naming the field.
use crate::error::{AppError, AppResult};

pub const MAX_NAME: usize = 200;
pub const MAX_COMMENT: usize = 5_000;
pub const MAX_REASON: usize = 500;
pub const MAX_EMAIL: usize = 254;
pub const MIN_PASSWORD: usize = 8;
/// argon2 would hash any length; a bound keeps one request's work small.
pub const MAX_PASSWORD: usize = 128;

/// The most ids `markNotificationsRead` takes at once.
pub const MAX_IDS: usize = 100;
/// The most event types one webhook endpoint names (more than there are).
pub const MAX_EVENT_TYPES: usize = 50;

/// A list argument of at most `max` entries: every list a client sends has a bound, so one
/// request's work (and the statement's parameters) stays small.
pub fn at_most<T>(field: &'static str, list: &[T], max: usize) -> AppResult<()> {
    if list.len() > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} takes at most {max} entries (got {})", list.len()),
        ));
    }
    Ok(())
}

/// Trims and requires 1..=max characters.
pub fn text(field: &'static str, value: &str, max: usize) -> AppResult<String> {
    verbatim_text(field, value.trim(), max).map(str::to_string)
}

/// A name shown to other people (a person, team, business or lead): `text`'s rules, and no
/// character that hides or disguises what is shown: control characters (NUL, CR, LF, ...),
/// line and paragraph separators, bidirectional overrides and isolates, and invisible format
/// characters. Zero-width joiners and non-joiners are allowed only between two visible
/// characters, where emoji sequences and some scripts need them.
pub fn name(field: &'static str, value: &str, max: usize) -> AppResult<String> {
    let v = text(field, value, max)?;
    let chars: Vec<char> = v.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let joined = || {
            let visible = |c: Option<&char>| c.is_some_and(|c| !c.is_whitespace() && !hidden(*c));
            visible(i.checked_sub(1).and_then(|p| chars.get(p))) && visible(chars.get(i + 1))
        };
        let refused = match c {
            '\u{200C}' | '\u{200D}' => !joined(),
            c => c.is_control() || hidden(c),
        };
        if refused {
            return Err(AppError::bad_input(
                field,
                format!(
                    "{field} must not contain control or invisible characters (found U+{:04X})",
                    c as u32
                ),
            ));
        }
    }
    Ok(v)
}

/// Invisible format characters, separators and bidi controls (zero-width joiners excepted:
/// `name` allows them between visible characters).
fn hidden(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0001}')
}

/// The prefix that marks what support staff wrote while impersonating; nobody may take it as
/// their own name.
pub const RESERVED_NAME_PREFIX: &str = "support team";

/// A person's name: `name`'s rules, and not starting with "Support team" (in any case or
/// spacing), so nobody's comments can pass for support's.
pub fn person_name(field: &'static str, value: &str) -> AppResult<String> {
    let v = name(field, value, MAX_NAME)?;
    let folded = v
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if folded.starts_with(RESERVED_NAME_PREFIX) {
        return Err(AppError::bad_input(
            field,
            "names starting with \"Support team\" are reserved for support staff",
        ));
    }
    Ok(v)
}

/// The name of the team made with a new account: "<name>'s team", the name shortened so the
/// whole stays within `MAX_NAME`.
pub fn own_team_name(person: &str) -> String {
    const SUFFIX: &str = "'s team";
    let room = MAX_NAME - SUFFIX.chars().count();
    let short: String = person.chars().take(room).collect();
    format!("{}{SUFFIX}", short.trim_end())
}

/// Text kept exactly as written (a comment): not blank, at most `max` characters.
pub fn verbatim_text<'a>(field: &'static str, value: &'a str, max: usize) -> AppResult<&'a str> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value)
}

/// A reason or note (`impersonate`, `requestSupportAccess`, `elevateImpersonation`, ...): it
/// reaches the customer verbatim in notices and e-mails they cannot turn off, so it follows
/// the rules of names: no control characters (CR and LF included), no bidirectional overrides
/// or invisible characters, at most `MAX_REASON` characters.
pub fn reason(field: &'static str, value: &str) -> AppResult<String> {
    name(field, value, MAX_REASON)
}

/// `reason`'s rules for an optional reason; a missing or blank one is `None`.
pub fn optional_reason(field: &'static str, value: Option<&str>) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => reason(field, v).map(Some),
    }
}

/// At most this many characters in a support ticket's reference.
pub const MAX_TICKET: usize = 100;

/// A support ticket's reference (`impersonate`, `requestSupportAccess`): the rules of reasons,
/// at most `MAX_TICKET` characters; a missing or blank one is `None`, refused when `required`
/// (`IMPERSONATION_REQUIRE_TICKET`).
pub fn ticket(value: Option<&str>, required: bool) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") if required => Err(AppError::bad_input(
            "ticket",
            "a support ticket is required (IMPERSONATION_REQUIRE_TICKET)",
        )),
        None | Some("") => Ok(None),
        Some(v) => name("ticket", v, MAX_TICKET).map(Some),
    }
}

/// A comment: kept as written, ordinary newlines and tabs included, but no NUL or other
/// control character, and no bidirectional override or isolate that would make it read
/// differently from what it says.
pub fn comment(field: &'static str, value: &str) -> AppResult<String> {
    let v = verbatim_text(field, value, MAX_COMMENT)?;
    let bad = v.chars().find(|&c| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    });
    match bad {
        Some(c) => Err(AppError::bad_input(
            field,
            format!(
                "{field} must not contain control characters or bidirectional overrides (found U+{:04X})",
                c as u32
            ),
        )),
        None => Ok(v.to_string()),
    }
}

/// Normalizes (trim, lowercase) and checks an email address.
pub fn email(value: &str) -> AppResult<String> {
    let v = value.trim().to_lowercase();
    let bad = || AppError::bad_input("email", "email is not a valid address");
    if v.len() > MAX_EMAIL || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return Err(bad());
    }
    Ok(v)
}

/// The password policy: 8 to 128 characters, not only letters or only digits.
pub fn password(field: &'static str, value: &str) -> AppResult<()> {
    let n = value.chars().count();
    if n < MIN_PASSWORD {
        return Err(AppError::bad_input(
            field,
            format!("password must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(AppError::bad_input(
            field,
            format!("password must be at most {MAX_PASSWORD} characters"),
        ));
    }
    if value.chars().all(|c| c.is_alphabetic()) || value.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::bad_input(
            field,
            "password must mix letters with digits or symbols",
        ));
    }
    Ok(())
}

/// A TOTP code is six digits; anything else is refused before any work.
pub fn totp_code(value: &str) -> AppResult<String> {
    let v = value.trim();
    if v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(AppError::bad_input("code", "the code must be 6 digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "", "ann", "ann@", "@x.io", "a@b", "a b@x.io", "a@x..io", "a@@x.io",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_refuse_hidden_and_control_characters() {
        assert_eq!(name("name", " Ann Lee ", 200).unwrap(), "Ann Lee");
        // A family emoji is joined with zero-width joiners: allowed.
        assert!(
            name(
                "name",
                "Ann \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                200
            )
            .is_ok()
        );
        for bad in [
            "Ann\0Lee",
            "Ann\r\nLee",
            "Ann\u{202E}eeL",
            "Ann\u{2066}Lee",
            "Ann\u{200B}Lee",
            "Ann \u{200D}",
            "\u{200D}Ann",
            "Ann\u{FEFF}",
            "Ann\u{2028}Lee",
        ] {
            let e = name("name", bad, 200).unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT", "{bad:?}");
        }
    }

    #[test]
    fn person_names_cannot_pass_for_support() {
        for bad in [
            "Support team (Ada Admin)",
            "  support TEAM",
            "Support   team x",
            "SUPPORT TEAM",
        ] {
            assert!(person_name("name", bad).is_err(), "{bad}");
        }
        assert!(person_name("name", "Supporter of teams").is_ok());
        assert!(person_name("name", "Ann (support team)").is_ok());
    }

    #[test]
    fn the_own_team_name_fits_the_limit() {
        assert_eq!(own_team_name("Ann"), "Ann's team");
        for n in 190..=MAX_NAME {
            let t = own_team_name(&"é".repeat(n));
            assert!(t.chars().count() <= MAX_NAME, "{n}");
            assert!(t.ends_with("'s team"));
        }
    }

    #[test]
    fn passwords() {
        assert!(password("password", "correct-horse-1").is_ok());
        assert!(password("password", "short1").is_err());
        assert!(password("password", "onlyletters").is_err());
        assert!(password("password", "1234567890").is_err());
        assert!(password("password", &"a1".repeat(100)).is_err());
    }

    #[test]
    fn reasons_follow_the_rules_of_names_and_comments_keep_newlines_only() {
        assert_eq!(reason("reason", " ticket 42 ").unwrap(), "ticket 42");
        for bad in [
            "a\r\nFake: line",
            "nul\0",
            "rlo\u{202E}txt",
            "zw\u{200B}sp",
            "\u{2066}iso",
        ] {
            assert!(reason("reason", bad).is_err(), "{bad:?}");
            assert!(optional_reason("reason", Some(bad)).is_err(), "{bad:?}");
        }
        assert!(reason("reason", &"r".repeat(501)).is_err());
        assert_eq!(optional_reason("reason", Some("  ")).unwrap(), None);
        assert_eq!(
            comment("text", "line 1\nline 2\ttab").unwrap(),
            "line 1\nline 2\ttab"
        );
        assert!(comment("text", "nul\0").is_err());
        assert!(comment("text", "evil\u{202E}gnp.exe").is_err());
        assert!(comment("text", "iso\u{2067}x").is_err());
    }
}
