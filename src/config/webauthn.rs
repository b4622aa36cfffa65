//! The WebAuthn relying party (`WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGIN`) and the step-up rule
//! (`IMPERSONATION_STEP_UP`), checked at start.
use super::checks::invalid;
use super::{ConfigError, Environment};

/// Who the passkeys are for: browsers bind a passkey to `rp_id` and sign the page's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// A domain name, never an IP address (WebAuthn refuses those).
    pub rp_id: String,
    /// Where the console is served: `https://…`, or `http://localhost…` for development.
    pub origin: url::Url,
}

impl RelyingParty {
    /// The README's first command: the console on `http://localhost:<port of BIND_ADDR>`.
    pub fn development(bind_addr: &str) -> RelyingParty {
        let port = bind_addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .unwrap_or(8080);
        RelyingParty {
            rp_id: "localhost".into(),
            origin: url::Url::parse(&format!("http://localhost:{port}")).expect("a valid URL"),
        }
    }
}

/// What `impersonate`, `elevateImpersonation` and `approveImpersonationReview` need besides
/// the token's passed 2FA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// Nothing more (the design's rule).
    None,
    /// A fresh TOTP code or passkey assertion, each time.
    Any,
    /// A fresh passkey assertion, each time (phishing-resistant).
    Passkey,
}

pub(super) fn step_up(value: &str) -> Result<StepUp, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(StepUp::None),
        "any" => Ok(StepUp::Any),
        "passkey" => Ok(StepUp::Passkey),
        other => Err(invalid(
            "IMPERSONATION_STEP_UP",
            format!("is {other:?}; allowed: none, any or passkey"),
        )),
    }
}

/// Checks `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGIN`. Production needs both; development falls
/// back to `localhost` and the port of `BIND_ADDR`.
pub(super) fn relying_party(
    rp_id: Option<&str>,
    origin: Option<&str>,
    environment: Environment,
    bind_addr: &str,
) -> Result<RelyingParty, ConfigError> {
    let rp_id = rp_id.map(str::trim).filter(|v| !v.is_empty());
    let origin = origin.map(str::trim).filter(|v| !v.is_empty());
    if environment == Environment::Production {
        if rp_id.is_none() {
            return Err(invalid(
                "WEBAUTHN_RP_ID",
                "is required in production: the domain the console is served on",
            ));
        }
        if origin.is_none() {
            return Err(invalid(
                "WEBAUTHN_ORIGIN",
                "is required in production: the console's origin, e.g. https://crm.example.com",
            ));
        }
    }
    let fallback = RelyingParty::development(bind_addr);
    let rp_id = rp_id.map(str::to_ascii_lowercase).unwrap_or(fallback.rp_id);
    match url::Host::parse(&rp_id) {
        Ok(url::Host::Domain(_)) => {}
        _ => {
            return Err(invalid(
                "WEBAUTHN_RP_ID",
                format!("is {rp_id:?}; expected a domain name (an IP address cannot be one)"),
            ));
        }
    }
    let origin = match origin {
        Some(o) => url::Url::parse(o).map_err(|_| {
            invalid(
                "WEBAUTHN_ORIGIN",
                format!("is {o:?}; expected a URL such as https://crm.example.com"),
            )
        })?,
        None => fallback.origin,
    };
    let host = origin.host_str().unwrap_or("").to_ascii_lowercase();
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Err(invalid(
            "WEBAUTHN_ORIGIN",
            format!("has the host {host:?}, which is not WEBAUTHN_RP_ID ({rp_id}) or under it"),
        ));
    }
    let secure = origin.scheme() == "https" || (origin.scheme() == "http" && host == "localhost");
    if !secure || origin.path() != "/" || origin.query().is_some() {
        return Err(invalid(
            "WEBAUTHN_ORIGIN",
            format!(
                "is {origin}; expected https://host[:port] (http only for localhost), without a path"
            ),
        ));
    }
    Ok(RelyingParty { rp_id, origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_defaults_follow_the_port() {
        let rp = relying_party(None, None, Environment::Development, "127.0.0.1:9000").unwrap();
        assert_eq!(rp.rp_id, "localhost");
        assert_eq!(rp.origin.as_str(), "http://localhost:9000/");
    }

    #[test]
    fn production_names_the_missing_setting() {
        let e = relying_party(None, None, Environment::Production, "0.0.0.0:80").unwrap_err();
        assert!(e.to_string().contains("WEBAUTHN_RP_ID"), "{e}");
        let e =
            relying_party(Some("crm.example.com"), None, Environment::Production, "").unwrap_err();
        assert!(e.to_string().contains("WEBAUTHN_ORIGIN"), "{e}");
    }

    #[test]
    fn ip_addresses_foreign_hosts_and_plain_http_are_refused() {
        let dev = Environment::Development;
        let ip = relying_party(Some("127.0.0.1"), None, dev, "127.0.0.1:8080").unwrap_err();
        assert!(ip.to_string().contains("WEBAUTHN_RP_ID"), "{ip}");
        let foreign = relying_party(Some("crm.example.com"), Some("https://evil.test"), dev, "");
        assert!(foreign.unwrap_err().to_string().contains("WEBAUTHN_ORIGIN"));
        let http = relying_party(Some("example.com"), Some("http://crm.example.com"), dev, "");
        assert!(http.unwrap_err().to_string().contains("WEBAUTHN_ORIGIN"));
        let ok = relying_party(
            Some("example.com"),
            Some("https://crm.example.com"),
            dev,
            "",
        );
        assert_eq!(ok.unwrap().origin.as_str(), "https://crm.example.com/");
    }

    #[test]
    fn step_up_values() {
        assert_eq!(step_up("none").unwrap(), StepUp::None);
        assert_eq!(step_up("ANY").unwrap(), StepUp::Any);
        assert_eq!(step_up("passkey").unwrap(), StepUp::Passkey);
        let e = step_up("sometimes").unwrap_err();
        assert!(e.to_string().contains("IMPERSONATION_STEP_UP"), "{e}");
    }
}
