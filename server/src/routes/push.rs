//! `GET /api/push/vapid-public-key`, `POST` and `DELETE /api/push/subscriptions`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::{PushSubscription, PushUnsubscribe, VapidPublicKey};

use crate::auth::AuthUser;
use crate::clock::now_ms;
use crate::db::push::SubscriptionRow;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

use crate::push_endpoint::{self, MAX_ENDPOINT_LEN};

/// The application server key the browser subscribes with.
pub async fn vapid_public_key(State(state): State<AppState>) -> Json<VapidPublicKey> {
    Json(VapidPublicKey {
        public_key: state.vapid.public_key_b64.clone(),
    })
}

/// Stores the signed-in user's subscription (replacing any with the same endpoint, and the
/// user's oldest beyond the per-user cap). The endpoint must be a public https:// URL (see
/// [`push_endpoint`]).
pub async fn subscribe(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<PushSubscription>,
) -> ApiResult<StatusCode> {
    push_endpoint::check(&body.endpoint, state.config.allow_insecure_push)
        .map_err(ApiError::BadRequest)?;
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
    state
        .db
        .upsert_subscription(&row, now_ms(), state.config.max_subscriptions_per_user)
        .await?;
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
