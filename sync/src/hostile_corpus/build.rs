//! Building hostile documents: a good value serialized with one part replaced, by a JSON
//! pointer, with raw text (which may be no valid JSON, or JSON no Rust type can hold).

use serde_json::Value;

use crate::protocol::MAX_ATTACHMENTS;

/// `value` as JSON text with the value at `pointer` replaced by the raw JSON text `raw`
/// (which may be no valid JSON value at all, or one no Rust type can hold).
pub fn with_raw(value: &Value, pointer: &str, raw: &str) -> String {
    const MARK: &str = "\u{1}hostile-corpus-mark\u{1}";
    let mut value = value.clone();
    match value.pointer_mut(pointer) {
        Some(slot) => *slot = Value::String(MARK.into()),
        None => panic!("the corpus points at a missing field {pointer}"),
    }
    let marked = serde_json::to_string(&Value::String(MARK.into())).unwrap_or_default();
    value.to_string().replacen(&marked, raw, 1)
}

/// `value` with the value at `pointer` replaced by `new`, as JSON text.
pub fn with(value: &Value, pointer: &str, new: Value) -> String {
    with_raw(value, pointer, &new.to_string())
}

/// `value` as a JSON value.
pub fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The first attachment of `message` (or a sample one) repeated one more time than a
/// message may carry.
pub fn too_many_attachments(message: &Value) -> Value {
    let attachment = match &message["attachments"][0] {
        Value::Null => serde_json::json!({
            "media_id": "med_1", "name": "a.txt", "mime": "text/plain", "size": 1
        }),
        first => first.clone(),
    };
    Value::Array(vec![attachment; MAX_ATTACHMENTS + 1])
}

/// `value` with the value at `pointer` replaced by `new`.
pub fn with_value(value: &Value, pointer: &str, new: Value) -> Value {
    let mut value = value.clone();
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
    }
    value
}
