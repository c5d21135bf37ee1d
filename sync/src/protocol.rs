//! The HTTP and push contract of `SPEC.md` as types: request and reply bodies, the push
//! payload, the error body, and the validation every incoming message passes before it may
//! touch a cache.
//!
//! Client and reference server both use these, so the contract has one definition.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::types::{Attachment, ChatSummary, Message, RequestId, Seq};

pub use crate::ranges::MAX_SEQ;

/// The longest request id accepted (bytes).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The longest message body accepted (bytes).
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// The most attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 16;

/// The largest push payload the worker decodes (bytes); Web Push itself caps near 4 KB.
pub const MAX_PUSH_PAYLOAD_LEN: usize = 8 * 1024;

/// A whole message is pushed when its JSON fits in this many bytes, otherwise a hint.
pub const PUSH_INLINE_LIMIT: usize = 3 * 1024;

/// `{"error": "<code>", "detail": "<human text>"}` with a 4xx/5xx status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_range`.
    pub error: String,
    /// Human-readable explanation.
    pub detail: String,
}

/// `GET /api/chat/requests` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatList {
    /// The signed-in agent's chats.
    pub requests: Vec<ChatSummary>,
}

/// Reply of both history fetches (`from_seq`/`to_seq` and `before_seq`/`limit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagesPage {
    /// The chat.
    pub request_id: RequestId,
    /// Messages in the asked window, ascending by seq, at most `page_limit`.
    pub messages: Vec<Message>,
    /// The chat's last sequence at the time of the reply.
    pub last_seq: Seq,
    /// The server's page limit, so the client can size its range requests.
    pub page_limit: u64,
}

/// `POST /api/chat/messages` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// The chat.
    pub request_id: RequestId,
    /// The idempotency key: the same key twice stores one message.
    pub client_temp_id: String,
    /// Plain text.
    pub body: String,
    /// Attachments already uploaded through `POST /api/media`.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// `POST /api/auth/login` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The signed-in user, from `POST /api/auth/login` and `GET /api/auth/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// Stable user id; the client derives its cache database name from it.
    pub id: String,
    /// User name used to sign in.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Agent or requester.
    pub role: crate::types::SenderRole,
}

/// `GET /api/push/vapid-public-key` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VapidPublicKey {
    /// The application server key, base64url without padding (uncompressed P-256 point).
    pub public_key: String,
}

/// The keys of a browser push subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKeys {
    /// The subscription's P-256 public key, base64url.
    pub p256dh: String,
    /// The subscription's auth secret, base64url.
    pub auth: String,
}

/// `POST /api/push/subscriptions` body: a browser `PushSubscription` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    /// The push service endpoint URL.
    pub endpoint: String,
    /// Encryption keys.
    pub keys: PushKeys,
}

/// `DELETE /api/push/subscriptions` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushUnsubscribe {
    /// The endpoint to forget.
    pub endpoint: String,
}

/// The decrypted body of a Web Push message.
///
/// Every payload names its recipient (`to`, the user id the subscription belongs to at the
/// server). A browser profile can hold a subscription of an agent who has since signed out
/// (the unsubscribe did not reach the server, say), so the worker checks `to` against the
/// agent it has confirmed before anything is stored or shown: one agent's pushes never land
/// in another's cache or notifications on a shared machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushPayload {
    /// The whole message, when its JSON fits in [`PUSH_INLINE_LIMIT`].
    Message {
        /// The user id of the subscription's owner.
        to: String,
        /// The message.
        message: Message,
    },
    /// Only where to look, for a message too large to push whole.
    Hint {
        /// The user id of the subscription's owner.
        to: String,
        /// The chat.
        request_id: RequestId,
        /// The new message's sequence.
        seq: Seq,
    },
    /// A message's edit or redaction, with the message in its new state (`version` > 0).
    Change {
        /// The user id of the subscription's owner.
        to: String,
        /// The changed message (a redaction's tombstone has no body and no attachments).
        message: Message,
    },
    /// Only where to look, for a change too large to push whole: the chat's change version
    /// after it, so the worker fetches the changes since the version it holds.
    Changes {
        /// The user id of the subscription's owner.
        to: String,
        /// The chat.
        request_id: RequestId,
        /// The chat's change version.
        version: u64,
    },
    /// The chat was taken from the recipient (reassigned): its cache must let go of it.
    Revoked {
        /// The user id of the subscription's owner.
        to: String,
        /// The chat.
        request_id: RequestId,
    },
}

/// The longest user id accepted as a push recipient (bytes).
pub const MAX_USER_ID_LEN: usize = 128;

impl PushPayload {
    /// The payload a server sends for `message` to a subscription of user `to`: the whole
    /// message when it fits, else a hint.
    pub fn for_message(message: &Message, to: &str) -> Self {
        let whole = PushPayload::Message {
            to: to.to_owned(),
            message: message.clone(),
        };
        match serde_json::to_vec(&whole) {
            Ok(bytes) if bytes.len() <= PUSH_INLINE_LIMIT => whole,
            _ => PushPayload::Hint {
                to: to.to_owned(),
                request_id: message.request_id.clone(),
                seq: message.seq,
            },
        }
    }

    /// The payload a server sends for a change of `message` (its new state, at chat change
    /// version `version`) to a subscription of user `to`: the changed message when it fits,
    /// else a hint naming the version.
    pub fn for_change(message: &Message, version: u64, to: &str) -> Self {
        let whole = PushPayload::Change {
            to: to.to_owned(),
            message: message.clone(),
        };
        match serde_json::to_vec(&whole) {
            Ok(bytes) if bytes.len() <= PUSH_INLINE_LIMIT => whole,
            _ => PushPayload::Changes {
                to: to.to_owned(),
                request_id: message.request_id.clone(),
                version,
            },
        }
    }

    /// The chat this payload concerns.
    pub fn request_id(&self) -> &RequestId {
        match self {
            PushPayload::Message { message, .. } | PushPayload::Change { message, .. } => {
                &message.request_id
            }
            PushPayload::Hint { request_id, .. }
            | PushPayload::Changes { request_id, .. }
            | PushPayload::Revoked { request_id, .. } => request_id,
        }
    }

    /// The user id this payload was sent to.
    pub fn to(&self) -> &str {
        match self {
            PushPayload::Message { to, .. }
            | PushPayload::Hint { to, .. }
            | PushPayload::Change { to, .. }
            | PushPayload::Changes { to, .. }
            | PushPayload::Revoked { to, .. } => to,
        }
    }
}

/// Prefix of an attachment's `media_id` while its bytes are only local (queued in the
/// outbox, not uploaded yet). A server never hands out such an id.
pub const LOCAL_MEDIA_PREFIX: &str = "local:";

/// Why an input from outside (push, server reply, cache record) was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvalidInput {
    /// The bytes are not the expected JSON shape.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// Larger than this client accepts.
    #[error("{what} is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More entries than this client accepts.
    #[error("{what} has {count} entries, more than the {max} accepted")]
    TooMany {
        /// What had too many entries.
        what: &'static str,
        /// How many it had.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A request id that is empty, too long, or has control characters.
    #[error("invalid request id {0:?}")]
    BadRequestId(String),
    /// A sequence of 0 or beyond [`MAX_SEQ`].
    #[error("sequence {0} is outside 1..={MAX_SEQ}")]
    BadSeq(Seq),
    /// A reply that contradicts the request that asked for it.
    #[error("server reply does not match the request: {0}")]
    Mismatch(String),
}

/// Checks a request id: non-empty, at most [`MAX_REQUEST_ID_LEN`] bytes, no control characters.
pub fn validate_request_id(id: &RequestId) -> Result<(), InvalidInput> {
    let s = id.as_str();
    if s.is_empty() || s.len() > MAX_REQUEST_ID_LEN || s.chars().any(char::is_control) {
        return Err(InvalidInput::BadRequestId(s.chars().take(64).collect()));
    }
    Ok(())
}

/// Checks a user id (a push recipient): 1..=128 bytes without control characters.
pub fn validate_user_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() || id.len() > MAX_USER_ID_LEN || id.chars().any(char::is_control) {
        return Err(InvalidInput::Malformed {
            what: "push payload",
            reason: format!(
                "the recipient `to` must be 1..={MAX_USER_ID_LEN} bytes without control characters"
            ),
        });
    }
    Ok(())
}

/// Checks a sequence number is in `1..=MAX_SEQ`.
pub fn validate_seq(seq: Seq) -> Result<(), InvalidInput> {
    if seq == 0 || seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(seq));
    }
    Ok(())
}

/// Checks one message from any source before it may be ingested.
pub fn validate_message(message: &Message) -> Result<(), InvalidInput> {
    validate_request_id(&message.request_id)?;
    validate_seq(message.seq)?;
    if message.body.len() > MAX_BODY_LEN {
        return Err(InvalidInput::TooLarge {
            what: "message body",
            len: message.body.len(),
            max: MAX_BODY_LEN,
        });
    }
    if message.attachments.len() > MAX_ATTACHMENTS {
        return Err(InvalidInput::TooMany {
            what: "attachment list",
            count: message.attachments.len(),
            max: MAX_ATTACHMENTS,
        });
    }
    Ok(())
}

/// Checks one entry of the backend's chat list: a valid request id and a last sequence in
/// `0..=MAX_SEQ` (0 is a chat without messages yet). Titles, names and previews are data,
/// kept as they are.
pub fn validate_summary(summary: &ChatSummary) -> Result<(), InvalidInput> {
    validate_request_id(&summary.request_id)?;
    if summary.last_seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(summary.last_seq));
    }
    // A change version only grows in the cache: one beyond range would leave a catch-up due
    // for ever.
    if summary.change_version > MAX_SEQ {
        return Err(InvalidInput::BadSeq(summary.change_version));
    }
    Ok(())
}

/// Checks a whole chat list: every entry valid and no chat listed twice. One bad entry
/// refuses the reply, as one bad message refuses a page: a reply that breaks the contract
/// is not trusted in part, and the cache keeps what it had.
pub fn validate_chat_list(list: &ChatList) -> Result<(), InvalidInput> {
    let mut seen = std::collections::HashSet::with_capacity(list.requests.len());
    for summary in &list.requests {
        validate_summary(summary)?;
        if !seen.insert(&summary.request_id) {
            return Err(InvalidInput::Mismatch(format!(
                "chat {} is listed twice",
                summary.request_id
            )));
        }
    }
    Ok(())
}

/// Checks a history page against the range that was asked for: same chat, ascending, every
/// message valid and inside `from..=to`, and `last_seq` not below any returned seq.
///
/// A hostile or broken server reply fails here and is never merged.
pub fn validate_page(
    page: &MessagesPage,
    request_id: &RequestId,
    from: Seq,
    to: Seq,
) -> Result<(), InvalidInput> {
    if &page.request_id != request_id {
        return Err(InvalidInput::Mismatch(format!(
            "asked for chat {request_id}, got {}",
            page.request_id
        )));
    }
    let mut previous: Seq = 0;
    for message in &page.messages {
        validate_message(message)?;
        if &message.request_id != request_id {
            return Err(InvalidInput::Mismatch(format!(
                "message {} of chat {} in a page of chat {request_id}",
                message.seq, message.request_id
            )));
        }
        if message.seq < from || message.seq > to {
            return Err(InvalidInput::Mismatch(format!(
                "seq {} outside the asked range {from}..={to}",
                message.seq
            )));
        }
        if message.seq <= previous {
            return Err(InvalidInput::Mismatch(format!(
                "seq {} after {previous}: not strictly ascending",
                message.seq
            )));
        }
        previous = message.seq;
    }
    if page.last_seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(page.last_seq));
    }
    if page.last_seq < previous {
        return Err(InvalidInput::Mismatch(format!(
            "last_seq {} is below returned seq {previous}",
            page.last_seq
        )));
    }
    Ok(())
}
