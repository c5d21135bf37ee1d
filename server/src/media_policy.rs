//! How a stored file is served so that no browser ever runs it on our origin.
//!
//! Uploaded bytes come from anyone who can sign in, requesters included, and are served from
//! the app's own origin: a file rendered as a document there could read the agent's chats.
//! So every reply is inert whatever the uploader claimed:
//!
//! - only a short allow-list of raster image types is shown inline, and only when the bytes
//!   start with that type's magic number (a "PNG" that is HTML is not a PNG);
//! - everything else (HTML, scripts, SVG, PDF, unknown) is `application/octet-stream` with
//!   `Content-Disposition: attachment`: a download, never a page;
//! - every reply carries `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
//!   sandbox; default-src 'none'` (even a document that slipped through would get an opaque
//!   origin and no script), and `Cache-Control: private` (the file is authenticated and must
//!   not be kept by shared caches).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};

/// `Content-Security-Policy` of every media reply.
pub const MEDIA_CSP: &str = "sandbox; default-src 'none'";

/// `Cache-Control` of every media reply: the browser's HTTP cache keeps no copy. The bytes
/// never change, but who may read them does: a browser shared by two agents would answer the
/// second from the first one's copy without the server seeing the request, and a copy on
/// disk outlives the agent's sign-out (the app wipes its own storage; this cache is the
/// browser's). The service worker's per-agent media cache, which sign-out deletes, is what
/// makes a repeat view free.
pub const MEDIA_CACHE_CONTROL: &str = "private, no-store";

/// Whether bytes start like a given file type.
type MagicTest = fn(&[u8]) -> bool;

/// The raster image types shown inline, each with its magic number test.
const INLINE_TYPES: &[(&str, MagicTest)] = &[
    ("image/png", |b| b.starts_with(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", |b| b.starts_with(b"\xff\xd8\xff")),
    ("image/gif", |b| {
        b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")
    }),
    ("image/webp", |b| {
        b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP"
    }),
];

/// The type a file is served inline as: its declared type when that is an allowed raster
/// image type and the bytes are one; `None` (a download) otherwise.
pub fn inline_type(declared: &str, bytes: &[u8]) -> Option<&'static str> {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    INLINE_TYPES
        .iter()
        .find(|(mime, _)| *mime == essence)
        .filter(|(_, is)| is(bytes))
        .map(|(mime, _)| *mime)
}

/// `Content-Disposition` for `name`: an ASCII fallback with nothing that could end the
/// quoted string or the header, and the exact name as RFC 5987 `filename*`.
pub fn disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' ' | '-' | '.' | '_' | '(' | ')' | '+' | ',' => c,
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .take(120)
        .collect();
    let fallback = if fallback.trim_matches(['.', '_', ' ']).is_empty() {
        "file".to_owned()
    } else {
        fallback
    };
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The security headers every media reply carries, 304 included.
pub fn security_headers() -> [(HeaderName, HeaderValue); 3] {
    [
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(MEDIA_CSP)),
        (CACHE_CONTROL, HeaderValue::from_static(MEDIA_CACHE_CONTROL)),
    ]
}

/// The type and disposition headers of a file's 200 reply.
pub fn content_headers(declared: &str, name: &str, bytes: &[u8]) -> [(HeaderName, HeaderValue); 2] {
    let inline = inline_type(declared, bytes);
    let content_type = inline.unwrap_or("application/octet-stream");
    let disposition = HeaderValue::from_str(&disposition(inline.is_some(), name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"file\""));
    [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CONTENT_DISPOSITION, disposition),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn only_real_raster_images_are_inline() {
        assert_eq!(inline_type("image/png", PNG), Some("image/png"));
        assert_eq!(inline_type("IMAGE/PNG; x=1", PNG), Some("image/png"));
        assert_eq!(
            inline_type("image/png", b"<html><script>"),
            None,
            "HTML claiming PNG"
        );
        assert_eq!(inline_type("image/jpeg", PNG), None, "a PNG claiming JPEG");
        assert_eq!(inline_type("image/svg+xml", b"<svg onload=x>"), None);
        assert_eq!(inline_type("text/html", b"<html>"), None);
        assert_eq!(inline_type("image/gif", b"GIF89a...."), Some("image/gif"));
        assert_eq!(
            inline_type("image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(inline_type("image/webp", b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(
            inline_type("image/jpeg", b"\xff\xd8\xff\xe0"),
            Some("image/jpeg")
        );
    }

    #[test]
    fn dispositions_cannot_break_the_header() {
        let hostile = "a\"; filename=evil.html\r\nSet-Cookie: x=1.txt";
        let header = disposition(false, hostile);
        assert!(header.starts_with("attachment; filename=\""), "{header}");
        assert!(HeaderValue::from_str(&header).is_ok(), "{header}");
        let fallback = header.split('"').nth(1).unwrap_or_default();
        assert!(
            !fallback.contains(['"', '\r', '\n', ';', '/']),
            "{fallback}"
        );
        assert!(
            header.contains("filename*=UTF-8''a%22%3B%20filename%3Devil.html%0D%0ASet-Cookie"),
            "{header}"
        );
        assert_eq!(
            disposition(true, "ü.png"),
            "inline; filename=\"_.png\"; filename*=UTF-8''%C3%BC.png"
        );
        assert!(disposition(false, "\"\"").contains("filename=\"file\""));
    }
}
