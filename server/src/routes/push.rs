//! `GET /api/push/vapid-public-key`, `POST` and `DELETE /api/push/subscriptions`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::{PushSubscription, PushUnsubscribe, VapidPublicKey};

use crate::auth::AuthUser;
use crate::db::now_ms;
use crate::db::push::SubscriptionRow;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Longest accepted endpoint URL.
const MAX_ENDPOINT_LEN: usize = 2048;

/// The application server key the browser subscribes with.
pub async fn vapid_public_key(State(state): State<AppState>) -> Json<VapidPublicKey> {
    Json(VapidPublicKey {
        public_key: state.vapid.public_key_b64.clone(),
    })
}

/// Stores the signed-in user's subscription (replacing any with the same endpoint).
pub async fn subscribe(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<PushSubscription>,
) -> ApiResult<StatusCode> {
    check_endpoint(&body.endpoint, state.config.allow_insecure_push)?;
    let p256dh = URL_SAFE_NO_PAD
        .decode(body.keys.p256dh.trim_end_matches('='))
        .map_err(|_| ApiError::BadRequest("keys.p256dh is not base64url".to_owned()))?;
    if web_push_native::p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(ApiError::BadRequest(
            "keys.p256dh is not a P-256 public key".to_owned(),
        ));
    }
    let auth = URL_SAFE_NO_PAD
        .decode(body.keys.auth.trim_end_matches('='))
        .map_err(|_| ApiError::BadRequest("keys.auth is not base64url".to_owned()))?;
    if auth.len() != 16 {
        return Err(ApiError::BadRequest(
            "keys.auth must be 16 bytes".to_owned(),
        ));
    }
    let row = SubscriptionRow {
        endpoint: body.endpoint,
        user_id: user.id,
        p256dh: URL_SAFE_NO_PAD.encode(p256dh),
        auth: URL_SAFE_NO_PAD.encode(auth),
    };
    state.db.upsert_subscription(&row, now_ms()).await?;
    Ok(StatusCode::CREATED)
}

/// Forgets one of the signed-in user's subscriptions (204 whether or not it existed).
pub async fn unsubscribe(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<PushUnsubscribe>,
) -> ApiResult<StatusCode> {
    if body.endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(ApiError::BadRequest("endpoint too long".to_owned()));
    }
    state
        .db
        .delete_subscription(&user.id, &body.endpoint)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Push endpoints must be `https://` URLs; with `--allow-insecure-push`, `http://` on
/// loopback is accepted too (tests run their own receiver). Anything else would let a
/// client make the server post to arbitrary internal addresses.
fn check_endpoint(endpoint: &str, allow_insecure: bool) -> ApiResult<()> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(ApiError::BadRequest("endpoint too long".to_owned()));
    }
    let uri: axum::http::Uri = endpoint
        .parse()
        .map_err(|_| ApiError::BadRequest("endpoint is not a URL".to_owned()))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http")
            if allow_insecure && matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") =>
        {
            Ok(())
        }
        _ => Err(ApiError::BadRequest(
            "endpoint must be an https:// URL".to_owned(),
        )),
    }
}
