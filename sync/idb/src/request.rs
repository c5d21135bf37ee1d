//! IndexedDB requests and transactions as futures.
//!
//! A request future resolves from the request's own `success`/`error` event, through a
//! promise and `wasm-bindgen-futures`, both of which continue in microtasks: the transaction
//! is still active then, so code after an `.await` may issue more requests in the same
//! transaction. Writes are never awaited one by one: they are issued together and the
//! transaction's `complete` is awaited once.

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbRequest, IdbTransaction};

use crate::error::DomError;

/// Waits for one request; `Ok(result)` or the request's `DOMException`.
///
/// The event handlers are attached when this is called, not when the future is first
/// polled, so several requests may be issued first and awaited afterwards.
pub fn request(
    request: &IdbRequest,
) -> impl std::future::Future<Output = Result<JsValue, DomError>> {
    let target = request.clone();
    let promise = Promise::new(&mut |resolve, reject| {
        let req = target.clone();
        // One function for both events: exactly one of them fires, once, and the closure
        // frees itself after that single call.
        let settle = Closure::once_into_js(move |_event: JsValue| match req.error() {
            Ok(Some(error)) => {
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            }
            Ok(None) => {
                let result = req.result().unwrap_or(JsValue::UNDEFINED);
                let _ = resolve.call1(&JsValue::UNDEFINED, &result);
            }
            Err(error) => {
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            }
        });
        let settle: &js_sys::Function = settle.unchecked_ref();
        target.set_onsuccess(Some(settle));
        target.set_onerror(Some(settle));
    });
    async move {
        JsFuture::from(promise)
            .await
            .map_err(|e| DomError::from_js(&e))
    }
}

/// Waits for a transaction to commit. An abort yields the transaction's error (e.g.
/// `QuotaExceededError`, or the failed request's `ConstraintError`), or an `AbortError` when
/// it was aborted on purpose.
pub async fn transaction_done(transaction: &IdbTransaction) -> Result<(), DomError> {
    let target = transaction.clone();
    let promise = Promise::new(&mut |resolve, reject| {
        let tx = target.clone();
        let settle = Closure::once_into_js(move |event: web_sys::Event| {
            if event.type_() == "complete" {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            } else {
                let error: JsValue = match tx.error() {
                    Some(error) => error.into(),
                    None => js_sys::Error::new("the transaction was aborted").into(),
                };
                if tx.error().is_none() {
                    let _ = js_sys::Reflect::set(
                        &error,
                        &JsValue::from_str("name"),
                        &JsValue::from_str("AbortError"),
                    );
                }
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            }
        });
        let settle: &js_sys::Function = settle.unchecked_ref();
        target.set_oncomplete(Some(settle));
        target.set_onabort(Some(settle));
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| DomError::from_js(&e))
}
