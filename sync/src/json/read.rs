//! The lexer: whitespace, literals, strings and their escapes, numbers, and skipping a
//! whole value that no type reads.

use super::JsonError;

/// How deep arrays and objects may nest in a value a type reads (as `serde_json`'s limit).
const MAX_DEPTH: u32 = 128;

/// A JSON text being read, and where the reader stands in it.
pub(crate) struct Reader<'de> {
    text: &'de str,
    index: usize,
    /// The arrays and objects a type is reading now, around the reader.
    depth: u32,
    /// A string with escapes, unescaped (a string without any is read from the text).
    scratch: String,
}

/// A number value: an integer a `u64` or an `i64` holds, or anything else (a fraction, an
/// exponent, `-0`, or an integer too large for both), which no type here reads.
pub(super) enum Number {
    Unsigned(u64),
    Signed(i64),
    Other,
}

impl<'de> Reader<'de> {
    pub(crate) fn new(text: &'de str) -> Self {
        Reader {
            text,
            index: 0,
            depth: 0,
            scratch: String::new(),
        }
    }

    /// The byte offset the reader has reached.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The next byte after any whitespace, not consumed; `None` at the end of the text.
    pub(super) fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&byte) = bytes.get(self.index) {
            if !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.index += 1;
        }
        None
    }

    /// Consumes the byte [`Reader::peek`] returned.
    pub(super) fn bump(&mut self) {
        self.index += 1;
    }

    /// Nothing but whitespace may follow the value.
    pub(crate) fn end(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(JsonError::new("trailing characters")),
        }
    }

    /// Enters an array or object a type reads; refused past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(JsonError::new("recursion limit exceeded"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Consumes the colon between an object's key and its value.
    pub(super) fn colon(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b':') => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(JsonError::new("expected `:`")),
            None => Err(eof_value()),
        }
    }

    /// Consumes `word` (`null`, `true` or `false`), whose first byte was peeked.
    pub(super) fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        let end = self.index + word.len();
        match self.text.as_bytes().get(self.index..end) {
            Some(found) if found == word.as_bytes() => {
                self.index = end;
                Ok(())
            }
            Some(_) => Err(JsonError::new("expected ident")),
            None => Err(eof_value()),
        }
    }

    /// Reads a string whose opening quote was peeked: a slice of the text when it has no
    /// escape, else unescaped in the scratch buffer.
    pub(super) fn string(&mut self) -> Result<&str, JsonError> {
        let text = self.text;
        let bytes = text.as_bytes();
        self.index += 1;
        let mut start = self.index;
        let mut escaped = false;
        self.scratch.clear();
        loop {
            let Some(&byte) = bytes.get(self.index) else {
                return Err(JsonError::new("EOF while parsing a string"));
            };
            match byte {
                b'"' => {
                    // Quotes and backslashes are ASCII, so every slice here falls on
                    // character boundaries of the (valid UTF-8) text.
                    let tail = &text[start..self.index];
                    self.index += 1;
                    if !escaped {
                        return Ok(tail);
                    }
                    self.scratch.push_str(tail);
                    return Ok(&self.scratch);
                }
                b'\\' => {
                    self.scratch.push_str(&text[start..self.index]);
                    escaped = true;
                    let unescaped = self.escape()?;
                    self.scratch.push(unescaped);
                    start = self.index;
                }
                0..=0x1F => {
                    return Err(JsonError::new(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ))
                }
                _ => self.index += 1,
            }
        }
    }

    /// Reads the escape at the reader (its backslash) and returns the character it stands for.
    fn escape(&mut self) -> Result<char, JsonError> {
        let at = self.index;
        let Some(&kind) = self.text.as_bytes().get(at + 1) else {
            return Err(JsonError::new("EOF while parsing a string"));
        };
        self.index = at + 2;
        let unit = match kind {
            b'"' => return Ok('"'),
            b'\\' => return Ok('\\'),
            b'/' => return Ok('/'),
            b'b' => return Ok('\u{8}'),
            b'f' => return Ok('\u{c}'),
            b'n' => return Ok('\n'),
            b'r' => return Ok('\r'),
            b't' => return Ok('\t'),
            b'u' => self.hex4()?,
            _ => return Err(JsonError::new("invalid escape")),
        };
        let lone = || {
            JsonError::new(format!(
                "a \\u{unit:04x} escape at byte {at} is a lone UTF-16 surrogate, which is not \
                 Unicode text"
            ))
        };
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.text.as_bytes().get(self.index..self.index + 2) != Some(b"\\u") {
                    return Err(lone());
                }
                self.index += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(lone());
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(lone()),
            _ => unit,
        };
        // Every value left is a Unicode scalar value: surrogates were paired or refused.
        char::from_u32(code).ok_or_else(lone)
    }

    /// Reads the four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let Some(&digit) = self.text.as_bytes().get(self.index) else {
                return Err(JsonError::new("EOF while parsing a string"));
            };
            let value = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(JsonError::new("invalid escape")),
            };
            unit = unit * 16 + u32::from(value);
            self.index += 1;
        }
        Ok(unit)
    }

    /// Reads a number whose first byte (`-` or a digit) was peeked.
    pub(super) fn number(&mut self) -> Result<Number, JsonError> {
        let bytes = self.text.as_bytes();
        let negative = bytes.get(self.index) == Some(&b'-');
        if negative {
            self.index += 1;
        }
        let mut value = Some(0u64);
        match bytes.get(self.index) {
            Some(b'0') => {
                self.index += 1;
                if matches!(bytes.get(self.index), Some(b'0'..=b'9')) {
                    return Err(invalid_number());
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(&digit @ b'0'..=b'9') = bytes.get(self.index) {
                    value = value
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_add(u64::from(digit - b'0')));
                    self.index += 1;
                }
            }
            Some(_) => return Err(invalid_number()),
            None => return Err(eof_value()),
        }
        let mut integer = true;
        if bytes.get(self.index) == Some(&b'.') {
            self.index += 1;
            self.digits()?;
            integer = false;
        }
        if matches!(bytes.get(self.index), Some(b'e' | b'E')) {
            self.index += 1;
            if matches!(bytes.get(self.index), Some(b'+' | b'-')) {
                self.index += 1;
            }
            self.digits()?;
            integer = false;
        }
        Ok(match value {
            Some(value) if integer && !negative => Number::Unsigned(value),
            // Down to -2^63: its magnitude, as an i64, wraps to i64::MIN, which is its value.
            // `-0` is no integer here, as in `serde_json` (which reads it as the float -0.0).
            Some(value) if integer && value != 0 && value <= 1 << 63 => {
                Number::Signed((value as i64).wrapping_neg())
            }
            _ => Number::Other,
        })
    }

    /// One or more digits (of a fraction or an exponent).
    fn digits(&mut self) -> Result<(), JsonError> {
        let bytes = self.text.as_bytes();
        match bytes.get(self.index) {
            Some(b'0'..=b'9') => {}
            Some(_) => return Err(invalid_number()),
            None => return Err(eof_value()),
        }
        while matches!(bytes.get(self.index), Some(b'0'..=b'9')) {
            self.index += 1;
        }
        Ok(())
    }

    /// Moves to the next item of an array (`close` is `]`) or object (`}`): `false` at its
    /// closing bracket (left for the caller), `true` before an item, past the comma that
    /// separates it from the one before. An object's item must start with its key.
    pub(super) fn next_item(&mut self, first: &mut bool, close: u8) -> Result<bool, JsonError> {
        let separator = if close == b']' {
            "expected `,` or `]`"
        } else {
            "expected `,` or `}`"
        };
        match self.peek() {
            Some(found) if found == close => return Ok(false),
            Some(b',') if !*first => {
                self.bump();
                if self.peek() == Some(close) {
                    return Err(JsonError::new("trailing comma"));
                }
            }
            Some(_) if *first => {}
            Some(_) => return Err(JsonError::new(separator)),
            None => return Err(unclosed(close)),
        }
        *first = false;
        match self.peek() {
            Some(b'"') => Ok(true),
            Some(_) if close == b']' => Ok(true),
            Some(_) => Err(JsonError::new("key must be a string")),
            None => Err(unclosed(close)),
        }
    }

    /// Opens the array (`open` is `[`) or object (`{`) a type reads, or says what was there
    /// instead.
    pub(super) fn open(
        &mut self,
        open: u8,
        expected: &dyn serde::de::Expected,
    ) -> Result<(), JsonError> {
        if self.peek() != Some(open) {
            return Err(self.wrong_type(expected));
        }
        self.enter()?;
        self.bump();
        Ok(())
    }

    /// Closes what [`Reader::open`] opened once its visitor is done: nothing may be left in
    /// it but the closing bracket.
    pub(super) fn shut<T>(
        &mut self,
        read: Result<T, JsonError>,
        close: u8,
    ) -> Result<T, JsonError> {
        self.depth -= 1;
        let value = read?;
        match self.peek() {
            Some(found) if found == close => {
                self.bump();
                Ok(value)
            }
            Some(_) => Err(JsonError::new("trailing characters")),
            None => Err(unclosed(close)),
        }
    }

    /// Skips one whole value, checking its syntax, with no recursion and no depth limit: a
    /// value no type reads may nest as deep as the text is long. Between items it takes the
    /// same steps as a value a type reads ([`Reader::next_item`]), so both refuse alike.
    pub(super) fn skip_value(&mut self) -> Result<(), JsonError> {
        // The closing brackets of the arrays and objects open around the reader.
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value starts here: an array or object is opened, anything else skipped.
            let mut first = match self.peek() {
                Some(bracket @ (b'[' | b'{')) => {
                    self.bump();
                    open.push(if bracket == b'[' { b']' } else { b'}' });
                    true
                }
                _ => {
                    self.skip_scalar()?;
                    false
                }
            };
            // Go on to the next item of the innermost container, closing each that ends.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                if self.next_item(&mut first, close)? {
                    if close == b'}' {
                        self.string()?;
                        self.colon()?;
                    }
                    break;
                }
                self.bump();
                open.pop();
                first = false;
            }
        }
    }

    /// Skips a literal, a string or a number.
    fn skip_scalar(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'n') => self.literal("null"),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(_) => Err(JsonError::new("expected value")),
            None => Err(eof_value()),
        }
    }
}

pub(super) fn eof_value() -> JsonError {
    JsonError::new("EOF while parsing a value")
}

/// The end of the text inside an array (`close` is `]`) or an object.
fn unclosed(close: u8) -> JsonError {
    JsonError::new(if close == b']' {
        "EOF while parsing a list"
    } else {
        "EOF while parsing an object"
    })
}

fn invalid_number() -> JsonError {
    JsonError::new("invalid number")
}
