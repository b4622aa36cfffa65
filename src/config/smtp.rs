//! `SMTP_URL` and `SMTP_FROM`: where notices are e-mailed from, checked at start.
use super::checks::{ConfigError, invalid};

/// How the connection to the mail server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://` to another host: STARTTLS, required.
    StartTls,
    /// `smtp://` to a loopback address (a local relay): plain SMTP.
    PlainLoopback,
}

/// A checked `SMTP_URL` with its sender. The password is never printed.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `SMTP_FROM`, a checked mailbox.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// Parses `SMTP_URL` (`smtp://[user:pass@]host:port` or `smtps://…`) and `SMTP_FROM`.
pub fn parse(url: &str, from: Option<&str>) -> Result<SmtpConfig, ConfigError> {
    const SETTING: &str = "SMTP_URL";
    let shown = super::redact_url(url);
    let u = url::Url::parse(url)
        .map_err(|e| invalid(SETTING, format!("({shown}) is not a URL: {e}")))?;
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid(SETTING, format!("({shown}) names no host")))?
        .trim_matches(['[', ']'])
        .to_string();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let (security, default_port) = match u.scheme() {
        "smtps" => (SmtpSecurity::Tls, 465),
        "smtp" if loopback => (SmtpSecurity::PlainLoopback, 25),
        "smtp" => (SmtpSecurity::StartTls, 587),
        other => {
            return Err(invalid(
                SETTING,
                format!("({shown}) has scheme {other:?}; allowed: smtp:// or smtps://"),
            ));
        }
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = Some(u.username()).filter(|s| !s.is_empty()).map(decode);
    let password = u.password().map(decode);
    let from = from.unwrap_or("CRM <no-reply@localhost>");
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| invalid("SMTP_FROM", format!("({from:?}) is not a mailbox: {e}")))?;
    Ok(SmtpConfig {
        host,
        port: u.port().unwrap_or(default_port),
        security,
        user,
        password,
        from: from.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_only_to_a_loopback_relay() {
        let c = parse("smtp://127.0.0.1:2525", None).unwrap();
        assert_eq!(c.security, SmtpSecurity::PlainLoopback);
        assert_eq!(c.port, 2525);
        let c = parse("smtp://mail.example.com", None).unwrap();
        assert_eq!(c.security, SmtpSecurity::StartTls);
        assert_eq!(c.port, 587);
        let c = parse("smtps://u%40x:p%3Ass@mail.example.com", Some("a@b.test")).unwrap();
        assert_eq!(c.security, SmtpSecurity::Tls);
        assert_eq!(c.port, 465);
        assert_eq!(c.user.as_deref(), Some("u@x"));
        assert_eq!(c.password.as_deref(), Some("p:ss"));
        assert!(!format!("{c:?}").contains("p:ss"));
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(parse("http://x", None).unwrap_err().setting, "SMTP_URL");
        assert_eq!(parse("smtp://", None).unwrap_err().setting, "SMTP_URL");
        let e = parse("smtp://127.0.0.1", Some("not a mailbox")).unwrap_err();
        assert_eq!(e.setting, "SMTP_FROM");
        let e = parse("smtp://user:hunter2@127.0.0.1", Some("nope")).unwrap_err();
        assert!(!e.message.contains("hunter2"));
    }
}
