//! Structs decode from JSON objects only (`chat_sync::object_only`): a struct written as an
//! array, which serde's derive would accept, is refused wherever it stands, and what the
//! structs serialize to is unchanged.

use chat_sync::protocol::MessagesPage;
use chat_sync::ranges::SeqRange;
use chat_sync::suite::message;
use chat_sync::types::{Attachment, Message, RequestId, Sender};
use serde::de::DeserializeOwned;
use serde_json::json;

fn refused<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    match serde_json::from_str::<T>(text) {
        Ok(value) => panic!("{text} decoded as {value:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_struct_written_as_an_array_is_refused() {
    // Each array has the struct's fields in order: serde's derive alone decodes it.
    let error = refused::<SeqRange>("[1, 5]");
    assert!(
        error.starts_with("invalid type: sequence, expected struct SeqRange"),
        "{error}"
    );
    let error = refused::<Sender>(r#"["u1", "Ann", "agent"]"#);
    assert!(error.contains("expected struct Sender"), "{error}");
    let error = refused::<Attachment>(r#"["m1", "a.png", "image/png", 3]"#);
    assert!(error.contains("expected struct Attachment"), "{error}");
}

#[test]
fn a_nested_struct_written_as_an_array_is_refused() {
    let page = MessagesPage {
        request_id: RequestId::from("r1"),
        messages: vec![message("r1", 4, "hi")],
        last_seq: 4,
        page_limit: 100,
    };
    let mut value = serde_json::to_value(&page).unwrap();
    value["messages"][0]["sender"] = json!(["u1", "Ann", "agent"]);
    let error = refused::<MessagesPage>(&value.to_string());
    assert!(error.contains("expected struct Sender"), "{error}");
}

#[test]
fn structs_serialize_as_objects_and_read_back() {
    let sent = message("r1", 4, "hi");
    let value = serde_json::to_value(&sent).unwrap();
    assert_eq!(value["seq"], json!(4));
    assert_eq!(value["sender"]["role"], json!(sent.sender.role));
    let back: Message = serde_json::from_value(value).unwrap();
    assert_eq!(back, sent);
    assert_eq!(
        serde_json::to_string(&SeqRange::new(1, 5)).unwrap(),
        r#"{"start":1,"end":5}"#
    );
    let range: SeqRange = serde_json::from_str(r#"{"end":5,"start":1,"unknown":[1]}"#).unwrap();
    assert_eq!(range, SeqRange::new(1, 5));
}
