//! Conversions between the core's types and IndexedDB records (structured-clone objects,
//! through JSON text, written by `chat_sync::json::to_string` and read by `chat_sync::json`,
//! in every context), and the keys of the `messages` store.
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

/// Encodes a value as a record (a plain object).
///
/// The value goes through JSON text and one `JSON.parse`: two boundary crossings instead of
/// one per field, which is what makes Rust writes keep pace with plain JavaScript. Every
/// number in a record fits a JavaScript number (seqs are at most 2^53 - 1, validated by
/// the core).
pub fn encode<T: Serialize>(value: &T, operation: &'static str) -> Result<JsValue, StoreError> {
    parse_record(chat_sync::json::to_string(value), operation)
}

/// The record that JSON `text` describes. Kept out of [`encode`], which is compiled once per
/// type, so that only its JSON write is.
fn parse_record(
    text: Result<String, chat_sync::json::WriteError>,
    operation: &'static str,
) -> Result<JsValue, StoreError> {
    let text = text.map_err(|e| StoreError::Backend {
        operation,
        name: "EncodeError".to_owned(),
        message: e.to_string(),
    })?;
    js_sys::JSON::parse(&text).map_err(|e| crate::error::store_error(operation, &e))
}

/// Encodes many values as an array of records with one `JSON.parse`.
pub fn encode_all<T: Serialize>(
    values: &[T],
    operation: &'static str,
) -> Result<js_sys::Array, StoreError> {
    use wasm_bindgen::JsCast;
    encode(&values, operation)?
        .dyn_into::<js_sys::Array>()
        .map_err(|_| StoreError::Backend {
            operation,
            name: "EncodeError".to_owned(),
            message: "a list did not encode as an array".to_owned(),
        })
}

/// Decodes a record; the error text says what was wrong with it.
///
/// Records go through `JSON.stringify` and the core's reader (`chat_sync::json`), whose
/// errors name the field and what it held. A value JSON cannot express (a `BigInt`, a cycle, `undefined` at the top)
/// was never written by us and is refused as such.
pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    chat_sync::json::from_str(&record_text(value)?).map_err(|e| e.to_string())
}

/// A record as JSON text, or what makes it no JSON value (see [`decode`]). Kept out of
/// [`decode`], which is compiled once per type, so that only its reader call is.
fn record_text(value: JsValue) -> Result<String, String> {
    let text = match js_sys::JSON::stringify(&value) {
        Ok(text) => text.as_string(),
        Err(error) => {
            return Err(format!(
                "not a JSON value: {}",
                crate::error::DomError::from_js(&error).message
            ))
        }
    };
    text.ok_or_else(|| "not a JSON value (undefined or a function)".to_owned())
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
