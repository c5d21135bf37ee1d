//! Serves the built front end (`--dist DIR`): a strict Content-Security-Policy on every
//! page, `index.html` and `sw.js` never cached, hashed assets cached forever, and
//! `index.html` for unknown non-API paths (the app routes `/chat/{id}` itself).
//!
//! Every file goes out in the best encoding the client takes (Brotli, gzip, else as it is)
//! with an `ETag`, and a request naming the current version in `If-None-Match` is answered
//! 304 without a body; the files and their encodings come from [`crate::front_end`].

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::front_end;
use crate::state::AppState;

/// Scripts only from this origin, plus WebAssembly compilation; nothing inline.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
     base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The fallback handler for every path no route matched.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::NotFound(format!("no API route {path}")).into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::NotFound(format!("no route {} {path}", request.method())).into_response();
    }
    let Some(dist) = state.config.dist.clone() else {
        return ApiError::NotFound("this server was started without --dist".to_owned())
            .into_response();
    };
    let relative = path.trim_start_matches('/');
    // The build's Brotli files are read through the file they encode, never on their own.
    if front_end::is_prebuilt_encoding(Path::new(relative)) {
        return ApiError::NotFound(format!("no file {path}")).into_response();
    }
    let file = match safe_join(&dist, relative) {
        Some(candidate) if candidate.is_file() => candidate,
        // Unknown paths (and directories) are app routes: answer the app shell. A path that
        // looks like a missing asset (has an extension) is a real 404.
        _ if looks_like_asset(relative) => {
            return ApiError::NotFound(format!("no file {path}")).into_response();
        }
        _ => dist.join("index.html"),
    };
    let version = match state.front_end.get(&file).await {
        Ok(version) => version,
        Err(error) => {
            tracing::warn!(%error, file = %file.display(), "cannot read a front-end file");
            return ApiError::NotFound(format!("no file {path}")).into_response();
        }
    };
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_owned();
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (encoding, body) = version.best_for(header(ACCEPT_ENCODING));
    let not_modified = version.matches(header(IF_NONE_MATCH));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.to_vec().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_policy(&name)));
    if let Ok(etag) = HeaderValue::from_str(&version.etag(encoding)) {
        headers.insert(ETAG, etag);
    }
    if version.has_encodings() {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let (Some(token), false) = (encoding.token(), not_modified) {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    let sent = if not_modified { 0 } else { body.len() };
    state.metrics.count_front_end(&name, encoding.label(), sent);
    response
}

/// The `Content-Type` of a front-end file. The web app manifest is named explicitly: browsers
/// expect `application/manifest+json`, whatever a MIME table says about `.webmanifest`.
fn content_type(file: &Path) -> &'static str {
    if file.extension().and_then(|e| e.to_str()) == Some("webmanifest") {
        return "application/manifest+json";
    }
    mime_guess::from_path(file)
        .first_raw()
        .map(|m| match m {
            "application/javascript" | "text/javascript" => "text/javascript; charset=utf-8",
            "text/html" => "text/html; charset=utf-8",
            other => other,
        })
        .unwrap_or("application/octet-stream")
}

/// Whether a missing path names a static asset (a real 404) rather than an app route such as
/// `/chat/{request_id}`, whose id may itself contain a dot.
fn looks_like_asset(relative: &str) -> bool {
    const ASSET_EXTENSIONS: [&str; 16] = [
        "js",
        "mjs",
        "wasm",
        "css",
        "map",
        "json",
        "webmanifest",
        "png",
        "svg",
        "ico",
        "jpg",
        "jpeg",
        "webp",
        "woff",
        "woff2",
        "txt",
    ];
    if relative.starts_with("chat/") {
        return false;
    }
    Path::new(relative)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ASSET_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Joins a URL path under `root`, refusing anything that could leave it.
fn safe_join(root: &Path, relative: &str) -> Option<PathBuf> {
    let decoded = relative;
    if decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for component in Path::new(decoded).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// `index.html` and `sw.js` must be fetched fresh (browsers compare `sw.js` to update the
/// worker); assets whose name carries a content hash never change.
fn cache_policy(name: &str) -> &'static str {
    if name == "index.html" || name == "sw.js" {
        "no-cache, no-store, must-revalidate"
    } else if is_hashed(name) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// Whether a file name has a content hash, as Trunk writes them: `app-1a2b3c4d5e6f7a8b.js`
/// or `app-1a2b…_bg.wasm` (at least 8 hex digits after the last `-`).
fn is_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((_, hash)) => hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed("app-1a2b3c4d5e6f7a8b.js"));
        assert!(is_hashed("app-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(!is_hashed("sw.js"));
        assert!(!is_hashed("manifest.webmanifest"));
        assert_eq!(
            content_type(Path::new("dist/manifest.webmanifest")),
            "application/manifest+json"
        );
        assert_eq!(
            content_type(Path::new("dist/icons/icon-192.png")),
            "image/png"
        );
        assert!(!is_hashed("my-icon.png"));
    }

    #[test]
    fn app_routes_are_not_assets() {
        assert!(looks_like_asset("missing-1234.js"));
        assert!(looks_like_asset("icons/x.PNG"));
        assert!(!looks_like_asset("chat/REQ-1.js"));
        assert!(!looks_like_asset("chat/ticket.123"));
        assert!(!looks_like_asset("settings"));
    }

    #[test]
    fn traversal_is_refused() {
        let root = Path::new("/srv/dist");
        assert!(safe_join(root, "../etc/passwd").is_none());
        assert!(safe_join(root, "a/../../b").is_none());
        assert_eq!(
            safe_join(root, "a/b.js"),
            Some(PathBuf::from("/srv/dist/a/b.js"))
        );
    }
}
