//! One decoder per input the cache takes from outside: a push payload, a history page, the
//! chat list, and a single message (a live event or the echo of a send).
//!
//! Each turns bytes into a validated value or an [`InvalidInput`] that says what was wrong,
//! and never panics, whatever the bytes: not UTF-8, not JSON, JSON nested deeper than the
//! parser's recursion limit, lone UTF-16 surrogates in `\u` escapes (which Rust strings
//! cannot hold: they are refused as malformed, never replaced), numbers no `u64` holds, or a
//! valid shape with values outside the contract. What fails here never touches a cache.
//!
//! The browser glue decodes with [`crate::json`] and then calls the same `validate_*` checks
//! these functions call; the property tests (`tests/hostile_properties.rs`) drive these
//! decoders with arbitrary bytes and JSON.

use serde::de::DeserializeOwned;

use crate::protocol::{
    validate_chat_list, validate_message, validate_page, validate_request_id, validate_seq,
    validate_user_id, ChatList, InvalidInput, MessagesPage, PushPayload, LOCAL_MEDIA_PREFIX,
    MAX_PUSH_PAYLOAD_LEN, MAX_SEQ,
};
use crate::types::{Attachment, Message, RequestId, Seq};

/// Decodes and validates a push payload (see [`PushPayload::decode`]).
pub fn push(bytes: &[u8]) -> Result<PushPayload, InvalidInput> {
    PushPayload::decode(bytes)
}

/// Decodes a history reply and checks it against what was asked: chat `request_id`,
/// sequences `from ..= to` (see [`validate_page`]).
pub fn page(
    bytes: &[u8],
    request_id: &RequestId,
    from: Seq,
    to: Seq,
) -> Result<MessagesPage, InvalidInput> {
    let page: MessagesPage = json(bytes, "messages page")?;
    validate_page(&page, request_id, from, to)?;
    Ok(page)
}

/// Decodes the backend's chat list and checks every entry (see [`validate_chat_list`]).
pub fn chat_list(bytes: &[u8]) -> Result<ChatList, InvalidInput> {
    let list: ChatList = json(bytes, "chat list")?;
    validate_chat_list(&list)?;
    Ok(list)
}

/// Decodes one message (`what` names it in the error: a live event, a send echo) and checks
/// it as every incoming message is checked (see [`validate_message`]).
pub fn message(bytes: &[u8], what: &'static str) -> Result<Message, InvalidInput> {
    let message: Message = json(bytes, what)?;
    validate_message(&message)?;
    Ok(message)
}

/// Decodes the server's reply to an upload: the stored file's attachment. Its media id must
/// be one a server hands out: not empty and not a local one ([`LOCAL_MEDIA_PREFIX`]), which
/// would make the sent message point at bytes only this browser has.
pub fn uploaded(bytes: &[u8]) -> Result<Attachment, InvalidInput> {
    let attachment: Attachment = json(bytes, "upload reply")?;
    if attachment.media_id.is_empty() || attachment.media_id.starts_with(LOCAL_MEDIA_PREFIX) {
        return Err(InvalidInput::Mismatch(format!(
            "the upload reply names an unusable media id {:?}",
            attachment.media_id
        )));
    }
    Ok(attachment)
}

/// Decodes the server's reply to a send: the stored message, checked like every incoming
/// message, and it must be `entry`'s (its chat and its idempotency key).
pub fn send_echo(
    bytes: &[u8],
    request_id: &RequestId,
    client_temp_id: &str,
) -> Result<Message, InvalidInput> {
    let message = self::message(bytes, "send echo")?;
    if &message.request_id != request_id {
        return Err(InvalidInput::Mismatch(format!(
            "the send echo names chat {}",
            message.request_id
        )));
    }
    if message.client_temp_id.as_deref() != Some(client_temp_id) {
        return Err(InvalidInput::Mismatch(format!(
            "the send echo carries client_temp_id {:?}",
            message.client_temp_id
        )));
    }
    Ok(message)
}

/// One event of the live stream, by its SSE event name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// `message` (or no name): a new message.
    Message(Message),
    /// `change`: a message's edit or redaction, in its new state.
    Change(Message),
    /// `revoked`: the chat was taken from the agent.
    Revoked(crate::change_wire::RevokedNotice),
    /// `chat`: a chat's summary (newly assigned to the agent, or closed).
    Chat(crate::types::ChatSummary),
}

/// Decodes one live-stream event named `kind` (the SSE `event:` field) and checks it like
/// every input of its kind. An unknown kind is refused, not guessed at.
pub fn stream_event(kind: &str, bytes: &[u8]) -> Result<StreamEvent, InvalidInput> {
    match kind {
        "" | "message" => message(bytes, "live event").map(StreamEvent::Message),
        "change" => {
            let change = message(bytes, "live change")?;
            crate::protocol::validate_seq(change.version).map_err(|_| InvalidInput::Malformed {
                what: "live change",
                reason: "a change needs a version of at least 1".to_owned(),
            })?;
            Ok(StreamEvent::Change(change))
        }
        "revoked" => {
            let notice: crate::change_wire::RevokedNotice = json(bytes, "live revocation")?;
            crate::protocol::validate_request_id(&notice.request_id)?;
            Ok(StreamEvent::Revoked(notice))
        }
        "chat" => {
            let summary: crate::types::ChatSummary = json(bytes, "live chat summary")?;
            crate::protocol::validate_summary(&summary)?;
            Ok(StreamEvent::Chat(summary))
        }
        other => Err(InvalidInput::Malformed {
            what: "live event",
            reason: format!(
                "unknown event kind {:?}",
                other.chars().take(32).collect::<String>()
            ),
        }),
    }
}

// The push payload's decoder lives with the other decoders (the wire types in `protocol`
// do not depend on the decoding layer).
impl PushPayload {
    /// Decodes and validates a push payload. Nothing that fails here may touch a cache.
    pub fn decode(bytes: &[u8]) -> Result<Self, InvalidInput> {
        if bytes.len() > MAX_PUSH_PAYLOAD_LEN {
            return Err(InvalidInput::TooLarge {
                what: "push payload",
                len: bytes.len(),
                max: MAX_PUSH_PAYLOAD_LEN,
            });
        }
        let payload: PushPayload = json(bytes, "push payload")?;
        validate_user_id(payload.to())?;
        match &payload {
            PushPayload::Message { message, .. } => validate_message(message)?,
            PushPayload::Change { message, .. } => {
                validate_message(message)?;
                if message.version == 0 || message.version > MAX_SEQ {
                    return Err(InvalidInput::Malformed {
                        what: "push payload",
                        reason: format!("a change needs a version in 1..={MAX_SEQ}"),
                    });
                }
            }
            PushPayload::Hint {
                request_id, seq, ..
            } => {
                validate_request_id(request_id)?;
                validate_seq(*seq)?;
            }
            PushPayload::Changes {
                request_id,
                version,
                ..
            } => {
                validate_request_id(request_id)?;
                validate_seq(*version)?;
            }
            PushPayload::Revoked { request_id, .. } => validate_request_id(request_id)?,
        }
        Ok(payload)
    }
}

/// Parses JSON into `T`, naming `what` in the error.
///
/// The bytes are checked to be UTF-8 first and parsed as text, as every other JSON in the
/// browser builds is (records, replies already read as text): one reader ([`crate::json`]),
/// so each type's deserializer is compiled once rather than once per reader, which keeps
/// the wasm files smaller.
pub(crate) fn json<T: DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, InvalidInput> {
    let text = std::str::from_utf8(bytes).map_err(|e| InvalidInput::Malformed {
        what,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    crate::json::from_str(text).map_err(|e| malformed(what, &e))
}

/// The refusal of a JSON text that did not decode as `what`: here and for the browser
/// glue's replies, which arrive as text. Not generic, so it is compiled once.
pub fn malformed(what: &'static str, error: &crate::json::JsonError) -> InvalidInput {
    InvalidInput::Malformed {
        what,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MAX_SEQ;

    #[test]
    fn bytes_that_are_not_utf8_are_refused_as_such_wherever_they_stand() {
        // Inside a string and outside one: both are named as not UTF-8, with where.
        for bytes in [
            &b"{\"chats\":[{\"request_id\":\"r\xff\"}]}"[..],
            &b"\xfe{}"[..],
        ] {
            match chat_list(bytes) {
                Err(InvalidInput::Malformed { what, reason }) => {
                    assert_eq!(what, "chat list");
                    assert!(reason.starts_with("not UTF-8 text"), "{reason}");
                    assert!(reason.contains("index"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_upload_reply_must_name_a_server_media_id() {
        let ok = uploaded(br#"{"media_id":"m-1","name":"a.png","mime":"image/png","size":3}"#)
            .expect("a server id");
        assert_eq!(ok.media_id, "m-1");
        for id in ["", "local:t1/0"] {
            let reply = format!(r#"{{"media_id":"{id}","name":"a","mime":"image/png","size":3}}"#);
            assert!(
                matches!(uploaded(reply.as_bytes()), Err(InvalidInput::Mismatch(_))),
                "{id:?} refused"
            );
        }
        assert!(matches!(
            uploaded(b"not json"),
            Err(InvalidInput::Malformed { .. })
        ));
    }

    #[test]
    fn a_send_echo_must_be_the_entrys_message() {
        let echo = |chat: &str, temp: &str| {
            format!(
                r#"{{"request_id":"{chat}","seq":4,"id":"m","client_temp_id":"{temp}","sender":{{"id":"a","name":"A","role":"agent"}},"body":"hi","created_at":0}}"#
            )
        };
        let chat = RequestId::from("r1");
        let ok = send_echo(echo("r1", "t1").as_bytes(), &chat, "t1").expect("ours");
        assert_eq!(ok.seq, 4);
        assert!(matches!(
            send_echo(echo("r2", "t1").as_bytes(), &chat, "t1"),
            Err(InvalidInput::Mismatch(_))
        ));
        assert!(matches!(
            send_echo(echo("r1", "t2").as_bytes(), &chat, "t1"),
            Err(InvalidInput::Mismatch(_))
        ));
    }

    #[test]
    fn a_lone_surrogate_is_a_malformed_input_that_names_it() {
        let error = message(
            br#"{"request_id":"r","seq":1,"id":"m","sender":{"id":"a","name":"A","role":"agent"},"body":"\ud800","created_at":0}"#,
            "live event",
        )
        .expect_err("a lone surrogate cannot be a Rust string");
        let text = error.to_string();
        assert!(
            text.starts_with("malformed live event: a \\ud800 escape at byte ")
                && text.contains("lone UTF-16 surrogate"),
            "{text}"
        );
    }

    #[test]
    fn an_earlier_syntax_error_is_not_blamed_on_a_later_surrogate() {
        let error = message(br#"{"request_id" "r", "body":"\ud800"}"#, "live event")
            .expect_err("a missing colon");
        assert!(!error.to_string().contains("surrogate"), "{error}");
    }

    #[test]
    fn a_chat_list_entry_beyond_max_seq_refuses_the_list() {
        let list = format!(
            r#"{{"requests":[{{"request_id":"r","title":"t","requester":{{"id":"q","name":"Q"}},"last_seq":{},"updated_at":0}}]}}"#,
            MAX_SEQ + 1
        );
        assert_eq!(
            chat_list(list.as_bytes()),
            Err(InvalidInput::BadSeq(MAX_SEQ + 1))
        );
    }

    #[test]
    fn nesting_deeper_than_the_recursion_limit_is_an_error_not_a_stack_overflow() {
        // In a field no decoder knows, which the parser must still walk to skip it: a push
        // payload (a tagged enum, decoded through a flat struct, see `crate::tagged`) and a
        // chat list both skip the field without recursing, so neither overflows the stack.
        let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let push = format!(r#"{{"kind":"hint","to":"a","request_id":"r","seq":1,"x":{nested}}}"#);
        let payload = crate::json::from_str::<PushPayload>(&push).expect("the field is skipped");
        assert!(matches!(payload, PushPayload::Hint { seq: 1, .. }));
        // Where a message is expected, the nesting is refused at its first bracket.
        let push = format!(r#"{{"kind":"message","to":"a","message":{nested}}}"#);
        let error = crate::json::from_str::<PushPayload>(&push)
            .expect_err("not a message")
            .to_string();
        assert!(error.starts_with("invalid type: sequence"), "{error}");
        let list = format!(r#"{{"requests":[],"x":{nested}}}"#);
        assert_eq!(chat_list(list.as_bytes()).map(|l| l.requests.len()), Ok(0));
    }
}
