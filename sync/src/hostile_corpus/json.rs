//! Hostile JSON pieces: sequence numbers no valid seq can be, lone UTF-16 surrogates, and
//! documents that are not the JSON they claim to be.

use super::Hostile;
use crate::protocol::MAX_SEQ;

/// A JSON literal put where a sequence number belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqLiteral {
    /// A short name (`2^53`, `u64::MAX + 1`).
    pub name: &'static str,
    /// The literal as it appears in the JSON text.
    pub json: &'static str,
}

impl SeqLiteral {
    /// The value `serde_json` reads into a `u64`, if any: plain unsigned integers only (a
    /// float, a sign, a string or a number beyond `u64::MAX` is a decoding error).
    pub fn as_u64(&self) -> Option<u64> {
        if self.json.is_empty() || !self.json.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.json.parse().ok()
    }

    /// Whether this literal is a valid message sequence (`1..=MAX_SEQ`).
    pub fn is_valid_seq(&self) -> bool {
        self.as_u64().is_some_and(|s| (1..=MAX_SEQ).contains(&s))
    }
}

/// Sequence literals, valid and not: the edges of `1..=MAX_SEQ` (2^53 - 1, the largest
/// integer a JavaScript number and an IndexedDB key hold exactly), 0, 2^53 and 2^53 + 1
/// (which JavaScript cannot tell apart), `u64::MAX` and beyond, negative, fractional and
/// exponent forms, and other types.
pub fn seq_literals() -> Vec<SeqLiteral> {
    [
        ("1", "1"),
        ("MAX_SEQ (2^53 - 1)", "9007199254740991"),
        ("0", "0"),
        ("2^53", "9007199254740992"),
        ("2^53 + 1", "9007199254740993"),
        ("u64::MAX", "18446744073709551615"),
        ("u64::MAX + 1", "18446744073709551616"),
        ("-1", "-1"),
        ("-0", "-0"),
        ("i64::MIN", "-9223372036854775808"),
        ("1.5", "1.5"),
        ("2.0", "2.0"),
        ("1e3", "1e3"),
        ("1e400", "1e400"),
        ("string", "\"7\""),
        ("null", "null"),
        ("true", "true"),
        ("array", "[1]"),
        ("object", "{\"seq\":1}"),
    ]
    .into_iter()
    .map(|(name, json)| SeqLiteral { name, json })
    .collect()
}

/// JSON string literals (quotes included) holding lone UTF-16 surrogates, which a Rust
/// `String` cannot hold: every decoder refuses them as malformed, never replaces them.
pub fn lone_surrogates() -> Vec<Hostile> {
    vec![
        Hostile::new("lone-high", r#""\ud800""#),
        Hostile::new("lone-low", r#""\udfff""#),
        Hostile::new("high-inside-text", r#""before \ud83d after""#),
        Hostile::new("reversed-pair", r#""\ude00\ud83d""#),
        Hostile::new("two-highs", r#""\ud800\ud800""#),
        Hostile::new("high-then-letter", r#""\ud800\u0041""#),
        Hostile::new("high-at-end", r#""text\ud800""#),
    ]
}

/// A JSON string literal holding a valid surrogate pair (😀): accepted like any text.
pub const SURROGATE_PAIR: &str = r#""\ud83d\ude00 escaped""#;

/// Documents that are not a JSON object of any expected shape: empty, not JSON, truncated,
/// trailing garbage, a byte-order mark, comments, NaN, raw control characters inside a
/// string, other JSON types, nesting far deeper than the parser's recursion limit.
pub fn malformed() -> Vec<Hostile> {
    vec![
        Hostile::new("empty", ""),
        Hostile::new("whitespace", " \n\t"),
        Hostile::new("not-json", "not json at all"),
        Hostile::new("html", "<html><body>502 Bad Gateway</body></html>"),
        Hostile::new("open-brace", "{"),
        Hostile::new("truncated", r#"{"kind":"message","message":{"request_id":"#),
        Hostile::new("trailing-garbage", r#"{} trailing"#),
        Hostile::new("byte-order-mark", "\u{FEFF}{}"),
        Hostile::new("comment", "// comment\n{}"),
        Hostile::new("single-quotes", "{'kind':'hint'}"),
        Hostile::new("nan", r#"{"seq":NaN}"#),
        Hostile::new("raw-control-in-string", "{\"kind\":\"hi\u{1}nt\"}"),
        Hostile::new("null", "null"),
        Hostile::new("true", "true"),
        Hostile::new("number", "42"),
        Hostile::new("string", r#""a string""#),
        Hostile::new("array", "[]"),
        Hostile::new("empty-object", "{}"),
        // Nested far past serde_json's recursion limit (128) inside a field no decoder
        // knows, which it must skip, and small enough to pass the push size limit.
        Hostile::new(
            "deep-arrays",
            format!(r#"{{"deep":{}}}"#, deep_arrays(3_000)),
        ),
        Hostile::new(
            "deep-objects",
            format!(r#"{{"deep":{}}}"#, deep_objects(1_200)),
        ),
    ]
}

/// `depth` nested arrays around a 1.
pub fn deep_arrays(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested objects `{"a":…}` around a 1.
pub fn deep_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_literals_read_as_serde_json_reads_them() {
        for literal in seq_literals() {
            let parsed = serde_json::from_str::<u64>(literal.json).ok();
            // `-0` is the one literal serde_json reads as a u64 (0) that is not plain digits;
            // both say "not a valid seq", which is all a verdict uses.
            if literal.json != "-0" {
                assert_eq!(parsed, literal.as_u64(), "{}", literal.name);
            }
        }
        let valid: Vec<_> = seq_literals()
            .into_iter()
            .filter(SeqLiteral::is_valid_seq)
            .map(|l| l.name)
            .collect();
        assert_eq!(valid, vec!["1", "MAX_SEQ (2^53 - 1)"]);
    }

    #[test]
    fn lone_surrogates_are_refused_and_a_pair_is_text() {
        for literal in lone_surrogates() {
            let error = serde_json::from_str::<String>(&literal.text)
                .expect_err(literal.name)
                .to_string();
            assert!(
                error.contains("surrogate") || error.contains("escape"),
                "{}: {error}",
                literal.name
            );
        }
        assert_eq!(
            serde_json::from_str::<String>(SURROGATE_PAIR)
                .ok()
                .as_deref(),
            Some("😀 escaped")
        );
    }
}
