//! Decoding of the wire's internally tagged enums (`{"kind": "hint", "seq": 4, …}`) without
//! serde's buffering.
//!
//! `#[serde(tag = "…")]` decodes by first copying the whole object into serde's private
//! `Content` tree, then decoding the variant from that copy. The copy costs an allocation per
//! value, and in the browser builds it costs code: every type inside a tagged variant is
//! compiled a second time against `Content`, about 3 % of the service worker's wasm.
//! So each tagged enum keeps its derived `Serialize` (the wire format is unchanged) and
//! decodes through a flat struct derived beside it: the tag as a field-less enum, every
//! variant's fields as `Option`s. [`required`] then turns a field the tag needs into the
//! error serde gives for a missing field. Unknown fields are ignored, as a tagged enum
//! ignores them. `tests/tagged_enums.rs` checks each enum against the derived format.

use serde::de::Error;

/// The field `name` that the tag requires, or serde's "missing field" error.
pub fn required<T, E: Error>(field: Option<T>, name: &'static str) -> Result<T, E> {
    field.ok_or_else(|| E::missing_field(name))
}
