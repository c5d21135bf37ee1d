//! The wire's tagged enums, decoded through flat structs (`chat_sync::tagged`), read what
//! serde's derived format writes, name what is missing or wrong, and ignore unknown fields.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use chat_sync::leadership::LeaseMessage;
use chat_sync::notice::{NoticeSource, PageMessage};
use chat_sync::outbox::OutboxState;
use chat_sync::protocol::{CurrentUser, PushPayload};
use chat_sync::suite::message;
use chat_sync::types::{RequestId, SenderRole, SyncState};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
    let text = serde_json::to_string(&value).unwrap();
    let back: T = chat_sync::json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(back, value, "{text}");
}

fn refused<T: DeserializeOwned + Debug>(text: &str) -> String {
    match chat_sync::json::from_str::<T>(text) {
        Ok(value) => panic!("{text} decoded as {value:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_variant_decodes_what_it_encodes() {
    for state in [
        OutboxState::Queued,
        OutboxState::Sending,
        OutboxState::Failed {
            reason: "too long".into(),
        },
    ] {
        round_trip(state);
    }
    let to = || "agent-1".to_owned();
    let chat = || RequestId::from("r1");
    for push in [
        PushPayload::Message {
            to: to(),
            message: message("r1", 4, "hi"),
        },
        PushPayload::Hint {
            to: to(),
            request_id: chat(),
            seq: 4,
        },
        PushPayload::Change {
            to: to(),
            message: message("r1", 4, "edited"),
        },
        PushPayload::Changes {
            to: to(),
            request_id: chat(),
            version: 9,
        },
        PushPayload::Revoked {
            to: to(),
            request_id: chat(),
        },
    ] {
        round_trip(push);
    }
    round_trip(LeaseMessage::Probe { nonce: 7 });
    round_trip(LeaseMessage::Alive { nonce: 0 });
    round_trip(PageMessage::SessionChanged);
    round_trip(PageMessage::SkipWaiting);
    round_trip(PageMessage::CatchUp);
    round_trip(PageMessage::SendOutbox);
    round_trip(PageMessage::SessionConfirmed {
        user: CurrentUser {
            id: "a1".into(),
            username: "alice".into(),
            name: "Alice".into(),
            role: SenderRole::Agent,
        },
    });
}

#[test]
fn the_tag_can_stand_anywhere_and_unknown_fields_are_ignored() {
    let state: OutboxState =
        chat_sync::json::from_str(r#"{"reason":"no","extra":[1,{}],"state":"failed"}"#).unwrap();
    assert_eq!(
        state,
        OutboxState::Failed {
            reason: "no".into()
        }
    );
    let push: PushPayload =
        chat_sync::json::from_str(r#"{"seq":3,"to":"a","request_id":"r","kind":"hint","x":null}"#)
            .unwrap();
    assert_eq!(
        push,
        PushPayload::Hint {
            to: "a".into(),
            request_id: RequestId::from("r"),
            seq: 3
        }
    );
}

#[test]
fn a_missing_tag_an_unknown_tag_and_a_missing_field_are_named() {
    assert!(refused::<OutboxState>(r#"{"reason":"x"}"#).contains("missing field `state`"));
    let unknown = refused::<PushPayload>(r#"{"kind":"gossip","to":"a"}"#);
    assert!(unknown.contains("unknown variant `gossip`"), "{unknown}");
    assert!(
        refused::<PushPayload>(r#"{"kind":"hint","to":"a","request_id":"r"}"#)
            .contains("missing field `seq`")
    );
    assert!(
        refused::<PushPayload>(r#"{"kind":"revoked","request_id":"r"}"#)
            .contains("missing field `to`")
    );
    assert!(refused::<OutboxState>(r#"{"state":"failed"}"#).contains("missing field `reason`"));
    assert!(refused::<LeaseMessage>(r#"{"kind":"alive"}"#).contains("missing field `nonce`"));
    assert!(
        refused::<PageMessage>(r#"{"type":"session-confirmed"}"#).contains("missing field `user`")
    );
    // A field of the wrong type is refused, not skipped.
    assert!(
        refused::<PushPayload>(r#"{"kind":"hint","to":"a","request_id":"r","seq":"4"}"#)
            .contains("invalid type")
    );
    assert!(
        refused::<PushPayload>(r#"{"kind":"hint","kind":"hint","to":"a"}"#)
            .contains("duplicate field `kind`")
    );
}

#[test]
fn field_less_enums_read_every_name_they_write_and_name_an_unknown_one() {
    for role in [SenderRole::Agent, SenderRole::Requester] {
        round_trip(role);
    }
    for state in [
        SyncState::Unknown,
        SyncState::InSync,
        SyncState::OutOfSync,
        SyncState::Fetching,
    ] {
        round_trip(state);
    }
    for source in [
        NoticeSource::Push,
        NoticeSource::Live,
        NoticeSource::Fetch,
        NoticeSource::SendEcho,
        NoticeSource::FullReload,
        NoticeSource::Change,
        NoticeSource::Outbox,
        NoticeSource::Chat,
        NoticeSource::Revoked,
    ] {
        round_trip(source);
    }
    let unknown = refused::<SyncState>(r#""in-sync""#);
    assert!(
        unknown.contains("unknown variant `in-sync`, expected one of `unknown`, `in_sync`"),
        "{unknown}"
    );
    assert!(refused::<SenderRole>("1").contains("invalid type: integer `1`"));
    assert!(refused::<PushPayload>(r#"{"kind":7,"to":"a"}"#).contains("invalid type: integer"));
}
