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

/// Checks `SUPPORT_TICKET_URL`: an `http(s)://` URL with `{ticket}` where the reference goes,
/// no spaces or control characters.
pub(super) fn ticket_url(url: &str) -> Result<String, ConfigError> {
    const SETTING: &str = "SUPPORT_TICKET_URL";
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        None => Err(invalid(SETTING, "must start with https:// or http://")),
        Some(r) if r.is_empty() || r.starts_with(['/', '{']) => {
            Err(invalid(SETTING, "must name a host"))
        }
        Some(_) if !url.contains("{ticket}") => Err(invalid(
            SETTING,
            "must contain {ticket}, where the ticket's reference goes",
        )),
        Some(_) if url.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(invalid(
            SETTING,
            "must not contain spaces or control characters",
        )),
        Some(_) => Ok(url.to_string()),
    }
}

/// Checks `METRICS_ADDR`: `off`, or a `host:port` socket address that is not the public
/// address (`BIND_ADDR`): metrics are for the operators' network, never the public listener.
pub(super) fn metrics_addr(value: &str, bind_addr: &str) -> Result<Option<String>, ConfigError> {
    const SETTING: &str = "METRICS_ADDR";
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: std::net::SocketAddr = value
        .parse()
        .map_err(|_| invalid(SETTING, format!("is {value:?}; expected host:port, or off")))?;
    let public: Option<std::net::SocketAddr> = bind_addr.parse().ok();
    if public.is_some_and(|p| p.port() == addr.port() && p.port() != 0) {
        return Err(invalid(
            SETTING,
            format!(
                "is {value}, the port of BIND_ADDR: metrics are never served on the public address"
            ),
        ));
    }
    Ok(Some(value.to_string()))
}

/// Checks `WEBHOOK_RETRY_SCHEDULE_SECONDS`: 1 to 20 waits, comma-separated, each 1 second to
/// a week.
pub(super) fn retry_schedule(value: &str) -> Result<Vec<i64>, ConfigError> {
    const SETTING: &str = "WEBHOOK_RETRY_SCHEDULE_SECONDS";
    let waits: Result<Vec<i64>, _> = value.split(',').map(|w| w.trim().parse::<i64>()).collect();
    match waits {
        Ok(w) if !w.is_empty() && w.len() <= 20 && w.iter().all(|s| (1..=604_800).contains(s)) => {
            Ok(w)
        }
        _ => Err(invalid(
            SETTING,
            format!("is {value:?}; expected 1 to 20 comma-separated seconds, each 1..=604800"),
        )),
    }
}

/// Checks `WEBHOOK_PROXY`: unset or empty for none, else `http(s)://host:port`.
pub(super) fn webhook_proxy(raw: Option<&str>) -> Result<Option<String>, ConfigError> {
    const SETTING: &str = "WEBHOOK_PROXY";
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let url =
        url::Url::parse(raw).map_err(|_| invalid(SETTING, "is not a URL (http://host:port)"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            SETTING,
            "must be http://host:port or https://host:port",
        ));
    }
    Ok(Some(raw.to_string()))
}
