//! IndexedDB requests and transactions as futures.
//!
//! A request future resolves from the request's own `success`/`error` event, through a
//! promise and `wasm-bindgen-futures`, both of which continue in microtasks: the transaction
//! is still active then, so code after an `.await` may issue more requests in the same
//! transaction. Writes are never awaited one by one: they are issued together and the
//! transaction's `complete` is awaited once.

use std::future::Future;

use chat_sync::store::StoreError;
use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbObjectStore, IdbRequest, IdbTransaction};

use crate::error::{store_error, DomError};

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

// The request helpers every IndexedDB module of this crate issues its reads and writes with:
// each maps a failure to the store error of the named operation.

pub(crate) fn object_store(
    tx: &IdbTransaction,
    name: &str,
    operation: &'static str,
) -> Result<IdbObjectStore, StoreError> {
    tx.object_store(name)
        .map_err(|e| store_error(operation, &e))
}

pub(crate) fn put(
    store: &IdbObjectStore,
    value: &JsValue,
    operation: &'static str,
) -> Result<(), StoreError> {
    store
        .put(value)
        .map(|_| ())
        .map_err(|e| store_error(operation, &e))
}

/// Asks the browser to commit `tx` once its requests are done, without first delivering
/// every request's success event to this thread and seeing that no further request followed
/// (what an automatic commit waits for). A transaction no longer active (already committing)
/// refuses, and commits on its own as before.
// web-sys marks `commit()` deprecated, but it is IndexedDB 3.0, in Chrome since 76 and
// Firefox since 74.
#[allow(deprecated)]
pub(crate) fn request_commit(tx: &IdbTransaction) {
    let _ = tx.commit();
}

/// Commits `tx` ([`request_commit`]) and waits for the outcome.
pub(crate) async fn commit(tx: &IdbTransaction, operation: &'static str) -> Result<(), StoreError> {
    request_commit(tx);
    committed(tx, operation).await
}

/// Waits for the outcome of `tx`, whose commit was asked for ([`request_commit`]).
pub(crate) async fn committed(
    tx: &IdbTransaction,
    operation: &'static str,
) -> Result<(), StoreError> {
    transaction_done(tx)
        .await
        .map_err(|e: DomError| e.into_store_error(operation))
}

pub(crate) fn get(
    store: &IdbObjectStore,
    key: &JsValue,
    operation: &'static str,
) -> Result<impl Future<Output = Result<JsValue, StoreError>>, StoreError> {
    let req = store.get(key).map_err(|e| store_error(operation, &e))?;
    let pending = request(&req);
    Ok(async move { pending.await.map_err(|e| e.into_store_error(operation)) })
}

pub(crate) fn get_all(
    store: &IdbObjectStore,
    query: &JsValue,
    operation: &'static str,
) -> Result<impl Future<Output = Result<js_sys::Array, StoreError>>, StoreError> {
    let req = store
        .get_all_with_key(query)
        .map_err(|e| store_error(operation, &e))?;
    let pending = request(&req);
    Ok(async move {
        let value = pending.await.map_err(|e| e.into_store_error(operation))?;
        Ok(value.dyn_into::<js_sys::Array>().unwrap_or_default())
    })
}

/// `store.getAllRecords({query, count, direction: "prev"})` when the browser has it (the
/// newest `count` records in one request), `None` otherwise.
pub(crate) fn get_all_records_prev(
    store: &IdbObjectStore,
    query: &JsValue,
    count: u64,
    operation: &'static str,
) -> Result<Option<impl Future<Output = Result<js_sys::Array, StoreError>>>, StoreError> {
    let Ok(method) = js_sys::Reflect::get(store, &JsValue::from_str("getAllRecords")) else {
        return Ok(None);
    };
    let Ok(method) = method.dyn_into::<js_sys::Function>() else {
        return Ok(None);
    };
    let options = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        js_sys::Reflect::set(&options, &JsValue::from_str(key), value)
            .map_err(|e| store_error(operation, &e))
    };
    set("query", query)?;
    set("count", &JsValue::from_f64(count as f64))?;
    set("direction", &JsValue::from_str("prev"))?;
    let req: web_sys::IdbRequest = method
        .call1(store, &options)
        .map_err(|e| store_error(operation, &e))?
        .unchecked_into();
    let pending = request(&req);
    Ok(Some(async move {
        let value = pending.await.map_err(|e| e.into_store_error(operation))?;
        Ok(value.dyn_into::<js_sys::Array>().unwrap_or_default())
    }))
}

pub(crate) fn get_all_unbounded(
    store: &IdbObjectStore,
    keys: bool,
    operation: &'static str,
) -> Result<impl Future<Output = Result<js_sys::Array, StoreError>>, StoreError> {
    let req = if keys {
        store.get_all_keys()
    } else {
        store.get_all()
    }
    .map_err(|e| store_error(operation, &e))?;
    let pending = request(&req);
    Ok(async move {
        let value = pending.await.map_err(|e| e.into_store_error(operation))?;
        Ok(value.dyn_into::<js_sys::Array>().unwrap_or_default())
    })
}
