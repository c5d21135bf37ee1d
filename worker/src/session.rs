//! Who is signed in, as seen from the service worker.
//!
//! The session cookie is HttpOnly, so the worker cannot read it; instead it asks the server,
//! `GET /api/auth/me` (same origin, with credentials), on every push. That costs one small
//! local request per push but is never stale: after a sign-out, or another agent signing in
//! on a shared machine, a push is never written into the previous agent's cache. When the
//! server cannot be reached (a transient failure), the last confirmed answer is used: kept in
//! memory and in the Cache Storage entry [`SESSION_CACHE`] so a worker started cold while the
//! server is down still knows whose cache to write (the push service reached us, so the push
//! is real). A 401/403 means signed out: the remembered user is forgotten and the push dropped.

use std::cell::RefCell;

use chat_sync::protocol::CurrentUser;
use chat_sync_idb::FetchError;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::error::WorkerError;

thread_local! {
    static LAST_KNOWN: RefCell<Option<CurrentUser>> = const { RefCell::new(None) };
}

/// The Cache Storage cache holding the last confirmed user (one entry, [`SESSION_KEY`]).
pub const SESSION_CACHE: &str = "supportdesk-worker-session";
/// The key of that entry.
pub const SESSION_KEY: &str = "/__worker/session";

/// Forgets the last answer (the app says the session changed, or the server said 401/403).
pub async fn forget() {
    LAST_KNOWN.with(|last| last.borrow_mut().take());
    if let Some(caches) = caches() {
        let _ = JsFuture::from(caches.delete(SESSION_CACHE)).await;
    }
}

/// The user this worker last confirmed, asking the server only when it knows none. For
/// requests that must not cost a round trip each (media): a sign-out posts
/// `session-changed`, which clears it.
pub async fn known_user() -> Result<CurrentUser, WorkerError> {
    if let Some(user) = LAST_KNOWN.with(|last| last.borrow().clone()) {
        return Ok(user);
    }
    current_user().await
}

/// The agent this worker last confirmed (in memory, or remembered in Cache Storage by an
/// earlier life of the worker), without asking the server.
pub async fn last_confirmed() -> Option<CurrentUser> {
    match LAST_KNOWN.with(|last| last.borrow().clone()) {
        Some(user) => Some(user),
        None => remembered().await,
    }
}

/// Keeps `user` in memory as the last confirmed answer; whether it differs from the one
/// kept before.
fn keep(user: &CurrentUser) -> bool {
    LAST_KNOWN.with(|last| {
        let changed = last.borrow().as_ref() != Some(user);
        *last.borrow_mut() = Some(user.clone());
        changed
    })
}

/// The desk of this origin says the server just confirmed `user`: remember it as the last
/// confirmed answer, so a worker that has never asked itself can still attribute a push that
/// arrives while the server is unreachable. The server's own answer still comes first on
/// every push; this only fills the fallback.
pub async fn confirmed_by_page(user: CurrentUser) {
    if keep(&user) {
        tracing::info!(user = %user.id, "the desk confirmed the signed-in agent");
    }
    // Written even when unchanged in memory: the stored copy may have been deleted.
    remember(&user).await;
}

/// The signed-in user.
pub async fn current_user() -> Result<CurrentUser, WorkerError> {
    match fetch_me().await {
        Ok(user) => {
            if keep(&user) {
                remember(&user).await;
            }
            Ok(user)
        }
        Err(FetchError::Refused { status, detail, .. }) => {
            forget().await;
            Err(WorkerError::SignedOut(format!("{status}: {detail}")))
        }
        Err(error) => match last_confirmed().await {
            Some(user) => {
                tracing::warn!(%error, user = %user.id, "session lookup failed; using the last confirmed user");
                Ok(user)
            }
            None => Err(WorkerError::Session(error)),
        },
    }
}

fn caches() -> Option<web_sys::CacheStorage> {
    js_sys::global()
        .dyn_into::<web_sys::WorkerGlobalScope>()
        .ok()?
        .caches()
        .ok()
}

async fn session_cache() -> Option<web_sys::Cache> {
    JsFuture::from(caches()?.open(SESSION_CACHE))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// Stores the confirmed user; a failure only costs the offline fallback.
async fn remember(user: &CurrentUser) {
    let Ok(text) = serde_json::to_string(user) else {
        return;
    };
    let Some(cache) = session_cache().await else {
        return;
    };
    let Ok(response) = Response::new_with_opt_str(Some(&text)) else {
        return;
    };
    if let Err(error) = JsFuture::from(cache.put_with_str(SESSION_KEY, &response)).await {
        let error = chat_sync_idb::DomError::from_js(&error);
        tracing::warn!(name = %error.name, message = %error.message, "could not remember the session");
    }
}

async fn remembered() -> Option<CurrentUser> {
    let cache = session_cache().await?;
    let response: Response = JsFuture::from(cache.match_with_str(SESSION_KEY))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    serde_json::from_str(&text).ok()
}

async fn fetch_me() -> Result<CurrentUser, FetchError> {
    // Same origin, with the HttpOnly session cookie the worker cannot read itself.
    chat_sync_idb::http::get_json("/api/auth/me", "current user").await
}
