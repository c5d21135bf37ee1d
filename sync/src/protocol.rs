//! The HTTP and push contract of `SPEC.md` as types: request and reply bodies, the push
//! payload, the error body, and the validation every incoming message passes before it may
//! touch a cache.
//!
//! Client and reference server both use these, so the contract has one definition.
//!
//! This module holds the contract's limits and request and reply bodies; the push payload is
//! in `push` and the validation in `validate`.

use serde::{Deserialize, Serialize};

use crate::types::{Attachment, ChatSummary, Message, RequestId, Seq};

mod push;
mod validate;

pub use crate::ranges::MAX_SEQ;
pub use push::{PushPayload, MAX_USER_ID_LEN};
pub use validate::{
    validate_chat_list, validate_message, validate_page, validate_request_id, validate_seq,
    validate_summary, validate_user_id, InvalidInput,
};

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
#[serde(remote = "Self")]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_range`.
    pub error: String,
    /// Human-readable explanation.
    pub detail: String,
}

/// `GET /api/chat/requests` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ChatList {
    /// The signed-in agent's chats.
    pub requests: Vec<ChatSummary>,
}

/// Reply of both history fetches (`from_seq`/`to_seq` and `before_seq`/`limit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The signed-in user, from `POST /api/auth/login` and `GET /api/auth/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
pub struct VapidPublicKey {
    /// The application server key, base64url without padding (uncompressed P-256 point).
    pub public_key: String,
}

/// The keys of a browser push subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PushKeys {
    /// The subscription's P-256 public key, base64url.
    pub p256dh: String,
    /// The subscription's auth secret, base64url.
    pub auth: String,
}

/// `POST /api/push/subscriptions` body: a browser `PushSubscription` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PushSubscription {
    /// The push service endpoint URL.
    pub endpoint: String,
    /// Encryption keys.
    pub keys: PushKeys,
}

/// `DELETE /api/push/subscriptions` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PushUnsubscribe {
    /// The endpoint to forget.
    pub endpoint: String,
}

/// Prefix of an attachment's `media_id` while its bytes are only local (queued in the
/// outbox, not uploaded yet). A server never hands out such an id.
pub const LOCAL_MEDIA_PREFIX: &str = "local:";

crate::object_only_serde!(
    ErrorBody,
    ChatList,
    MessagesPage,
    SendMessage,
    LoginRequest,
    CurrentUser,
    VapidPublicKey,
    PushKeys,
    PushSubscription,
    PushUnsubscribe
);
