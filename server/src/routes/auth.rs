//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_sync::protocol::{CurrentUser, LoginRequest};

use crate::auth::{self, AuthUser};
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::streams::EndReason;

/// Longest accepted user name or password, so hashing cost stays bounded.
const MAX_CREDENTIAL_LEN: usize = 256;

/// Signs in: checks the password and sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    if body.username.len() > MAX_CREDENTIAL_LEN || body.password.len() > MAX_CREDENTIAL_LEN {
        return Err(ApiError::BadRequest(
            "user name or password too long".to_owned(),
        ));
    }
    // One client guessing many names is limited per address; one name guessed wrongly is
    // slowed per name *and* address, so nobody can lock an agent out from elsewhere.
    let address = peer.ip().to_string();
    if !state.login_limiter.allow(&format!("ip:{address}")) {
        return Err(ApiError::RateLimited(
            "too many sign-in attempts from this address; wait a minute".to_owned(),
        ));
    }
    let wait = state.login_backoff.wait(&body.username, &address);
    if !wait.is_zero() {
        return Err(ApiError::RateLimited(format!(
            "too many wrong passwords for this name from this address; wait {} s",
            wait.as_secs().max(1)
        )));
    }
    let user = state.db.user_by_username(&body.username).await?;
    // An unknown name is checked against a dummy hash of the same cost, so the answer time
    // does not reveal which names exist.
    let stored = match &user {
        Some(user) => user.password_hash.clone(),
        None => dummy_hash(state.config.password_hash_memory_kib)?,
    };
    let password = body.password;
    // Argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&stored, &password))
        .await
        .map_err(|e| ApiError::Internal(format!("password check: {e}")))?;
    let Some(user) = user.filter(|_| ok) else {
        state.login_backoff.failed(&body.username, &address);
        return Err(ApiError::Unauthorized(
            "wrong user name or password".to_owned(),
        ));
    };
    state.login_backoff.succeeded(&body.username, &address);
    let token = auth::new_token();
    let now = now_ms();
    state
        .db
        .create_session(
            &auth::token_hash(&token),
            &user.id,
            now,
            now.saturating_add(state.config.session_absolute_ms()),
        )
        .await?;
    tracing::info!(user = %user.username, "signed in");
    let cookie = auth::session_cookie(
        &token,
        state.config.session_absolute.as_secs(),
        state.config.secure_cookie,
    );
    Ok(([(SET_COOKIE, cookie)], Json(user.current_user())).into_response())
}

/// Signs out: deletes the session (if any) and clears the cookie. Always 204.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    // A malformed cookie is simply cleared: signing out must always work.
    if let Ok(Some(token)) = auth::session_token(&headers) {
        let hash = auth::token_hash(&token);
        // A tab of an agent whose session this no longer is (another agent signed in since)
        // must not end the other agent's session.
        if let Some(expected) = auth::expected_user_header(&headers) {
            let idle = state.config.session_idle_ms();
            if let Some(user) = state.db.session_user(&hash, now_ms(), idle).await? {
                auth::refuse_another_user(Some(&expected), &user.id)?;
            }
        }
        state.db.delete_session(&hash).await?;
        // Its event streams end now, not at their next session check.
        let ended = state.streams.end_session(&hash, EndReason::Logout);
        tracing::info!(streams = ended, "signed out");
    }
    let cookie = auth::clear_cookie(state.config.secure_cookie);
    // The browser's HTTP cache of this origin goes too: replies earlier releases let it keep
    // (media for a year) would otherwise stay on disk after the sign-out.
    Ok((
        StatusCode::NO_CONTENT,
        [
            (SET_COOKIE, cookie),
            (
                axum::http::HeaderName::from_static("clear-site-data"),
                "\"cache\"".to_owned(),
            ),
        ],
    )
        .into_response())
}

/// The signed-in user.
pub async fn me(AuthUser(user): AuthUser) -> Json<CurrentUser> {
    Json(user.current_user())
}

/// A hash of a random password at the configured cost, computed once.
fn dummy_hash(memory_kib: u32) -> ApiResult<String> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = auth::hash_password(&auth::new_token(), memory_kib)?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}
