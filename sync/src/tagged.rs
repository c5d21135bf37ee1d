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
//!
//! Field-less enums (the tags themselves, `SyncState`, `SenderRole`, `NoticeSource`) decode
//! their name through one visitor shared by all of them ([`variant_index`], written with
//! [`deserialize_unit_variants!`]): serde's derive compiles a visitor and an enum access per
//! enum, about 1.3 KB of wasm each.

use std::fmt;

use serde::de::{Deserializer, Error, Visitor};

/// The field `name` that the tag requires, or serde's "missing field" error.
pub fn required<T, E: Error>(field: Option<T>, name: &'static str) -> Result<T, E> {
    field.ok_or_else(|| E::missing_field(name))
}

/// The index in `names` of the variant name a string holds, or serde's "unknown variant"
/// error. One visitor for every field-less enum; see [`deserialize_unit_variants!`].
pub fn variant_index<'de, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    struct Names(&'static [&'static str]);

    impl<'de> Visitor<'de> for Names {
        type Value = usize;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a variant name")
        }

        fn visit_str<E: Error>(self, value: &str) -> Result<usize, E> {
            self.0
                .iter()
                .position(|name| *name == value)
                .ok_or_else(|| E::unknown_variant(value, self.0))
        }
    }

    deserializer.deserialize_str(Names(names))
}

/// Implements `Deserialize` for a field-less, `Copy` enum from the names its `Serialize`
/// writes (`Variant = "name"`), through [`variant_index`].
#[macro_export]
macro_rules! deserialize_unit_variants {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                // A variant left out of the list is a compile error here, not a name that
                // `Serialize` writes and this cannot read.
                let _every_variant_listed = |value: $ty| match value {
                    $($ty::$variant => ()),+
                };
                const NAMES: &[&str] = &[$($name),+];
                let index = $crate::tagged::variant_index(deserializer, NAMES)?;
                Ok([$($ty::$variant),+][index])
            }
        }
    };
}
