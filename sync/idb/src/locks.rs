//! Cross-context mutual exclusion with the Web Locks API (`navigator.locks.request`), which
//! exists in windows, dedicated workers and service workers alike.
//!
//! A lock is held while the Rust body runs. The browser releases it when the holding context
//! dies (a tab closed mid-fetch, a service worker stopped), and this module releases it when
//! the body's future is dropped (a cancelled sync), so a dead holder never blocks others.

use std::future::Future;

use futures::future::{select, Either};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::SyncError;
use crate::platform;

/// Resolves the promise the lock callback returned, releasing the lock, when dropped.
struct ReleaseOnDrop(Function);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

/// Whether this context has the Web Locks API.
pub fn available() -> bool {
    platform::navigator_property("locks").is_some()
}

/// Runs `body` while holding the exclusive lock `name`.
///
/// Without the Web Locks API (very old browsers) the body runs unlocked, and a warning is
/// logged: single-flight then holds within this context only.
pub async fn with_lock<T>(name: &str, body: impl Future<Output = T>) -> Result<T, SyncError> {
    let Some(locks) = platform::navigator_property("locks") else {
        tracing::warn!(
            lock = name,
            "navigator.locks is missing: running without a cross-context lock"
        );
        return Ok(body.await);
    };
    let request: Function = Reflect::get(&locks, &JsValue::from_str("request"))
        .and_then(|f| f.dyn_into())
        .map_err(|e| SyncError::platform("navigator.locks.request", &e))?;

    let (acquired, signal_acquired) = platform::deferred();
    let (released, release) = platform::deferred();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let _ = signal_acquired.call0(&JsValue::UNDEFINED);
        released.into()
    });
    let finished: Promise = request
        .call2(&locks, &JsValue::from_str(name), &callback)
        .and_then(|p| p.dyn_into())
        .map_err(|e| SyncError::platform("navigator.locks.request", &e))?;
    let guard = ReleaseOnDrop(release);

    // The request settles only after the release, so a rejection seen before the lock was
    // granted is a refusal (for example a `SecurityError` in an opaque origin).
    match select(JsFuture::from(acquired), JsFuture::from(finished.clone())).await {
        Either::Left(_) => {}
        Either::Right((Err(error), _)) => {
            return Err(SyncError::platform("navigator.locks.request", &error))
        }
        Either::Right((Ok(_), _)) => {}
    }
    let output = body.await;
    drop(guard);
    // Wait for the browser to finish the release so a following request queues behind it.
    let _ = JsFuture::from(finished).await;
    Ok(output)
}
