//! The service worker, in Rust: receives Web Push with no tab open, writes to IndexedDB and
//! fills sequence gaps with range fetches.
//!
//! `www/sw.js` loads this crate (wasm-bindgen `--target no-modules`, global `wasm_bindgen`)
//! and adds every event listener synchronously on its first evaluation; each listener hands
//! its event to one of the `handle_*` exports below inside `event.waitUntil(...)`. Every
//! export returns a `Promise` that settles only when its work is done (for a push: after the
//! IndexedDB commit and any gap fetch), and never rejects for an expected failure (a
//! malformed payload, a signed-out session, a refused notification): those are logged.
//!
//! Modules: [`push`] (the push pipeline), [`session`] (who is signed in), [`state`] (the
//! per-user runtime kept while the worker is warm), [`notify`] (notifications and clicks),
//! [`lifecycle`] (install, activate, updates, messages), [`shell`] (the app-shell cache),
//! [`media`] (the media cache), [`sync`] (Background Sync: outbox and gaps), [`resubscribe`]
//! (`pushsubscriptionchange`), [`error`].
#![warn(missing_docs)]

pub mod error;
pub mod lifecycle;
pub mod media;
pub mod notify;
pub mod push;
pub mod resubscribe;
pub mod session;
pub mod shell;
pub mod state;
pub mod sync;

use std::future::Future;
use std::pin::Pin;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::error::WorkerError;

/// The allocator: talc, in place of the standard library's dlmalloc, which is about 3 KB
/// larger once compressed and no faster here. Single-threaded WebAssembly, where talc's
/// lock-free cell is sound (its constructor refuses any other target).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Runs once when the module is instantiated: panic hook and console logging.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    chat_sync_idb::console::init(chat_sync_idb::console::Level::Info);
}

/// The promise of a handler's `work`. Every handler goes through this one call of
/// `future_to_promise`: each type it is called with compiles its own copy of the task and
/// promise glue, so the work comes boxed.
fn promise(work: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>) -> Promise {
    wasm_bindgen_futures::future_to_promise(work)
}

/// Turns a handler into the promise given to `waitUntil`: it resolves when the handler is
/// done; an error is logged and the promise still resolves (an event's failure must not make
/// the browser treat the worker as broken; nothing is retried by rejecting).
fn settle<F>(what: &'static str, work: F) -> Promise
where
    F: Future<Output = Result<(), WorkerError>> + 'static,
{
    promise(Box::pin(async move {
        if let Err(error) = work.await {
            chat_sync_idb::log_warn!(event = what, %error, "service worker event failed");
        }
        Ok(JsValue::UNDEFINED)
    }))
}

/// `install`: cache the app shell of `build` (the hash `sw.js` carries); activate at once
/// on a first install, wait while an older worker controls pages (see [`lifecycle`]).
/// Unlike other events, a failure rejects: the browser then keeps the previous worker.
#[wasm_bindgen]
pub fn handle_install(event: web_sys::ExtendableEvent, build: String) -> Promise {
    promise(Box::pin(async move {
        lifecycle::install(event, &build)
            .await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|error| {
                chat_sync_idb::log_error!(%error, "install failed");
                JsValue::from_str(&error.to_string())
            })
    }))
}

/// `activate`: delete older shells, take control of open pages.
#[wasm_bindgen]
pub fn handle_activate(event: web_sys::ExtendableEvent, build: String) -> Promise {
    settle("activate", async move {
        lifecycle::activate(event, &build).await
    })
}

/// `fetch`, for the requests `sw.js` routes here (navigations and app assets): the app shell
/// cache. Rejects when neither the network nor the cache can answer (`sw.js` then falls back
/// to `fetch`).
#[wasm_bindgen]
pub fn handle_fetch(event: web_sys::FetchEvent, build: String) -> Promise {
    let request = event.request();
    promise(Box::pin(async move {
        shell::respond(request, &build)
            .await
            .map(JsValue::from)
            .map_err(|error| JsValue::from_str(&error.to_string()))
    }))
}

/// `push`: decode, cache, repair gaps, notify.
#[wasm_bindgen]
pub fn handle_push(event: web_sys::PushEvent) -> Promise {
    settle("push", push::handle(event))
}

/// `notificationclick`: focus or open the chat.
#[wasm_bindgen]
pub fn handle_notificationclick(event: web_sys::NotificationEvent) -> Promise {
    settle("notificationclick", notify::click(event))
}

/// `pushsubscriptionchange`: register the new subscription with the server (subscribing
/// again with the VAPID key when the browser gave none) and delete the old endpoint.
#[wasm_bindgen]
pub fn handle_pushsubscriptionchange(event: web_sys::ExtendableEvent) -> Promise {
    settle("pushsubscriptionchange", resubscribe::handle(event))
}

/// `fetch` of `GET /api/media/{id}` (routed here by `sw.js`): the media cache. Rejects only
/// when neither the cache nor the network can answer (`sw.js` then falls back to `fetch`).
#[wasm_bindgen]
pub fn handle_media_fetch(event: web_sys::FetchEvent) -> Promise {
    let request = event.request();
    promise(Box::pin(async move {
        media::respond(request)
            .await
            .map(JsValue::from)
            .map_err(|error| JsValue::from_str(&error.to_string()))
    }))
}

/// `sync` (Background Sync, tag `outbox`): send the outbox, repair gaps of cached chats.
/// Rejects when queued messages failed to send for a reason that may pass (and it is not the
/// browser's last chance), so the browser fires the sync again later; any other failure is
/// logged and resolves.
#[wasm_bindgen]
pub fn handle_sync(event: web_sys::ExtendableEvent) -> Promise {
    promise(Box::pin(async move {
        match sync::handle(event).await {
            Ok(sync::After::Done) => Ok(JsValue::UNDEFINED),
            Ok(sync::After::Retry(reason)) => {
                chat_sync_idb::log_info!(%reason, "background sync: asking the browser to retry");
                Err(JsValue::from_str(&reason))
            }
            Err(error) => {
                chat_sync_idb::log_warn!(event = "sync", %error, "service worker event failed");
                Ok(JsValue::UNDEFINED)
            }
        }
    }))
}

/// `message` from a page: `{"type":"session-changed"}` drops the cached user,
/// `{"type":"skip-waiting"}` makes a waiting release take over.
#[wasm_bindgen]
pub fn handle_message(event: web_sys::ExtendableMessageEvent) -> Promise {
    settle("message", lifecycle::message(event))
}
