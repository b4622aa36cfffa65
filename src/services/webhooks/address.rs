//! Where a webhook may go (SSRF). An endpoint's URL is `http(s)://` with a host; a loopback,
//! private, link-local, unique-local or otherwise non-public address is refused, unless
//! `WEBHOOK_ALLOW_PRIVATE=true`. A host name is checked when it is resolved, at each delivery,
//! by the sender's own resolver (so a name that later points inside is refused too); the
//! address checked is the address connected to. Redirects are never followed.
use std::net::{IpAddr, SocketAddr};

use crate::error::{AppError, AppResult};

/// Whether `ip` is one a webhook may never reach from outside: loopback, private, link-local
/// (cloud metadata at 169.254.169.254), carrier-grade NAT, unspecified, broadcast,
/// documentation, multicast, IPv6 unique-local and link-local, and IPv4 mapped into IPv6.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// Checks an endpoint's URL when it is set: the form, and a literal address or a local name.
pub fn check_url(raw: &str, allow_private: bool) -> AppResult<url::Url> {
    let bad = |why: &str| AppError::bad_input("url", why.to_string());
    if raw.len() > 2000 {
        return Err(bad("a URL of at most 2,000 characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| bad("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http:// and https:// URLs"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "no credentials in the URL: verify the signature instead",
        ));
    }
    let refused = "a loopback, private or link-local address is refused (WEBHOOK_ALLOW_PRIVATE)";
    match url.host() {
        None => return Err(bad("the URL has no host")),
        Some(url::Host::Ipv4(ip)) if !allow_private && is_private(IpAddr::V4(ip)) => {
            return Err(bad(refused));
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && is_private(IpAddr::V6(ip)) => {
            return Err(bad(refused));
        }
        Some(url::Host::Domain(d)) if !allow_private => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal") {
                return Err(bad(refused));
            }
        }
        _ => {}
    }
    Ok(url)
}

/// The sender's resolver: a name's addresses, none of them private unless allowed.
pub struct PublicOnly {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// A literal address in `url` that may not be reached (the resolver never sees those).
pub fn refused_literal(url: &url::Url, allow_private: bool) -> bool {
    !allow_private
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_to_inside_are_refused_unless_allowed() {
        for u in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:9000/",
            "http://metadata.google.internal/",
        ] {
            assert!(check_url(u, false).is_err(), "{u}");
            assert!(check_url(u, true).is_ok(), "{u}");
        }
        assert!(check_url("https://siem.example.com/hook", false).is_ok());
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
    }
}
