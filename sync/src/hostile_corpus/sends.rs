//! Hostile `POST /api/chat/messages` bodies and the answer the server must give: the stored
//! message for a valid body (its text kept byte-exact), or a `{"error", "detail"}` reply with
//! a 4xx status, having stored nothing and used no sequence number.

use serde_json::{json, Value};

use super::build::{with, with_raw};
use super::json::{deep_arrays, lone_surrogates, malformed, SURROGATE_PAIR};
use super::text::{blank, body_over_limit, control, stored_bodies};
use crate::protocol::MAX_ATTACHMENTS;

/// How the server must refuse a send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The `error` code of the reply body.
    pub error: &'static str,
}

const BAD_JSON: Refusal = Refusal {
    status: 400,
    error: "bad_json",
};
const BAD_REQUEST: Refusal = Refusal {
    status: 400,
    error: "bad_request",
};
const TOO_LARGE: Refusal = Refusal {
    status: 413,
    error: "too_large",
};

/// One send request body and its expected outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendCase {
    /// What is hostile about it.
    pub name: String,
    /// The request body as sent.
    pub json: String,
    /// `None` when the server stores it; else how it must refuse.
    pub refusal: Option<Refusal>,
    /// For a stored case, the body the stored message must carry.
    pub body: Option<String>,
}

/// Send requests into chat `request_id` (which the sender may post in): every stored body
/// of the corpus (each with its own idempotency key), then blank, control-character,
/// oversized, lone-surrogate, malformed and wrongly typed bodies, and bad ids.
pub fn send_requests(request_id: &str) -> Vec<SendCase> {
    let send = |key: String, body: &str| json!({ "request_id": request_id, "client_temp_id": key, "body": body, "attachments": [] });
    let mut cases = Vec::new();
    for (i, body) in stored_bodies().into_iter().enumerate() {
        cases.push(SendCase {
            name: format!("stored body {}", body.name),
            json: send(format!("hostile-send-{i}"), &body.text).to_string(),
            refusal: None,
            body: Some(body.text),
        });
    }
    cases.push(SendCase {
        name: "escaped surrogate pair".into(),
        json: with_raw(&send("hostile-pair".into(), ""), "/body", SURROGATE_PAIR),
        refusal: None,
        body: Some("😀 escaped".into()),
    });
    let refused = |name: String, json: String, refusal| SendCase {
        name,
        json,
        refusal: Some(refusal),
        body: None,
    };
    let base = send("hostile-refused".into(), "fine");
    for body in blank() {
        cases.push(refused(
            format!("blank body {}", body.name),
            with(&base, "/body", json!(body.text)),
            BAD_REQUEST,
        ));
    }
    for body in control() {
        cases.push(refused(
            format!("control body {}", body.name),
            with(&base, "/body", json!(body.text)),
            BAD_REQUEST,
        ));
    }
    cases.push(refused(
        "body one byte over the limit".into(),
        with(&base, "/body", json!(body_over_limit())),
        TOO_LARGE,
    ));
    for literal in lone_surrogates() {
        cases.push(refused(
            format!("{} in the body", literal.name),
            with_raw(&base, "/body", &literal.text),
            BAD_JSON,
        ));
    }
    for doc in malformed() {
        cases.push(refused(
            format!("malformed: {}", doc.name),
            doc.text,
            BAD_JSON,
        ));
    }
    for (name, pointer, value, refusal) in [
        ("body a number", "/body", json!(5), BAD_JSON),
        ("body null", "/body", Value::Null, BAD_JSON),
        ("attachments an object", "/attachments", json!({}), BAD_JSON),
        ("request id empty", "/request_id", json!(""), BAD_REQUEST),
        (
            "request id 200 bytes",
            "/request_id",
            json!("R".repeat(200)),
            BAD_REQUEST,
        ),
        (
            "request id with NUL",
            "/request_id",
            json!("REQ\u{0}"),
            BAD_REQUEST,
        ),
        ("key empty", "/client_temp_id", json!(""), BAD_REQUEST),
        (
            "key 300 bytes",
            "/client_temp_id",
            json!("k".repeat(300)),
            BAD_REQUEST,
        ),
        (
            "key with a newline",
            "/client_temp_id",
            json!("k\n1"),
            BAD_REQUEST,
        ),
        (
            "unknown media",
            "/attachments",
            json!([{ "media_id": "med_missing", "name": "a.txt", "mime": "text/plain", "size": 1 }]),
            BAD_REQUEST,
        ),
        (
            "too many attachments",
            "/attachments",
            Value::Array(vec![
                json!({ "media_id": "med_missing", "name": "a", "mime": "text/plain", "size": 1 });
                MAX_ATTACHMENTS + 1
            ]),
            BAD_REQUEST,
        ),
    ] {
        cases.push(refused(name.into(), with(&base, pointer, value), refusal));
    }
    cases.push(refused(
        "deep nesting in the body".into(),
        with_raw(&base, "/body", &deep_arrays(1_000)),
        BAD_JSON,
    ));
    cases
}
