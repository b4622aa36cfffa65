//! Where a webhook may go (SSRF). An endpoint's URL is `http(s)://` with a host; a loopback,
//! private, link-local, unique-local or otherwise non-public address is refused, unless
//! `WEBHOOK_ALLOW_PRIVATE=true`. A host name is checked when it is resolved, at each delivery,
//! by the sender's own resolver (so a name that later points inside is refused too); the
//! address checked is the address connected to. Redirects are never followed.
use std::net::{IpAddr, SocketAddr};

use crate::error::{AppError, AppResult};

/// Whether `ip` is one a webhook may never reach from outside: loopback, private, link-local
/// (cloud metadata at 169.254.169.254), carrier-grade NAT, unspecified, broadcast,
/// documentation, benchmarking, reserved, multicast. For IPv6, only global unicast
/// (`2000::/3`) is public, and an IPv4 address an IPv6 form carries is decoded and checked:
/// mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`,
/// `64:ff9b:1::/48`), 6to4 (`2002::/16`) and Teredo (`2001::/32`, server and client).
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
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let embedded = embedded_v4(v6);
            if !embedded.is_empty() {
                return embedded.into_iter().any(|v4| is_private(IpAddr::V4(v4)));
            }
            let s = v6.segments();
            // Global unicast only; inside it, the documentation prefix, ORCHID and the
            // IETF protocol block (2001::/23, whose public parts are served by name).
            (s[0] & 0xe000) != 0x2000
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] < 0x0200)
                || s[0] == 0x3fff
        }
    }
}

/// The IPv4 addresses an IPv6 address carries, in the forms that reach them: none for a plain
/// IPv6 address.
fn embedded_v4(v6: std::net::Ipv6Addr) -> Vec<std::net::Ipv4Addr> {
    use std::net::Ipv4Addr;
    let s = v6.segments();
    let o = v6.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return vec![v4];
    }
    // IPv4-compatible `::a.b.c.d` (but not `::` and `::1`, which are IPv6's own and private).
    if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
        return vec![last];
    }
    // NAT64: the well-known prefix and the local-use one (RFC 6052, RFC 8215).
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b;
    if nat64 && (s[2..6].iter().all(|x| *x == 0) || s[2] == 1) {
        return vec![last];
    }
    // 6to4: 2002:aabb:ccdd::/48.
    if s[0] == 0x2002 {
        return vec![Ipv4Addr::new(o[2], o[3], o[4], o[5])];
    }
    // Teredo: the server's address, and the client's (inverted) in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        let client = Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]);
        return vec![Ipv4Addr::new(o[4], o[5], o[6], o[7]), client];
    }
    vec![]
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

/// A URL as the audit log and notices keep it: scheme, host, port and path. The query string
/// (where a receiver may carry its own token) and the fragment never leave the endpoint's row.
pub fn for_the_record(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", u.scheme(), u.path())
        }
        Err(_) => String::new(),
    }
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
            // IPv6 forms that carry an inside IPv4 address or a non-public prefix.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::169.254.169.254",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:7f00:1::ffff:ffff",
            "2001:0:808:808:0:0:80ff:fffe", // Teredo: client 127.0.0.1
            "fec0::1",
            "100::1",
            "2001:db8::1",
            "ff02::1",
            "::",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7", // Teredo: server and client 8.8.8.8
        ] {
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
            "http://[::127.0.0.1]/hook",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "http://[2002:7f00:1::1]/hook",
            "http://[fec0::1]/hook",
        ] {
            assert!(check_url(u, false).is_err(), "{u}");
            assert!(check_url(u, true).is_ok(), "{u}");
        }
        assert!(check_url("https://siem.example.com/hook", false).is_ok());
        assert_eq!(
            for_the_record("https://siem.example.com:8443/in/hook?token=s3cret#frag"),
            "https://siem.example.com:8443/in/hook"
        );
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
    }
}
