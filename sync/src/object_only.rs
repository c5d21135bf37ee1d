//! Structs that decode from JSON objects only, never from arrays.
//!
//! serde's derive lets a struct decode from a map *or* a sequence (`{"id": "a", "seq": 4}` or
//! `["a", 4]`), and `serde_json` honours both: its `deserialize_struct` calls the derived
//! visitor's `visit_map` and its `visit_seq`. Nothing on our wire is a struct written as an
//! array, so the second path only ever decodes a malformed or hostile reply, and it costs code
//! in the browser builds: every struct's `visit_seq`, and every field type reached from it,
//! compiled for nothing.
//!
//! A struct listed in [`object_only_serde!`] derives with `#[serde(remote = "Self")]`, which
//! turns the derived code into the inherent `Type::serialize` and `Type::deserialize`. The
//! macro's trait impls call them, the deserializer wrapped in [`ObjectOnly`], whose
//! `deserialize_struct` asks for a map. A struct sent as an array is then refused with
//! serde's "invalid type: sequence, expected struct …". The serialized form is unchanged.
//!
//! The derive's inherent `Type::deserialize` stays public beside the trait's and still reads
//! arrays: code decodes through the trait (`serde_json::from_str`, a field of another
//! struct), never by calling the inherent function.

use serde::de::{Deserializer, Visitor};

/// A deserializer that reads every struct as a map: `deserialize_struct` becomes
/// `deserialize_map` of the deserializer it wraps; every other request passes through as is.
pub struct ObjectOnly<D>(pub D);

/// Forwards each listed `Deserializer` method to the wrapped deserializer unchanged.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }
}

/// Implements `Serialize` and `Deserialize` for structs derived with
/// `#[serde(remote = "Self")]`: serialization as derived, deserialization from a JSON object
/// only (see the module's documentation).
#[macro_export]
macro_rules! object_only_serde {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl serde::Serialize for $ty {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    <$ty>::serialize(self, serializer)
                }
            }

            impl<'de> serde::Deserialize<'de> for $ty {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    <$ty>::deserialize($crate::object_only::ObjectOnly(deserializer))
                }
            }
        )+
    };
}
