//! Hostile push payloads: a good message with one hostile part each, and the verdict of
//! [`crate::decode::push`].

use serde_json::{json, Value};

use super::build::{to_value, too_many_attachments, with, with_raw};
use super::json::{deep_arrays, lone_surrogates, malformed, seq_literals, SURROGATE_PAIR};
use super::text::markup;
use super::Case;
use crate::protocol::MAX_PUSH_PAYLOAD_LEN;
use crate::types::{Attachment, Message, RequestId, Sender, SenderRole, Seq};

/// A requester's message of `chat` at `seq` with one attachment, as a base for cases.
pub fn sample_message(chat: &str, seq: Seq) -> Message {
    Message {
        request_id: RequestId::from(chat),
        seq,
        id: format!("msg-{chat}-{seq}"),
        client_temp_id: None,
        sender: Sender {
            id: "requester-1".into(),
            name: "Requester One".into(),
            role: SenderRole::Requester,
        },
        body: format!("message {seq}"),
        attachments: vec![Attachment {
            media_id: "med_1".into(),
            name: "photo.png".into(),
            mime: "image/png".into(),
            size: 1234,
        }],
        created_at: 1_700_000_000_000 + seq as i64,
        deleted: false,
        version: 0,
        edited_at: None,
    }
}

/// Push payloads for `good` (a valid message that fits a push; one without attachments is
/// given one) addressed to user `to`: the recipient missing or malformed, the cases `tests/push.rs` has always delivered, then every malformed document, wrong kinds, every seq literal in a
/// message and in a hint, request ids, lone surrogates in every text field, wrong types,
/// and the size limit on both sides. Hostile text in a valid shape is accepted.
pub fn push_payloads(good: &Message, to: &str) -> Vec<Case> {
    // The hostile variants need an attachment to aim at: a message without one gets the
    // sample's.
    let mut base = good.clone();
    if base.attachments.is_empty() {
        base.attachments = sample_message(good.request_id.as_str(), good.seq).attachments;
    }
    let good = &base;
    let message = to_value(good);
    let whole = json!({ "kind": "message", "to": to, "message": message });
    let hint = json!({ "kind": "hint", "to": to, "request_id": good.request_id, "seq": good.seq });
    let to_json = json!(to).to_string();
    let mut cases = vec![
        Case::accepted("the good message", whole.to_string()),
        Case::accepted("the good hint", hint.to_string()),
        Case::refused(
            "message missing",
            json!({ "kind": "message", "to": to }).to_string(),
        ),
        Case::refused(
            "no recipient",
            json!({ "kind": "message", "message": message }).to_string(),
        ),
        Case::refused(
            "hint without a recipient",
            json!({ "kind": "hint", "request_id": good.request_id, "seq": good.seq }).to_string(),
        ),
        Case::refused("empty recipient", with(&whole, "/to", json!(""))),
        Case::refused("recipient a number", with(&whole, "/to", json!(7))),
        Case::refused("recipient null", with(&hint, "/to", Value::Null)),
        Case::refused(
            "recipient 129 bytes",
            with(&whole, "/to", json!("u".repeat(129))),
        ),
        Case::refused(
            "recipient with a newline",
            with(&hint, "/to", json!("usr\n1")),
        ),
        Case::refused(
            "hint with an empty request id",
            json!({ "kind": "hint", "to": to, "request_id": "", "seq": 5 }).to_string(),
        ),
        Case::refused(
            "kind in another case",
            with(&whole, "/kind", json!("Message")),
        ),
        Case::refused(
            "unknown kind",
            json!({ "kind": "delete", "to": to, "request_id": "R", "seq": 1 }).to_string(),
        ),
        Case::refused("kind a number", with(&whole, "/kind", json!(7))),
        Case::refused(
            "no kind",
            json!({ "to": to, "message": message }).to_string(),
        ),
        Case::refused(
            "duplicate seq key",
            format!(r#"{{"kind":"hint","to":{to_json},"request_id":"R","seq":1,"seq":2}}"#),
        ),
        Case::accepted(
            "unknown and prototype keys",
            format!(
                r#"{{"kind":"hint","to":{to_json},"request_id":"R","seq":1,"__proto__":{{"x":1}},"constructor":null}}"#
            ),
        ),
    ];
    for doc in malformed() {
        cases.push(Case::refused(format!("malformed: {}", doc.name), doc.text));
    }
    for literal in seq_literals() {
        let verdict = literal.is_valid_seq();
        cases.push(Case {
            name: format!("message seq {}", literal.name),
            json: with_raw(&whole, "/message/seq", literal.json),
            accepted: verdict,
        });
        cases.push(Case {
            name: format!("hint seq {}", literal.name),
            json: with_raw(&hint, "/seq", literal.json),
            accepted: verdict,
        });
    }
    for (name, id, accepted) in [
        ("empty", json!(""), false),
        ("128 bytes", json!("R".repeat(128)), true),
        ("129 bytes", json!("R".repeat(129)), false),
        ("200 bytes", json!("X".repeat(200)), false),
        ("with NUL", json!("REQ\u{0}1"), false),
        ("with a newline", json!("REQ\n1"), false),
        ("with an RTL override", json!("REQ-\u{202E}1"), true),
        ("a number", json!(1001), false),
    ] {
        cases.push(Case {
            name: format!("message request id {name}"),
            json: with(&whole, "/message/request_id", id.clone()),
            accepted,
        });
        cases.push(Case {
            name: format!("hint request id {name}"),
            json: with(&hint, "/request_id", id),
            accepted,
        });
    }
    for literal in lone_surrogates() {
        for pointer in [
            "/message/body",
            "/message/sender/name",
            "/message/id",
            "/message/request_id",
            "/message/attachments/0/name",
        ] {
            cases.push(Case::refused(
                format!("{} in {pointer}", literal.name),
                with_raw(&whole, pointer, &literal.text),
            ));
        }
    }
    cases.push(Case::accepted(
        "escaped surrogate pair in the body",
        with_raw(&whole, "/message/body", SURROGATE_PAIR),
    ));
    for (name, pointer, value, accepted) in [
        ("body a number", "/message/body", json!(5), false),
        ("body null", "/message/body", Value::Null, false),
        ("sender null", "/message/sender", Value::Null, false),
        ("role admin", "/message/sender/role", json!("admin"), false),
        (
            "created_at a string",
            "/message/created_at",
            json!("0"),
            false,
        ),
        (
            "created_at fractional",
            "/message/created_at",
            json!(1.5),
            false,
        ),
        (
            "created_at i64::MAX",
            "/message/created_at",
            json!(i64::MAX),
            true,
        ),
        (
            "created_at i64::MIN",
            "/message/created_at",
            json!(i64::MIN),
            true,
        ),
        (
            "created_at 2^63",
            "/message/created_at",
            json!(1u64 << 63),
            false,
        ),
        ("deleted a string", "/message/deleted", json!("yes"), false),
        (
            "attachments null",
            "/message/attachments",
            Value::Null,
            false,
        ),
        (
            "attachment size -1",
            "/message/attachments/0/size",
            json!(-1),
            false,
        ),
        (
            "attachment size u64::MAX",
            "/message/attachments/0/size",
            json!(u64::MAX),
            true,
        ),
        (
            "too many attachments",
            "/message/attachments",
            too_many_attachments(&message),
            false,
        ),
    ] {
        cases.push(Case {
            name: name.into(),
            json: with(&whole, pointer, value),
            accepted,
        });
    }
    cases.push(Case::refused(
        "deep nesting in the body",
        with_raw(&whole, "/message/body", &deep_arrays(200)),
    ));
    let markup_everywhere = {
        let mut hostile = good.clone();
        let texts = markup();
        hostile.body = texts[0].text.clone();
        hostile.sender.name = texts[2].text.clone();
        hostile.attachments[0].name = texts[3].text.clone();
        hostile.id = texts[8].text.clone();
        json!({ "kind": "message", "to": to, "message": hostile }).to_string()
    };
    cases.push(Case::accepted(
        "markup in every text field",
        markup_everywhere,
    ));
    cases.push(Case::refused(
        "padded past the push limit",
        json!({ "kind": "message", "to": to, "message": message, "pad": "x".repeat(9000) })
            .to_string(),
    ));
    let (at_limit, over_limit) = sized_pushes(good, to);
    cases.push(Case::accepted("exactly the push limit", at_limit));
    cases.push(Case::refused("one byte over the push limit", over_limit));
    cases
}

/// A whole-message push of `good` padded (in its body) to exactly
/// [`MAX_PUSH_PAYLOAD_LEN`] bytes, and the same one byte longer.
fn sized_pushes(good: &Message, to: &str) -> (String, String) {
    let mut message = good.clone();
    message.body = String::new();
    let base = json!({ "kind": "message", "to": to, "message": message })
        .to_string()
        .len();
    message.body = "x".repeat(MAX_PUSH_PAYLOAD_LEN.saturating_sub(base));
    let at_limit = json!({ "kind": "message", "to": to, "message": message }).to_string();
    message.body.push('x');
    let over = json!({ "kind": "message", "to": to, "message": message }).to_string();
    (at_limit, over)
}
