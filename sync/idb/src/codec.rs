//! Conversions between the core's types and IndexedDB records (structured-clone objects,
//! through `serde-wasm-bindgen`), and the keys of the `messages` store.
//!
//! Decoding is where a damaged record shows up: callers get an error, count it, skip the
//! record and mark its sequence for a fetch, and never panic.

use chat_sync::store::StoreError;
use chat_sync::{RequestId, Seq};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;
use web_sys::IdbKeyRange;

use crate::error::store_error;

/// Records are plain objects; `None` is stored as absent, numbers as JavaScript numbers
/// (every seq is at most 2^53 - 1, which the core validates).
const SERIALIZER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new();

/// Encodes a value as a record.
pub fn encode<T: Serialize>(value: &T, operation: &'static str) -> Result<JsValue, StoreError> {
    value
        .serialize(&SERIALIZER)
        .map_err(|e| StoreError::Backend {
            operation,
            name: "EncodeError".to_owned(),
            message: e.to_string(),
        })
}

/// Decodes a record; the error text says what was wrong with it.
pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

/// The key `[request_id, seq]` of a message.
pub fn message_key(request_id: &RequestId, seq: Seq) -> JsValue {
    let key = js_sys::Array::new();
    key.push(&JsValue::from_str(request_id.as_str()));
    key.push(&JsValue::from_f64(seq as f64));
    key.into()
}

/// The key range of a chat's messages with `from <= seq <= to`.
pub fn message_range(
    request_id: &RequestId,
    from: Seq,
    to: Seq,
    operation: &'static str,
) -> Result<JsValue, StoreError> {
    IdbKeyRange::bound(&message_key(request_id, from), &message_key(request_id, to))
        .map(JsValue::from)
        .map_err(|e| store_error(operation, &e))
}

/// The `seq` field of a raw message record, if it has a readable one (used to name a
/// record that fails to decode).
pub fn raw_seq(value: &JsValue) -> Option<Seq> {
    js_sys::Reflect::get(value, &JsValue::from_str("seq"))
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|v| *v >= 1.0 && v.fract() == 0.0)
        .map(|v| v as Seq)
}
