//! Values to JSON text: `serde_json` writes, and its error becomes one plain [`WriteError`].
//!
//! `serde_json::Error`'s text is one `Display` over every error it knows, its parse errors'
//! texts and the standard library's I/O error texts included. Showing it for a write linked
//! all of them into both wasm files, for errors a write into a `String` cannot meet. What a
//! write can meet is a map key that is not text, or a refusal by a hand-written `Serialize`:
//! none of the core's types does either, so a [`WriteError`] is a defect, said plainly.

use serde::Serialize;

/// A value that could not be written as JSON text: a map key that is not text, or a
/// refusal by a hand-written `Serialize` (writing into a `String` has no I/O to fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteError;

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not writable as JSON: a map key is not text, or a value was refused")
    }
}

impl std::error::Error for WriteError {}

/// `value` as compact JSON text. `serde_json`'s error is dropped unread: showing it is what
/// would link its texts.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, WriteError> {
    serde_json::to_string(value).map_err(|_| WriteError)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        let value = BTreeMap::from([("a", vec![1u64, 2]), ("b\"", vec![])]);
        assert_eq!(
            to_string(&value).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }

    #[test]
    fn a_key_that_is_not_text_is_refused_with_a_reason() {
        let value = BTreeMap::from([(vec![1u8], 1u8)]);
        let error = to_string(&value).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not writable as JSON: a map key is not text, or a value was refused"
        );
    }
}
