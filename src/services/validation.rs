//! Input rules. Every violation is `BAD_USER_INPUT` naming the field.
use crate::error::{AppError, AppResult};

pub const MAX_NAME: usize = 200;
pub const MAX_COMMENT: usize = 5_000;
pub const MAX_REASON: usize = 500;
pub const MAX_EMAIL: usize = 254;
pub const MIN_PASSWORD: usize = 8;
/// argon2 would hash any length; a bound keeps one request's work small.
pub const MAX_PASSWORD: usize = 128;

/// Trims and requires 1..=max characters.
pub fn text(field: &'static str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if v.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Like `text`, but a missing or blank value is `None`.
pub fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
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
    fn passwords() {
        assert!(password("password", "correct-horse-1").is_ok());
        assert!(password("password", "short1").is_err());
        assert!(password("password", "onlyletters").is_err());
        assert!(password("password", "1234567890").is_err());
        assert!(password("password", &"a1".repeat(100)).is_err());
    }
}
