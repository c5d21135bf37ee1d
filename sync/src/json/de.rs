//! serde's `Deserializer` over a [`Reader`]: values, arrays, objects, keys and enums.

use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, IntoDeserializer as _, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};

use super::read::{eof_value, Number, Reader};
use super::JsonError;

impl<'de> Reader<'de> {
    /// The error for a value of the wrong type where `expected` was asked for, naming the
    /// value found (its text for a string or an integer).
    pub(super) fn wrong_type(&mut self, expected: &dyn serde::de::Expected) -> JsonError {
        let unexpected = match self.peek() {
            None => return eof_value(),
            Some(b'n') => Unexpected::Unit,
            Some(b't') => Unexpected::Bool(true),
            Some(b'f') => Unexpected::Bool(false),
            Some(b'[') => Unexpected::Seq,
            Some(b'{') => Unexpected::Map,
            Some(b'"') => {
                return match self.string() {
                    Ok(text) => JsonError::invalid_type(Unexpected::Str(text), expected),
                    Err(error) => error,
                }
            }
            Some(b'-' | b'0'..=b'9') => match self.number() {
                Ok(Number::Unsigned(value)) => Unexpected::Unsigned(value),
                Ok(Number::Signed(value)) => Unexpected::Signed(value),
                Ok(Number::Other) => Unexpected::Float(0.0),
                Err(error) => return error,
            },
            Some(_) => return JsonError::new("expected value"),
        };
        JsonError::invalid_type(unexpected, expected)
    }

    /// Reads an integer for any integer type (the visitor checks its range).
    fn integer<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, JsonError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => match self.number()? {
                Number::Unsigned(value) => visitor.visit_u64(value),
                Number::Signed(value) => visitor.visit_i64(value),
                Number::Other => Err(JsonError::invalid_type(Unexpected::Float(0.0), &visitor)),
            },
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    /// Reads a string for a visitor of strings (or of a name). Always as a copy, never
    /// borrowed from the text: one visit per visitor instead of two, and every type read
    /// owns its strings (see [`super::from_str`]).
    fn text<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, JsonError> {
        match self.peek() {
            Some(b'"') => visitor.visit_str(self.string()?),
            _ => Err(self.wrong_type(&visitor)),
        }
    }
}

/// Deserializer methods that all read an integer.
macro_rules! integers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
                self.integer(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.peek() {
            Some(b'n') => {
                self.literal("null")?;
                visitor.visit_unit()
            }
            Some(b't' | b'f') => self.deserialize_bool(visitor),
            Some(b'"') => self.text(visitor),
            Some(b'-' | b'0'..=b'9') => self.integer(visitor),
            Some(b'[') => self.deserialize_seq(visitor),
            Some(b'{') => self.deserialize_map(visitor),
            Some(_) => Err(JsonError::new("expected value")),
            None => Err(eof_value()),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.peek() {
            Some(b't') => {
                self.literal("true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                visitor.visit_bool(false)
            }
            _ => Err(self.wrong_type(&visitor)),
        }
    }

    // Every integer type, and the float types (which a float never reaches: see the
    // module's documentation), read an integer; the visitor checks its range.
    integers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.text(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.text(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.text(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            visitor.visit_unit()
        } else {
            Err(self.wrong_type(&visitor))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.open(b'[', &visitor)?;
        let read = visitor.visit_seq(Elements {
            reader: &mut *self,
            first: true,
        });
        self.shut(read, b']')
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.open(b'{', &visitor)?;
        let read = visitor.visit_map(Entries {
            reader: &mut *self,
            first: true,
        });
        self.shut(read, b'}')
    }

    /// A struct is an object, never an array.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_map(visitor)
    }

    /// `"Variant"` for a unit variant, `{"Variant": value}` for any other.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        match self.peek() {
            Some(b'"') => {
                let name = self.string()?.to_owned();
                visitor.visit_enum(name.into_deserializer())
            }
            _ => {
                self.open(b'{', &visitor)?;
                let read = visitor.visit_enum(&mut *self);
                self.shut(read, b'}')
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.text(visitor)
    }

    /// Skips the value, however deep, without reading it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.skip_value()?;
        visitor.visit_unit()
    }
}

/// The elements of an array, after its `[`.
struct Elements<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = JsonError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, JsonError> {
        if !self.reader.next_item(&mut self.first, b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// The entries of an object, after its `{`.
struct Entries<'a, 'de> {
    reader: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, JsonError> {
        if !self.reader.next_item(&mut self.first, b'}')? {
            return Ok(None);
        }
        seed.deserialize(Key(&mut *self.reader)).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, JsonError> {
        self.reader.colon()?;
        seed.deserialize(&mut *self.reader)
    }
}

/// An object's key: always a string, read as one whatever the key's type asks for (a key
/// type that is not a string refuses it).
struct Key<'a, 'de>(&'a mut Reader<'de>);

impl<'de> Deserializer<'de> for Key<'_, 'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.0.text(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// `{"Variant": value}`: the variant's name, then its value.
impl<'de> EnumAccess<'de> for &mut Reader<'de> {
    type Error = JsonError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), JsonError> {
        if self.peek() != Some(b'"') {
            return Err(JsonError::new("key must be a string"));
        }
        let variant = seed.deserialize(Key(&mut *self))?;
        self.colon()?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for &mut Reader<'de> {
    type Error = JsonError;

    fn unit_variant(self) -> Result<(), JsonError> {
        serde::de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, JsonError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.deserialize_map(visitor)
    }
}
