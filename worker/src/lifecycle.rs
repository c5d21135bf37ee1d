//! Install, activate and page messages.
//!
//! Install calls `skipWaiting()` (a new build takes over at once; the cache schema is
//! versioned and migrated by `chat-sync-idb`, so an old page and a new worker can share it),
//! activate calls `clients.claim()`. A page posts `{"type": "session-changed"}` after a
//! sign-in or sign-out: the worker drops its cached user and runtime.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerGlobalScope;

use crate::error::WorkerError;
use crate::{session, state};

fn scope() -> Result<ServiceWorkerGlobalScope, WorkerError> {
    js_sys::global().dyn_into().map_err(|e| WorkerError::js(&e))
}

/// `install`: cache the app shell of `build`, then skip waiting. A shell that cannot be
/// cached fails the install (the browser keeps the previous worker and retries later).
pub async fn install(_event: web_sys::ExtendableEvent, build: &str) -> Result<(), WorkerError> {
    crate::shell::precache(build).await?;
    let promise = scope()?.skip_waiting().map_err(|e| WorkerError::js(&e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| WorkerError::js(&e))?;
    Ok(())
}

/// `activate`: delete older shells, take control of open pages.
pub async fn activate(_event: web_sys::ExtendableEvent, build: &str) -> Result<(), WorkerError> {
    if let Err(error) = crate::shell::delete_old(build).await {
        tracing::warn!(%error, "could not delete older app shells");
    }
    JsFuture::from(scope()?.clients().claim())
        .await
        .map_err(|e| WorkerError::js(&e))?;
    tracing::info!("service worker active");
    Ok(())
}

/// `message`.
pub async fn message(event: web_sys::ExtendableMessageEvent) -> Result<(), WorkerError> {
    let kind = Reflect::get(&event.data(), &JsValue::from_str("type"))
        .ok()
        .and_then(|v| v.as_string());
    if kind.as_deref() == Some("session-changed") {
        session::forget().await;
        state::forget();
        tracing::info!("session changed: cached user dropped");
    }
    Ok(())
}
