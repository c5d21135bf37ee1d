//! Which push endpoints the server will post to. A subscription's endpoint is a URL a client
//! chose, and the server posts to it on every message: without a check, anyone who can sign
//! in could make the server send requests into its own network (loopback admin ports, cloud
//! metadata at 169.254.169.254, private hosts). Push services live on public HTTPS hosts, so
//! only those are accepted, at subscription time ([`check`]) and again when a name is
//! resolved before each delivery ([`PublicResolver`], against DNS rebinding).
//!
//! The test flag (`--allow-insecure-push`) additionally allows plain `http://` to exactly
//! `127.0.0.1`, `localhost` and `[::1]` (the test suites' own receiver), nothing else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest accepted endpoint URL.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Checks an endpoint; the error is the reason, for the 400's `detail`.
pub fn check(endpoint: &str, allow_insecure_loopback: bool) -> Result<(), String> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(format!(
            "the endpoint is longer than {MAX_ENDPOINT_LEN} bytes"
        ));
    }
    let uri: axum::http::Uri = endpoint
        .parse()
        .map_err(|_| "the endpoint is not a URL".to_owned())?;
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    if host.is_empty() {
        return Err("the endpoint has no host".to_owned());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match uri.scheme_str() {
        Some("http")
            if allow_insecure_loopback && matches!(bare, "127.0.0.1" | "localhost" | "::1") =>
        {
            Ok(())
        }
        Some("https") => check_host(bare),
        _ => Err("the endpoint must be an https:// URL of a push service".to_owned()),
    }
}

/// A host an endpoint may name: a public address, or a name that is not local by its form.
fn check_host(host: &str) -> Result<(), String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if is_public(ip) {
            Ok(())
        } else {
            Err(format!(
                "the endpoint's address {ip} is not public (loopback, private, link-local or reserved)"
            ))
        };
    }
    let local_suffix = [
        ".localhost",
        ".local",
        ".internal",
        ".home.arpa",
        ".lan",
        ".intranet",
    ]
    .iter()
    .any(|suffix| host.ends_with(suffix));
    if host == "localhost" || local_suffix || !host.contains('.') {
        return Err(format!("the endpoint's host {host} is not a public name"));
    }
    Ok(())
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
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (100.64.0.0/10), benchmarking (198.18.0.0/15), reserved (240/4).
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// A DNS resolver for the push client that drops every non-public address a name resolves
/// to (a name may point at 127.0.0.1 after it was checked), except loopback under the test
/// flag.
pub struct PublicResolver {
    /// Whether loopback answers are kept (`--allow-insecure-push`).
    pub allow_loopback: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found
                .filter(|a| is_public(a.ip()) || (allow_loopback && a.ip().is_loopback()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
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
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://localhost/x",
            "https://printer.local/x",
            "https://intranet/x",
            "https://metadata.google.internal/x",
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
        assert!(check("http://127.0.0.1:9000/p", false).is_err());
        assert!(check("http://127.0.0.2:9000/p", true).is_err());
    }
}
