//! Refuses writes that another site's page makes with the agent's cookie.
//!
//! The session cookie is `SameSite=Strict`, which keeps it off requests from other *sites*,
//! but a site is only the scheme and registrable domain: a page of another origin on the same
//! host (another port of `127.0.0.1`, a sibling subdomain), or a sandboxed document with an
//! opaque origin (an uploaded file opened from our own origin is served `sandbox`), still
//! sends it. Such a page cannot set `Content-Type: application/json` without a CORS preflight
//! we never answer, but it can send a "simple" `POST`: a form or a `no-cors` fetch with a
//! `text/plain` body, which is enough to upload a file as the agent or to sign them out.
//!
//! So every request that is not `GET`, `HEAD` or `OPTIONS` must come from our own origin, by
//! what the browser says (never by what a page can set):
//! - `Sec-Fetch-Site` (sent by Chrome, Edge, Firefox and Safari to trustworthy origins):
//!   only `same-origin` passes, and `none` (the user's own navigation);
//! - otherwise `Origin`: absent (a client that is no browser, such as the load tester), or
//!   naming the `Host` the request was sent to. `null` (an opaque origin) never passes.

use axum::extract::Request;
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Why a write was refused, or `None` when it may go on.
pub fn refusal(method: &Method, headers: &HeaderMap) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => None,
            other => Some(format!(
                "a {method} from another origin ({other}) is refused"
            )),
        };
    }
    let origin = header(ORIGIN.as_str())?;
    let host = header(HOST.as_str())?;
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match authority {
        Some(authority) if authority.eq_ignore_ascii_case(host) => None,
        _ => Some(format!(
            "a {method} from the origin {origin} is refused (this is {host})"
        )),
    }
}

/// Middleware: answers a refused write `403 forbidden` before any route sees it.
pub async fn guard(request: Request, next: Next) -> Response {
    if let Some(reason) = refusal(request.method(), request.headers()) {
        tracing::warn!(
            method = %request.method(),
            path = %request.uri().path(),
            %reason,
            "cross-site write refused"
        );
        return ApiError::Forbidden(reason).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_always_pass() {
        let attacker = headers(&[("sec-fetch-site", "cross-site"), ("origin", "null")]);
        assert_eq!(refusal(&Method::GET, &attacker), None);
        assert_eq!(refusal(&Method::HEAD, &attacker), None);
    }

    #[test]
    fn a_write_passes_only_from_our_own_origin_by_fetch_metadata() {
        for ok in ["same-origin", "none"] {
            let h = headers(&[("sec-fetch-site", ok), ("host", "desk.example")]);
            assert_eq!(refusal(&Method::POST, &h), None, "{ok}");
        }
        for bad in ["same-site", "cross-site", "anything"] {
            // Fetch metadata wins over an Origin that would have matched.
            let h = headers(&[
                ("sec-fetch-site", bad),
                ("origin", "http://desk.example"),
                ("host", "desk.example"),
            ]);
            let reason = refusal(&Method::POST, &h).expect(bad);
            assert!(reason.contains(bad), "{reason}");
        }
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_name_the_host() {
        let same = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert_eq!(refusal(&Method::DELETE, &same), None);
        let tls = headers(&[("origin", "https://Desk.Example"), ("host", "desk.example")]);
        assert_eq!(refusal(&Method::PATCH, &tls), None);
        for origin in [
            "http://127.0.0.1:9999",
            "null",
            "http://desk.example.evil",
            "file://",
        ] {
            let h = headers(&[("origin", origin), ("host", "desk.example")]);
            assert!(refusal(&Method::POST, &h).is_some(), "{origin}");
        }
        // A client that is no browser sends neither header.
        assert_eq!(refusal(&Method::POST, &HeaderMap::new()), None);
    }
}
