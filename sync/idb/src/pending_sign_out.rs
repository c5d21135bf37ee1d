//! A sign-out the server has not heard of yet.
//!
//! Signing out wipes everything local whatever the network says, but only the server can
//! end the session, and the session cookie is `HttpOnly`: a page cannot delete it. Signed
//! out offline (or with the server down), the browser would keep a live session for
//! whoever opens the app next, who would see the agent's desk refilled from the server, and
//! a push would re-create her wiped cache. So a sign-out the server did not confirm is
//! marked here ([`mark`]), in Cache Storage, which pages and the service worker both read,
//! and holds no data of hers but her id. Until the server confirms it ([`finish`]), no page
//! resumes a session and the service worker takes nobody for signed in.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::{http, platform};

/// The Cache Storage cache holding the mark: a cache of its own, so nothing that forgets the
/// remembered agent (`remembered_user::forget`) forgets the mark with it.
pub const PENDING_SIGN_OUT_CACHE: &str = "supportdesk-pending-sign-out";
/// The key of its one entry.
const KEY: &str = "/__sign-out/pending";

/// What the mark holds: whose sign-out it is.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Self")]
struct Mark {
    user: String,
}

chat_sync::object_only_serde!(Mark);

async fn cache() -> Option<web_sys::Cache> {
    platform::open_cache(PENDING_SIGN_OUT_CACHE).await
}

/// Marks `user_id`'s sign-out as not yet confirmed by the server.
pub async fn mark(user_id: &str) -> Result<(), crate::DomError> {
    let mark = Mark {
        user: user_id.to_owned(),
    };
    let text = chat_sync::json::to_string(&mark)
        .map_err(|error| crate::DomError::new("EncodeError", error.to_string()))?;
    let cache = cache().await.ok_or_else(|| {
        crate::DomError::new(
            "NotSupportedError",
            "no Cache Storage to mark the sign-out in",
        )
    })?;
    let response = Response::new_with_opt_str(Some(&text))
        .map_err(|error| crate::DomError::from_js(&error))?;
    JsFuture::from(cache.put_with_str(KEY, &response))
        .await
        .map_err(|error| crate::DomError::from_js(&error))?;
    Ok(())
}

/// The agent whose sign-out waits for the server, if any. An unreadable mark still counts:
/// it was written for a reason.
pub async fn pending() -> Option<String> {
    let storage = platform::cache_storage()?;
    let has = JsFuture::from(storage.has(PENDING_SIGN_OUT_CACHE))
        .await
        .ok()?;
    if has.as_bool() != Some(true) {
        return None;
    }
    let cache = cache().await?;
    let response: Response = JsFuture::from(cache.match_with_str(KEY))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let user = text
        .and_then(|t| chat_sync::json::from_str::<Mark>(&t).ok())
        .map(|mark| mark.user);
    Some(user.unwrap_or_default())
}

/// Removes the mark (the server ended the session, or someone signed in, which replaced the
/// session cookie).
pub async fn clear() {
    if let Some(storage) = platform::cache_storage() {
        if let Err(error) = JsFuture::from(storage.delete(PENDING_SIGN_OUT_CACHE)).await {
            let error = crate::DomError::from_js(&error);
            crate::log_warn!(name = %error.name, message = %error.message, "could not clear the pending sign-out");
        }
    }
}

/// Ends the session a sign-out left open, if one did: `true` when no sign-out waits any
/// more (none did, or the server has now ended the session), `false` while the server
/// cannot be reached.
pub async fn finish(base_url: &str) -> bool {
    let Some(user) = pending().await else {
        return true;
    };
    let url = format!("{}/api/auth/logout", base_url.trim_end_matches('/'));
    // Named for the agent who signed out: should the browser's session be someone else's
    // by now, the server leaves it alone (401), and nothing of hers is left to end.
    let no_body = wasm_bindgen::JsValue::NULL;
    let send = http::send("POST", &url, None, &no_body);
    let reply = if user.is_empty() {
        send.await
    } else {
        crate::agent::acting_as(&user, send).await
    };
    match reply {
        Ok(reply) if (200..300).contains(&reply.status) => {
            crate::log_info!(%user, "the server ended the session of an earlier sign-out");
            clear().await;
            true
        }
        Ok(reply) if reply.status == 401 => {
            crate::log_info!(%user, "the browser's session is no longer the signed-out agent's");
            clear().await;
            true
        }
        Ok(reply) => {
            crate::log_warn!(%user, status = reply.status, "the server did not end the session of an earlier sign-out yet");
            false
        }
        Err(error) => {
            crate::log_info!(%user, %error, "an earlier sign-out still waits for the network");
            false
        }
    }
}
