//! The router: every route of the HTTP contract, body limits, fault injection, metrics and
//! security headers.

pub mod auth;
pub mod changes;
pub mod chat;
pub mod cross_site;
pub mod events;
pub mod faults;
pub mod media;
pub mod metrics;
pub mod push;
pub mod static_files;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// Builds the application router.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new()
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/me", get(auth::me))
        .route("/api/chat/requests", get(chat::list))
        .route(
            "/api/chat/messages",
            get(chat::fetch)
                .post(chat::send)
                .patch(changes::edit)
                .delete(changes::redact),
        )
        .route("/api/chat/changes", get(changes::changes))
        .route("/api/chat/requests/assign", post(changes::assign))
        .route("/api/chat/requests/close", post(changes::close))
        .route("/api/chat/events", get(events::stream))
        .route("/api/push/vapid-public-key", get(push::vapid_public_key))
        .route(
            "/api/push/subscriptions",
            post(push::subscribe).delete(push::unsubscribe),
        )
        .route(
            "/api/media",
            post(media::upload).layer(DefaultBodyLimit::max(state.config.max_media_bytes)),
        )
        .route("/api/media/{id}", get(media::download))
        .route("/metrics", get(metrics::render));
    if state.config.test_faults {
        api = api.route(
            "/api/test/faults",
            get(faults::get_faults).post(faults::set_faults),
        );
    }
    api.fallback(static_files::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        // Outside the fault switch (a refused write never reaches it) and inside the metrics,
        // which count the 403.
        .layer(middleware::from_fn(cross_site::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// A known path with the wrong method: a JSON 405 instead of axum's empty one.
async fn method_not_allowed(request: Request) -> crate::error::ApiError {
    crate::error::ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

/// Adds the Content-Security-Policy and hardening headers to every response. A route that
/// set its own, stricter policy keeps it (media: `sandbox; default-src 'none'`, since the
/// app's policy allows scripts from our origin, which is where uploads are served).
///
/// Every API reply is `no-store` unless its route says otherwise: chat lists and messages
/// kept in the browser's HTTP cache would stay on disk after the agent signs out, where the
/// app cannot delete them.
async fn security_headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if api && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(static_files::CSP),
        );
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
