//! Background Sync: asks the service worker to flush the outbox when the network is back,
//! where the browser has it.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::SYNC_TAG;
use crate::error::SyncError;
use crate::platform;

/// Asks the service worker to flush the outbox when the network is back, even with every tab
/// closed (Background Sync, tag [`SYNC_TAG`]). Returns whether it was registered: `false`
/// where the browser has no `SyncManager` (Firefox, Safari) or no active worker, which is not
/// an error (the app then flushes on start and on `online`).
pub async fn request_background_sync() -> Result<bool, SyncError> {
    if platform::global_property("SyncManager").is_none() {
        return Ok(false);
    }
    let registration = match platform::global_property("registration") {
        // In a service worker, `self.registration`.
        Some(registration) => registration,
        None => {
            let Some(container) = platform::navigator_property("serviceWorker") else {
                return Ok(false);
            };
            let ready: Promise = Reflect::get(&container, &JsValue::from_str("ready"))
                .and_then(|p| p.dyn_into())
                .map_err(|e| SyncError::platform("navigator.serviceWorker.ready", &e))?;
            // `ready` never settles on a page without a worker: give up after a while.
            let timeout = Box::pin(platform::sleep(3_000));
            match futures::future::select(JsFuture::from(ready), timeout).await {
                futures::future::Either::Left((Ok(registration), _)) => registration,
                futures::future::Either::Left((Err(error), _)) => {
                    return Err(SyncError::platform("navigator.serviceWorker.ready", &error))
                }
                futures::future::Either::Right(_) => return Ok(false),
            }
        }
    };
    let Ok(sync) = Reflect::get(&registration, &JsValue::from_str("sync")) else {
        return Ok(false);
    };
    if sync.is_undefined() || sync.is_null() {
        return Ok(false);
    }
    let register: Function = Reflect::get(&sync, &JsValue::from_str("register"))
        .and_then(|f| f.dyn_into())
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    let promise: Promise = register
        .call1(&sync, &JsValue::from_str(SYNC_TAG))
        .and_then(|p| p.dyn_into())
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| SyncError::platform("registration.sync.register", &e))?;
    Ok(true)
}
