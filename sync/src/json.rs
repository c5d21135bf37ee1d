//! JSON text to the core's types: the one reader every JSON input passes, in the browser
//! builds and natively (server replies, pushes, cached records, messages between contexts).
//! Writing goes through [`to_string`] (`write`), which names a failure without `serde_json`'s
//! error texts.
//!
//! It reads what `serde_json` reads, with three deliberate differences:
//!
//! - **No floating-point values.** Nothing in the protocol or the cache is a float. A float
//!   is lexed in full, so a field no decoder knows may hold one and is skipped, but a type
//!   that asks for a value and meets a float gets "invalid type: floating point number".
//!   `serde_json` would convert it, and its errors describe an unexpected value through
//!   serde's `Unexpected` display, whose float arm links the standard library's float
//!   formatting: 9 KB of each wasm file once compressed, for a value we never accept.
//!   [`JsonError`] describes unexpected values itself and never formats a float.
//! - **Structs from objects only.** `deserialize_struct` reads a map, as
//!   [`crate::object_only`] asks of every struct anyway.
//! - **A lone UTF-16 surrogate is named as such.** `\ud800` not followed by a low surrogate
//!   (or a low one alone) is refused with the escape's byte offset; a Rust string cannot
//!   hold it, and it is never replaced.
//!
//! As `serde_json`, it refuses trailing characters and trailing commas, control characters
//! in strings, leading zeros and nesting deeper than 128 arrays or objects in a value a type
//! reads; a value no type reads (an unknown field) is skipped without recursion, however
//! deep. Integers read as `u64` or `i64`; one outside both is refused like a float. Object
//! keys are strings, read as strings.

mod de;
mod read;
mod unexpected;
mod write;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::de::{DeserializeOwned, Expected, Unexpected};

use unexpected::Shown;
pub use write::{to_string, WriteError};

/// Decodes a `T` from JSON `text`; whitespace may surround the value, nothing else. The
/// value owns its strings: none is borrowed from the text.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    let mut reader = read::Reader::new(text);
    match T::deserialize(&mut reader) {
        Ok(value) => reader.end().map(|()| value),
        Err(error) => Err(error),
    }
    .map_err(|error| error.at(text, reader.index()))
}

/// Why a JSON text did not decode, and where: "missing field `seq` at line 1 column 40".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
    /// Line and column (both from 1) of the byte the reader had reached (one past the last
    /// byte at the end of the text), once known.
    position: Option<(usize, usize)>,
}

impl JsonError {
    /// An error with `message` and no position yet ([`from_str`] adds it).
    fn new(message: impl Into<String>) -> Self {
        JsonError {
            message: message.into(),
            position: None,
        }
    }

    /// The error placed at byte `index` of `text`, unless it already has a place.
    fn at(mut self, text: &str, index: usize) -> Self {
        if self.position.is_none() {
            let before = &text.as_bytes()[..index.min(text.len())];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            self.position = Some((line, before.len() - line_start + 1));
        }
        self
    }

    /// The line (from 1) the reader had reached, or 0 when the error has no place.
    pub fn line(&self) -> usize {
        self.position.map_or(0, |(line, _)| line)
    }

    /// The column (from 1) the reader had reached, or 0 when the error has no place.
    pub fn column(&self) -> usize {
        self.position.map_or(0, |(_, column)| column)
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{} at line {line} column {column}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for JsonError {}

impl serde::de::Error for JsonError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        JsonError::new(message.to_string())
    }

    // The two below replace serde's own, which show the value through `Unexpected`'s
    // display, float formatting included.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        JsonError::new(format!(
            "invalid type: {}, expected {expected}",
            Shown(unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        JsonError::new(format!(
            "invalid value: {}, expected {expected}",
            Shown(unexpected)
        ))
    }
}
