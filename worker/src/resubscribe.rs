//! `pushsubscriptionchange`: the browser replaced (or expired) the push subscription. The
//! worker registers the new one with the server (subscribing again with the server's VAPID
//! key when the browser handed none over) and deletes the old endpoint, so pushes keep
//! arriving with no tab open. The work is in
//! [`chat_sync_idb::push_subscription::renew_push_subscription`], shared with the app.

use chat_sync_idb::platform;
use chat_sync_idb::push_subscription::{renew_push_subscription, PushSubscribeOutcome};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::WorkerError;

/// How long the worker waits on the browser's push manager (it may never answer without a
/// push service); the event's `waitUntil` keeps the worker alive meanwhile.
const TIMEOUT_MS: i32 = 10_000;

/// Handles the event; the outcome is logged (there is nobody to tell).
pub async fn handle(event: web_sys::ExtendableEvent) -> Result<(), WorkerError> {
    let read = |key: &str| {
        Reflect::get(&event, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_null() && !v.is_undefined())
    };
    let old_endpoint = read("oldSubscription").and_then(|old| {
        Reflect::get(&old, &JsValue::from_str("endpoint"))
            .ok()
            .and_then(|e| e.as_string())
    });
    let new_subscription = read("newSubscription");
    let Some(registration) = platform::global_property("registration") else {
        chat_sync_idb::log_warn!("pushsubscriptionchange outside a service worker: ignored");
        return Ok(());
    };
    let outcome = renew_push_subscription(
        &registration,
        "",
        old_endpoint.clone(),
        new_subscription,
        TIMEOUT_MS,
    )
    .await;
    match outcome {
        PushSubscribeOutcome::Subscribed => {
            chat_sync_idb::log_info!(old = ?old_endpoint, "push subscription renewed")
        }
        other => {
            chat_sync_idb::log_warn!(outcome = ?other, "push subscription not renewed; the app subscribes again on its next start")
        }
    }
    Ok(())
}
