//! The reader against `serde_json` (the oracle, natively) and against the inputs the module
//! documentation promises to refuse.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use super::from_str;

#[derive(Debug, Deserialize, PartialEq)]
struct Sender {
    id: String,
    seq: u64,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum Shape {
    Dot,
    Line(u32),
    Box { width: u32 },
}

#[test]
fn values_read_as_serde_json_reads_them() {
    for text in [
        "null",
        " true ",
        "false",
        "0",
        "18446744073709551615",
        "-9223372036854775808",
        r#""plain""#,
        r#""tab\tquote\" slash\/ back\\ \u00e9 \ud83d\ude00 \b\f\n\r""#,
        "[]",
        "{}",
        r#"{"a":[1,{"b":null}],"c":"d","e":[[],{}]}"#,
        "\n[ 1 , 2 ,\t3 ]\r\n",
        r#"{"dup":1,"dup":2}"#,
    ] {
        let ours: Value = from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let theirs: Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(ours, theirs, "{text}");
    }
}

#[test]
fn a_struct_reads_from_an_object_and_names_what_is_wrong() {
    let sender: Sender = from_str(r#"{"seq":4,"extra":{"deep":[1.5e3,-2,"x"]},"id":"a"}"#)
        .expect("unknown fields are skipped, floats in them too");
    assert_eq!(
        sender,
        Sender {
            id: "a".into(),
            seq: 4,
            note: None
        }
    );
    let error = from_str::<Sender>(r#"{"id":"a"}"#).unwrap_err().to_string();
    assert_eq!(error, "missing field `seq` at line 1 column 10");
    let error = from_str::<Sender>(r#"["a",4]"#).unwrap_err().to_string();
    assert!(
        error.starts_with("invalid type: sequence, expected struct Sender"),
        "{error}"
    );
    let error = from_str::<Sender>("{\n\"id\": \"a\",\n\"seq\": \"soon\"}")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid type: string \"soon\", expected u64 at line 3 column 14"
    );
}

#[test]
fn floats_are_refused_where_a_type_reads_them_and_never_formatted() {
    for text in [
        "1.5",
        "1e3",
        "-2.0E-7",
        "-0",
        "18446744073709551616",
        "-9223372036854775809",
    ] {
        let error = from_str::<u64>(text).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid type: floating point number, expected u64"),
            "{text}: {error}"
        );
        assert!(from_str::<Value>(text).is_err(), "{text}");
        from_str::<IgnoredAny>(text).unwrap_or_else(|e| panic!("{text} is skipped: {e}"));
    }
    let error = from_str::<u8>("300").unwrap_err().to_string();
    assert!(
        error.starts_with("invalid value: integer `300`, expected u8"),
        "{error}"
    );
    assert_eq!(from_str::<i64>("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(from_str::<u64>("18446744073709551615"), Ok(u64::MAX));
}

#[test]
fn malformed_texts_are_refused_with_serde_jsons_words() {
    for (text, words) in [
        ("", "EOF while parsing a value at line 1 column 1"),
        ("[1,]", "trailing comma"),
        (r#"{"a":1,}"#, "trailing comma"),
        ("[1 2]", "expected `,` or `]`"),
        (r#"{"a" 1}"#, "expected `:`"),
        ("{1:2}", "key must be a string"),
        ("01", "invalid number"),
        ("1.", "EOF while parsing a value"),
        ("-", "EOF while parsing a value"),
        ("+1", "expected value"),
        ("nul", "EOF while parsing a value"),
        ("nulL", "expected ident"),
        (r#""abc"#, "EOF while parsing a string"),
        ("\"a\u{1}b\"", "control character"),
        (r#""\x""#, "invalid escape"),
        (r#""\u12G4""#, "invalid escape"),
        ("1 2", "trailing characters"),
        ("[1", "EOF while parsing a list"),
        (r#"{"a":1"#, "EOF while parsing an object"),
    ] {
        let error = from_str::<Value>(text).expect_err(text).to_string();
        assert!(error.contains(words), "{text:?}: {error}");
        let skipped = from_str::<IgnoredAny>(text).expect_err(text).to_string();
        assert!(skipped.contains(words), "{text:?} skipped: {skipped}");
        assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
    }
}

#[test]
fn lone_surrogates_are_named_with_their_offset_and_pairs_are_text() {
    for (text, unit, at) in [
        (r#""\ud800""#, "d800", 1),
        (r#""\ude00\ud83d""#, "de00", 1),
        (r#""ok \ud83d\ude00 \ud800x""#, "d800", 17),
        (r#""\ud800\u0041""#, "d800", 1),
    ] {
        let error = from_str::<String>(text).unwrap_err().to_string();
        let expected = format!("a \\u{unit} escape at byte {at} is a lone UTF-16 surrogate");
        assert!(error.starts_with(&expected), "{text}: {error}");
    }
    assert_eq!(
        from_str::<String>(r#""\\ud800""#).as_deref(),
        Ok("\\ud800"),
        "an escaped backslash, then text"
    );
    assert_eq!(
        from_str::<String>(r#""\ud83d\ude00 \u00E9""#).as_deref(),
        Ok("😀 é")
    );
}

#[test]
fn nesting_is_limited_where_a_type_reads_and_not_where_it_skips() {
    let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    assert!(from_str::<Value>(&deep(128)).is_ok());
    let error = from_str::<Value>(&deep(129)).unwrap_err().to_string();
    assert!(error.starts_with("recursion limit exceeded"), "{error}");
    let skipped = format!(r#"{{"id":"a","seq":1,"deep":{}}}"#, deep(100_000));
    assert_eq!(from_str::<Sender>(&skipped).map(|s| s.seq), Ok(1));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    from_str::<IgnoredAny>(&objects).expect("skipped without recursion");
    assert!(from_str::<IgnoredAny>(&deep(3)[1..]).is_err(), "unbalanced");
}

#[test]
fn enums_read_as_a_name_or_a_one_entry_object() {
    assert_eq!(from_str::<Shape>(r#""Dot""#), Ok(Shape::Dot));
    assert_eq!(from_str::<Shape>(r#"{"Line": 3}"#), Ok(Shape::Line(3)));
    assert_eq!(
        from_str::<Shape>(r#"{"Box":{"width":2}}"#),
        Ok(Shape::Box { width: 2 })
    );
    assert!(from_str::<Shape>(r#""Line""#).is_err());
    assert!(from_str::<Shape>(r#"{"Dot":null,"Line":1}"#).is_err());
    assert!(from_str::<Shape>(r#""Hexagon""#)
        .unwrap_err()
        .to_string()
        .starts_with("unknown variant `Hexagon`"));
}

#[cfg(not(target_arch = "wasm32"))]
mod oracle {
    //! Property tests against `serde_json` (a native dev-dependency here).

    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::from_str;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    fn has_float(value: &Value) -> bool {
        match value {
            Value::Number(number) => number.is_f64(),
            Value::Array(items) => items.iter().any(has_float),
            Value::Object(entries) => entries.values().any(has_float),
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Every JSON value without floats, compact or pretty, reads back the same.
        #[test]
        fn every_value_reads_as_written(value in value()) {
            let compact = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(from_str::<Value>(&compact).unwrap(), value.clone());
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(from_str::<Value>(&pretty).unwrap(), value);
        }

        /// Texts made of JSON's own characters: accepted exactly when `serde_json` accepts
        /// them (leaving out what it reads as a float, which this reader refuses), with the
        /// same value; and skipped exactly when it can be read.
        #[test]
        fn arbitrary_texts_agree_with_serde_json(
            text in r#"[\[\]{}:, "\\a-z0-9\-.eE+\t\nuDd8]{0,40}"#
        ) {
            let theirs = serde_json::from_str::<Value>(&text);
            let ours = from_str::<Value>(&text);
            match theirs {
                Ok(value) if !has_float(&value) => prop_assert_eq!(ours.ok(), Some(value)),
                Ok(_) => prop_assert!(ours.is_err()),
                Err(_) => prop_assert!(ours.is_err(), "accepted {:?}", text),
            }
            let skipped = from_str::<serde::de::IgnoredAny>(&text).is_ok();
            prop_assert_eq!(skipped, serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok());
        }
    }
}
