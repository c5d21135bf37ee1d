//! Install, activate and page messages.
//!
//! Install caches the new build's shell. On a first install (no active worker) it calls
//! `skipWaiting()` so the first page is controlled at once. An update (an older worker is
//! active) waits: the open tabs keep the shell they loaded, and the page, seeing
//! `registration.waiting` (see `chat_sync_idb::update`), offers to update and posts
//! `{"type": "skip-waiting"}`; the new worker then activates, deletes older shell caches and
//! claims the pages (which get `controllerchange` and reload). The cache schema is versioned
//! and migrated by `chat-sync-idb`, so an old page and a new worker can share it.
//!
//! A page posts `{"type": "session-changed"}` after a sign-in or sign-out: the worker drops
//! its cached user and runtime. The desk posts `{"type": "session-confirmed", "user": {…}}`
//! once the server confirmed its agent: the worker remembers that agent (see `session`).
//! A page asks for push with `{"type": "subscribe-push", "timeout_ms": …}` and a port, after
//! the agent granted the permission there: the worker subscribes, registers the subscription
//! with the server and answers on the port. A page whose live worker could not start posts
//! `{"type": "catch-up"}` and `{"type": "send-outbox"}`: the worker catches the agent's cache
//! up and sends the outbox for it, as a Background Sync does. These are the core's typed
//! [`PageMessage`]s, decoded in one place.

use chat_sync::notice::PageMessage;
use chat_sync_idb::push_subscription::{self, PushSubscribeOutcome};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerGlobalScope;

use crate::error::WorkerError;
use crate::{session, state};

fn scope() -> Result<ServiceWorkerGlobalScope, WorkerError> {
    chat_sync_idb::platform::global()
        .dyn_into()
        .map_err(|e| WorkerError::js(&e))
}

/// `install`: cache the app shell of `build`, then skip waiting on a first install only. A
/// shell that cannot be cached fails the install (the browser keeps the previous worker and
/// retries later).
pub async fn install(_event: web_sys::ExtendableEvent, build: &str) -> Result<(), WorkerError> {
    crate::shell::precache(build).await?;
    let scope = scope()?;
    if scope.registration().active().is_some() {
        chat_sync_idb::log_info!(
            build,
            "update installed: waiting until the page asks to take over"
        );
        return Ok(());
    }
    skip_waiting(&scope).await
}

async fn skip_waiting(scope: &ServiceWorkerGlobalScope) -> Result<(), WorkerError> {
    let promise = scope.skip_waiting().map_err(|e| WorkerError::js(&e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| WorkerError::js(&e))?;
    Ok(())
}

/// `activate`: delete older shells, take control of open pages.
pub async fn activate(_event: web_sys::ExtendableEvent, build: &str) -> Result<(), WorkerError> {
    if let Err(error) = crate::shell::delete_old(build).await {
        chat_sync_idb::log_warn!(%error, "could not delete older app shells");
    }
    // Media cached by an older release may lack the headers that keep it inert.
    if let Err(error) = chat_sync_idb::media::delete_legacy_caches().await {
        chat_sync_idb::log_warn!(%error, "could not delete older media caches");
    }
    JsFuture::from(scope()?.clients().claim())
        .await
        .map_err(|e| WorkerError::js(&e))?;
    chat_sync_idb::log_info!("service worker active");
    Ok(())
}

/// `message`: a [`PageMessage`] from a page of this origin (a structured object, or its
/// JSON text); anything else is logged and changes nothing.
pub async fn message(event: web_sys::ExtendableMessageEvent) -> Result<(), WorkerError> {
    let data = event.data();
    let text = match data.as_string() {
        Some(text) => text,
        None => js_sys::JSON::stringify(&data)
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
    };
    let message = match chat_sync::notice::decode::<PageMessage>(&text, "page message") {
        Ok(message) => message,
        Err(error) => {
            chat_sync_idb::log_warn!(%error, "ignoring a message from a page");
            return Ok(());
        }
    };
    match message {
        PageMessage::SessionChanged => {
            session::forget().await;
            state::forget();
            crate::notify::close_all().await;
            chat_sync_idb::log_info!("session changed: cached user dropped");
        }
        PageMessage::SessionConfirmed { user } => session::confirmed_by_page(user).await,
        PageMessage::SkipWaiting => {
            chat_sync_idb::log_info!("the page asked the waiting release to take over");
            skip_waiting(&scope()?).await?;
        }
        PageMessage::SubscribePush { timeout_ms } => subscribe_push(&event, timeout_ms).await,
        PageMessage::CatchUp => {
            crate::sync::catch_up_for_page().await?;
        }
        PageMessage::SendOutbox => {
            crate::sync::send_for_page().await?;
        }
        PageMessage::LoadOlder { request_id } => {
            crate::sync::load_older_for_page(&request_id).await?;
        }
    }
    Ok(())
}

/// The longest wait on the browser a page may ask of [`subscribe_push`]: the event keeps the
/// worker alive meanwhile, so a page must not hold it up for long.
const SUBSCRIBE_TIMEOUT_CAP_MS: u32 = 30_000;

/// A page asked for push ([`PageMessage::SubscribePush`], after the permission was granted
/// there): subscribes, registers the subscription for the session's agent, and answers on the
/// message's port. Without a port the outcome is only logged.
async fn subscribe_push(event: &web_sys::ExtendableMessageEvent, timeout_ms: u32) {
    let timeout_ms = i32::try_from(timeout_ms.min(SUBSCRIBE_TIMEOUT_CAP_MS)).unwrap_or(0);
    let outcome = match chat_sync_idb::platform::global_property("registration") {
        Some(registration) => {
            // Renewing with no subscription handed over subscribes (or reuses the current
            // subscription) and registers it: the same code `pushsubscriptionchange` runs.
            push_subscription::renew_push_subscription(&registration, "", None, None, timeout_ms)
                .await
        }
        None => PushSubscribeOutcome::Unsupported,
    };
    let port = event.ports().get(0);
    let post = chat_sync_idb::service_worker::property(&port, "postMessage")
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let answered = post.is_some_and(|post| {
        post.call1(&port, &JsValue::from_str(&outcome.to_reply()))
            .is_ok()
    });
    if !answered {
        chat_sync_idb::log_warn!("push subscription asked without a port to answer on");
    }
}
