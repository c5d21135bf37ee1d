//! The Web Push payload of the contract: what a server pushes for a new message or a change
//! (whole when it fits, else a hint), and a revocation, each naming its recipient.

use serde::{Deserialize, Serialize};

use super::PUSH_INLINE_LIMIT;
use crate::types::{Message, RequestId, Seq};

/// The decrypted body of a Web Push message.
///
/// Every payload names its recipient (`to`, the user id the subscription belongs to at the
/// server). A browser profile can hold a subscription of an agent who has since signed out
/// (the unsubscribe did not reach the server, say), so the worker checks `to` against the
/// agent it has confirmed before anything is stored or shown: one agent's pushes never land
/// in another's cache or notifications on a shared machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// Decoded flat, without serde's buffering (see [`crate::tagged`]).
impl<'de> Deserialize<'de> for PushPayload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use crate::tagged::required;
        #[derive(Clone, Copy)]
        enum Tag {
            Message,
            Hint,
            Change,
            Changes,
            Revoked,
        }
        crate::deserialize_unit_variants!(Tag {
            Message = "message",
            Hint = "hint",
            Change = "change",
            Changes = "changes",
            Revoked = "revoked",
        });
        #[derive(Deserialize)]
        #[serde(remote = "Self")]
        struct Flat {
            kind: Tag,
            to: Option<String>,
            message: Option<Message>,
            request_id: Option<RequestId>,
            seq: Option<Seq>,
            version: Option<u64>,
        }
        let flat = Flat::deserialize(crate::object_only::ObjectOnly(deserializer))?;
        let to = required(flat.to, "to")?;
        Ok(match flat.kind {
            Tag::Message => PushPayload::Message {
                to,
                message: required(flat.message, "message")?,
            },
            Tag::Hint => PushPayload::Hint {
                to,
                request_id: required(flat.request_id, "request_id")?,
                seq: required(flat.seq, "seq")?,
            },
            Tag::Change => PushPayload::Change {
                to,
                message: required(flat.message, "message")?,
            },
            Tag::Changes => PushPayload::Changes {
                to,
                request_id: required(flat.request_id, "request_id")?,
                version: required(flat.version, "version")?,
            },
            Tag::Revoked => PushPayload::Revoked {
                to,
                request_id: required(flat.request_id, "request_id")?,
            },
        })
    }
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
        match crate::json::to_string(&whole) {
            Ok(text) if text.len() <= PUSH_INLINE_LIMIT => whole,
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
        match crate::json::to_string(&whole) {
            Ok(text) if text.len() <= PUSH_INLINE_LIMIT => whole,
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
