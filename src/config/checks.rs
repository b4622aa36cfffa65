//! The checks a setting passes before the server starts.
/// A setting the server cannot start with.
#[derive(Debug, thiserror::Error)]
#[error("{setting} {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

pub(super) fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// `value` if within `min..=max`, else an error naming the setting and its range.
pub(super) fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    setting: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(invalid(
            setting,
            format!("is {value}, outside the allowed range {min} to {max}"),
        ));
    }
    Ok(value)
}

/// Checks `ALLOWED_ORIGINS`: each entry a bare origin, `http(s)://host[:port]`.
pub(super) fn origins(list: &str) -> Result<Vec<String>, ConfigError> {
    const SETTING: &str = "ALLOWED_ORIGINS";
    let mut out = vec![];
    for o in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
        if !ok {
            return Err(invalid(
                SETTING,
                format!(
                    "has {o:?}, which is not an origin like https://app.example.com (no wildcards, paths or spaces)"
                ),
            ));
        }
        out.push(o.to_string());
    }
    Ok(out)
}
