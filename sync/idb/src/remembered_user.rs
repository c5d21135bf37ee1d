//! The last agent the server confirmed in this browser, kept in one place both the pages
//! and the service worker read: the Cache Storage entry [`REMEMBERED_USER_KEY`] of
//! [`REMEMBERED_USER_CACHE`] (`localStorage` would do for pages, but a worker cannot read it).
//!
//! It is only a fallback for when the server cannot be reached: an installed app started
//! offline opens that agent's cache, and a push reaching a worker while the server is down
//! is still written for that agent. The server's answer always comes first. Sign-out
//! deletes it ([`crate::sign_out`]), so an offline start never opens the previous agent's
//! cache on a shared machine.

use chat_sync::protocol::CurrentUser;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::platform;

/// The Cache Storage cache holding the remembered agent (its name predates the pages using
/// it: installs that remembered an agent keep it).
pub const REMEMBERED_USER_CACHE: &str = "supportdesk-worker-session";
/// The key of its one entry.
pub const REMEMBERED_USER_KEY: &str = "/__worker/session";

/// Where pages of earlier releases remembered the agent (`localStorage`): read once, moved
/// into the cache and removed.
const LEGACY_PAGE_KEY: &str = "supportdesk:last-user";

async fn cache() -> Option<web_sys::Cache> {
    platform::open_cache(REMEMBERED_USER_CACHE).await
}

/// Remembers `user` as the last confirmed agent; a failure only costs the offline fallback.
pub async fn remember(user: &CurrentUser) {
    let Ok(text) = chat_sync::json::to_string(user) else {
        return;
    };
    let Some(cache) = cache().await else {
        crate::log_warn!(
            "no Cache Storage: the signed-in agent is not remembered for offline starts"
        );
        return;
    };
    let Ok(response) = Response::new_with_opt_str(Some(&text)) else {
        return;
    };
    if let Err(error) = JsFuture::from(cache.put_with_str(REMEMBERED_USER_KEY, &response)).await {
        let error = crate::DomError::from_js(&error);
        crate::log_warn!(name = %error.name, message = %error.message, "could not remember the signed-in agent");
    }
}

/// The remembered agent, if any (an unreadable entry counts as none).
pub async fn remembered() -> Option<CurrentUser> {
    if let Some(user) = stored().await {
        return Some(user);
    }
    let legacy = take_legacy()?;
    remember(&legacy).await;
    Some(legacy)
}

/// Forgets the remembered agent (sign-out, or the server said the session ended).
pub async fn forget() -> Result<(), crate::DomError> {
    take_legacy();
    if let Some(caches) = platform::cache_storage() {
        JsFuture::from(caches.delete(REMEMBERED_USER_CACHE))
            .await
            .map_err(|error| crate::DomError::from_js(&error))?;
    }
    Ok(())
}

async fn stored() -> Option<CurrentUser> {
    let cache = cache().await?;
    let response: Response = JsFuture::from(cache.match_with_str(REMEMBERED_USER_KEY))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    chat_sync::json::from_str(&text).ok()
}

/// The agent an earlier release remembered in `localStorage` (pages only), removed there.
fn take_legacy() -> Option<CurrentUser> {
    let storage = platform::local_storage()?;
    let text = storage.get_item(LEGACY_PAGE_KEY).ok().flatten()?;
    let _ = storage.remove_item(LEGACY_PAGE_KEY);
    chat_sync::json::from_str(&text).ok()
}
