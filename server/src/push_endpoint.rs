//! Which push endpoints the server will post to. A subscription's endpoint is a URL a client
//! chose, and the server posts to it on every message: without a check, anyone who can sign
//! in could make the server send requests into its own network (loopback admin ports, cloud
//! metadata at 169.254.169.254, private hosts). Push services live on public HTTPS hosts, so
//! only those are accepted, at subscription time and before each delivery ([`check`]), and
//! a name is resolved to public addresses only ([`PublicResolver`], against DNS rebinding).
//!
//! The URL is read exactly as the HTTP client will read it (WHATWG parsing, `reqwest::Url`):
//! `https://127.1/`, `https://0x7f000001/` and `https://0177.0.0.1/` are all 127.0.0.1 to the
//! client, so a check that saw them as names would be bypassed.
//!
//! The test flag (`--allow-insecure-push`) additionally allows plain `http://` to exactly
//! `127.0.0.1`, `localhost` and `[::1]` (the test suites' own receiver), nothing else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Longest accepted endpoint URL.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Name suffixes that are local by convention and never a push service.
const LOCAL_SUFFIXES: &[&str] = &[
    ".localhost",
    ".local",
    ".internal",
    ".home.arpa",
    ".lan",
    ".intranet",
    ".localdomain",
];

/// Checks an endpoint; the error is the reason, for the 400's `detail`.
pub fn check(endpoint: &str, allow_insecure_loopback: bool) -> Result<(), String> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(format!(
            "the endpoint is longer than {MAX_ENDPOINT_LEN} bytes"
        ));
    }
    let url = Url::parse(endpoint).map_err(|_| "the endpoint is not a URL".to_owned())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the endpoint must not carry user information".to_owned());
    }
    let host = match url.host_str() {
        Some(text) if !text.is_empty() => Host::of(text),
        _ => return Err("the endpoint has no host".to_owned()),
    };
    match url.scheme() {
        "http" if allow_insecure_loopback && is_test_loopback(&host) => Ok(()),
        "https" => check_host(&host),
        _ => Err("the endpoint must be an https:// URL of a push service".to_owned()),
    }
}

/// An endpoint's host as the HTTP client reads it.
enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

impl<'a> Host<'a> {
    /// `Url::host_str` is already normalised: every IPv4 form is a dotted quad and IPv6 is
    /// bracketed, so whatever parses as an address here is one to the client, and the rest
    /// are names.
    fn of(text: &'a str) -> Self {
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(text),
        }
    }
}

/// The hosts the test flag allows over plain http: exactly the tests' loopback receiver.
fn is_test_loopback(host: &Host<'_>) -> bool {
    match host {
        Host::Name(name) => *name == "localhost",
        Host::Ip(ip) => {
            *ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || *ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
        }
    }
}

/// A host an endpoint may name: a public address, or a name that is not local by its form.
fn check_host(host: &Host<'_>) -> Result<(), String> {
    let ip = match host {
        Host::Ip(ip) => *ip,
        Host::Name(name) => return check_name(name),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "the endpoint's address {ip} is not public (loopback, private, link-local or reserved)"
        ))
    }
}

/// A host name may be a push service's unless it is local by its form: `localhost`, a
/// conventional local suffix, or a single label (resolved through the local search list).
fn check_name(name: &str) -> Result<(), String> {
    // `localhost.` is `localhost`: the trailing dot only marks the name as absolute.
    let bare = name.trim_end_matches('.');
    let local = bare == "localhost"
        || LOCAL_SUFFIXES.iter().any(|suffix| bare.ends_with(suffix))
        || !bare.contains('.');
    if local {
        return Err(format!("the endpoint's host {name} is not a public name"));
    }
    Ok(())
}

/// The key the sender groups deliveries by: the endpoint's host and port, as the HTTP client
/// will connect (so `https://push.example/` and `https://PUSH.example:443/` share one key).
pub fn host_key(endpoint: &str) -> String {
    match Url::parse(endpoint) {
        Ok(url) => format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        ),
        // Not a URL at all: it fails its check at delivery; any key will do.
        Err(_) => String::new(),
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (100.64.0.0/10), IETF protocol assignments (192.0.0.0/24), the
        // 6to4 relay anycast (192.88.99.0/24), benchmarking (198.18.0.0/15), reserved (240/4).
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // IPv4-compatible (::a.b.c.d, deprecated; includes :: and ::1).
    if s[..6] == [0; 6] {
        return false;
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address through a gateway.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 (2002::/16) embeds an IPv4 address too.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !(ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10 (deprecated).
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // Local-use NAT64 64:ff9b:1::/48, discard-only 100::/64.
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        || (s[..4] == [0x100, 0, 0, 0])
        // Teredo 2001::/32 (hides an IPv4 address), documentation 2001:db8::/32.
        || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 0x0db8)))
}

/// A DNS resolver for the push client that drops every non-public address a name resolves
/// to (a name checked as public may point at 127.0.0.1 by the time it is used). Under the
/// test flag the name `localhost` alone may resolve to loopback.
pub struct PublicResolver {
    /// Whether `localhost` may resolve to loopback (`--allow-insecure-push`).
    pub allow_loopback: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let loopback_ok = self.allow_loopback && host.trim_end_matches('.') == "localhost";
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept = public_only(found, loopback_ok);
            if kept.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The addresses of a lookup that may be contacted.
fn public_only(found: impl Iterator<Item = SocketAddr>, loopback_ok: bool) -> Vec<SocketAddr> {
    found
        .filter(|a| is_public(a.ip()) || (loopback_ok && a.ip().is_loopback()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_endpoints_pass() {
        for good in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://8.8.8.8/push",
            "https://[2606:4700::1111]/push",
            "https://[64:ff9b::808:808]/push",
        ] {
            assert_eq!(check(good, false), Ok(()), "{good}");
        }
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1/x",
            "https://127.0.0.2/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.0.10/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://255.255.255.255/x",
            "https://224.0.0.1/x",
            "https://[::1]/x",
            "https://[::]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[ff02::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[::127.0.0.1]/x",
            "https://[64:ff9b::a00:1]/x",
            "https://[2002:c0a8:1::1]/x",
            // Numeric forms the HTTP client reads as 127.0.0.1.
            "https://127.1/x",
            "https://0x7f000001/x",
            "https://0x7f.1/x",
            "https://0177.0.0.1/x",
            "https://2130706433/x",
            "https://localhost/x",
            "https://localhost./x",
            "https://a.localhost/x",
            "https://printer.local/x",
            "https://printer.local./x",
            "https://intranet/x",
            "https://metadata.google.internal/x",
            "https://user:pw@push.example.com/x",
            "ftp://example.com/x",
            "not a url",
        ] {
            assert!(check(bad, false).is_err(), "{bad}");
            if !bad.starts_with("http://fcm") {
                assert!(check(bad, true).is_err(), "{bad} with the test flag");
            }
        }
        assert_eq!(check("http://127.0.0.1:9000/p", true), Ok(()));
        assert_eq!(check("http://localhost:9000/p", true), Ok(()));
        assert_eq!(check("http://[::1]:9000/p", true), Ok(()));
        assert!(check("http://127.0.0.1:9000/p", false).is_err());
        assert!(check("http://127.0.0.2:9000/p", true).is_err());
        assert!(check("http://10.1.2.3:9000/p", true).is_err());
        assert!(check("http://localhost.:9000/p", true).is_err());
    }

    #[test]
    fn host_keys_follow_the_clients_reading() {
        assert_eq!(
            host_key("https://PUSH.example.com/a"),
            "push.example.com:443"
        );
        assert_eq!(
            host_key("https://push.example.com:443/b"),
            "push.example.com:443"
        );
        assert_eq!(host_key("http://127.0.0.1:9000/p"), "127.0.0.1:9000");
        assert_eq!(host_key("https://[::1]:8443/p"), "[::1]:8443");
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let found = || {
            [
                "127.0.0.1:0",
                "10.0.0.7:0",
                "8.8.8.8:0",
                "[::1]:0",
                "[2606:4700::1111]:0",
            ]
            .into_iter()
            .map(|a| a.parse::<SocketAddr>().unwrap())
        };
        let public: Vec<String> = public_only(found(), false)
            .iter()
            .map(|a| a.ip().to_string())
            .collect();
        assert_eq!(public, ["8.8.8.8", "2606:4700::1111"]);
        assert_eq!(public_only(found(), true).len(), 4);
    }
}
