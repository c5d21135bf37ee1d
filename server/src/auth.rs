//! Passwords (Argon2id), session tokens and the extractor that resolves the session cookie.
//!
//! The cookie carries a random 256-bit token; the database stores only its SHA-256, so a
//! leaked database does not hand out live sessions.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::db::users::UserRow;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sid";

/// Hashes a password with Argon2id at the given memory cost (KiB).
pub fn hash_password(password: &str, memory_kib: u32) -> Result<String, ApiError> {
    let params = Params::new(memory_kib.max(8), 2, 1, None)
        .map_err(|e| ApiError::Internal(format!("argon2 params: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

/// Checks a password against a stored PHC string (its own parameters are used).
pub fn verify_password(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new random session token (64 hex characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The `Set-Cookie` value that starts a session lasting at most `max_age_secs`.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    )
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session token of a request: `Ok(None)` without the cookie, an error when it is
/// present but malformed.
pub fn session_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else {
            return Err(ApiError::Unauthorized(
                "the Cookie header is not valid text".to_owned(),
            ));
        };
        for pair in text.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name.trim() != SESSION_COOKIE {
                continue;
            }
            let value = value.trim();
            if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::Unauthorized(
                    "malformed session cookie".to_owned(),
                ));
            }
            return Ok(Some(value.to_ascii_lowercase()));
        }
    }
    Ok(None)
}

/// The signed-in user; rejects with 401 when there is no valid session.
pub struct AuthUser(pub UserRow);

/// The request header in which a client names the user it makes the request for.
pub const EXPECT_USER_HEADER: &str = "x-expect-user";
/// The same as a query parameter (for `EventSource`, which sets no headers).
pub const EXPECT_USER_PARAM: &str = "expect_user";

/// The user named by [`EXPECT_USER_HEADER`], if any (the sign-out, which reads no session
/// user otherwise, checks it itself).
pub fn expected_user_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(EXPECT_USER_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// The user a request says it is made for, if it says: a tab (or service worker) acting for
/// one agent names her on every request, because the session cookie is the browser's and
/// may have become another agent's since the tab last looked. A mismatch is refused before
/// the handler runs (401, which clients take for "the session ended"), so nothing is read
/// for, or written as, the wrong agent.
fn expected_user(parts: &Parts) -> Option<String> {
    if let Some(user) = expected_user_header(&parts.headers) {
        return Some(user);
    }
    parts.uri.query()?;
    let axum::extract::Query(mut params) =
        axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(&parts.uri)
            .ok()?;
    params.remove(EXPECT_USER_PARAM)
}

/// Refuses (401) a request made for `expected` when the session is `session_user`'s.
pub fn refuse_another_user(expected: Option<&str>, session_user: &str) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != session_user => Err(ApiError::Unauthorized(format!(
            "this request is for {expected}, but the browser's session is now another user's"
        ))),
        _ => Ok(()),
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = session_token(&parts.headers)? else {
            return Err(ApiError::Unauthorized("sign in first".to_owned()));
        };
        let idle = state.config.session_idle_ms();
        match state
            .db
            .session_user(&token_hash(&token), now_ms(), idle)
            .await?
        {
            Some(user) => {
                refuse_another_user(expected_user(parts).as_deref(), &user.id)?;
                Ok(AuthUser(user))
            }
            None => Err(ApiError::Unauthorized(
                "the session has expired or was signed out".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("pw", 8).expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "pw"));
        assert!(!verify_password(&hash, "other"));
        assert!(!verify_password("not a hash", "pw"));
    }

    #[test]
    fn cookie_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_token(&headers).ok(), Some(None));
        let token = new_token();
        headers.insert(COOKIE, format!("a=1; sid={token}").parse().expect("header"));
        assert_eq!(session_token(&headers).ok(), Some(Some(token)));
        headers.insert(COOKIE, "sid=short".parse().expect("header"));
        assert!(session_token(&headers).is_err());
        let cookie = session_cookie("t", 60, false);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.contains("Max-Age=60"));
        assert!(session_cookie("t", 60, true).ends_with("; Secure"));
    }
}
