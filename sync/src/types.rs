//! Domain types of the chat cache, exactly as `SPEC.md` names them: messages, their senders
//! and attachments, chat summaries as the backend lists them, and the per-chat cache record.
//!
//! Every type here is plain data with serde, shared by the browser client, the service worker
//! and the reference server, so the JSON on the wire has one definition.

use serde::{Deserialize, Serialize};

use crate::ranges::SeqRanges;

pub use crate::ranges::Seq;

/// Milliseconds since the Unix epoch. The core never reads a clock: callers pass this in.
pub type Millis = i64;

/// The identifier of a chat (a support request, or ticket).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl RequestId {
    /// Wraps a request id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for RequestId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Whether a message's author is a support agent or the requester who opened the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderRole {
    /// A support agent.
    Agent,
    /// The person who opened the request.
    Requester,
}

crate::deserialize_unit_variants!(SenderRole {
    Agent = "agent",
    Requester = "requester",
});

/// The author of a message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Sender {
    /// Stable user id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Agent or requester.
    pub role: SenderRole,
}

/// A file attached to a message; the bytes live at `GET /api/media/{media_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Attachment {
    /// Media id for `GET /api/media/{id}`.
    pub media_id: String,
    /// File name as uploaded.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
}

/// One chat message as the backend stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Message {
    /// The chat it belongs to.
    pub request_id: RequestId,
    /// Its sequence number in that chat.
    pub seq: Seq,
    /// The backend's message id.
    pub id: String,
    /// The sender's idempotency key, when the message was sent by a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_temp_id: Option<String>,
    /// Author.
    pub sender: Sender,
    /// Plain text. Never interpreted as HTML.
    pub body: String,
    /// Attached files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the backend stored it.
    pub created_at: Millis,
    /// A deleted message keeps its seq as a tombstone with an empty body.
    #[serde(default)]
    pub deleted: bool,
    /// The chat's change version of this message's latest edit or redaction; 0 while the
    /// message is as first sent. A copy with a higher version supersedes one with a lower.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
    /// When the body was last edited, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Millis>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Message {
    /// An estimate of the bytes this message occupies in the cache, used for the budget.
    ///
    /// It counts the variable-length text plus a fixed overhead for keys and numbers, which is
    /// close to what a structured-clone record costs and, above all, stable across contexts.
    pub fn approx_bytes(&self) -> u64 {
        const FIXED_OVERHEAD: usize = 96;
        let attachments: usize = self
            .attachments
            .iter()
            .map(|a| a.media_id.len() + a.name.len() + a.mime.len() + 16)
            .sum();
        (FIXED_OVERHEAD
            + self.request_id.0.len()
            + self.id.len()
            + self.client_temp_id.as_ref().map_or(0, String::len)
            + self.sender.id.len()
            + self.sender.name.len()
            + self.body.len()
            + attachments) as u64
    }

    /// A one-line preview of the body for chat lists and notifications, at most `max_chars`
    /// (plus an ellipsis when cut). A message without text previews its first attachment's
    /// name, which is data from outside like the body: it is flattened and cut the same way.
    pub fn preview(&self, max_chars: usize) -> String {
        if self.deleted {
            return "Message deleted".to_owned();
        }
        let line = |text: &str| -> String {
            text.chars()
                .map(|c| if c.is_whitespace() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_owned()
        };
        let mut text = line(&self.body);
        if text.is_empty() {
            match self.attachments.first() {
                Some(attachment) => text = format!("📎 {}", line(&attachment.name)),
                None => return String::new(),
            }
        }
        let mut preview: String = text.chars().take(max_chars).collect();
        if text.chars().count() > max_chars {
            preview.push('…');
        }
        preview
    }
}

/// A person as shown in a chat list (the requester of a request).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Person {
    /// Stable user id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// One chat as `GET /api/chat/requests` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ChatSummary {
    /// The chat.
    pub request_id: RequestId,
    /// The request's title.
    pub title: String,
    /// Who opened it.
    pub requester: Person,
    /// The backend's last sequence in this chat (0 when it has no message yet).
    pub last_seq: Seq,
    /// A preview of the last message, if any.
    #[serde(default)]
    pub last_message: Option<String>,
    /// Time of the latest activity.
    pub updated_at: Millis,
    /// The chat's change version: how many edits, redactions and access changes it has seen.
    /// A client that applied every change up to version V asks for "changes since V".
    #[serde(default)]
    pub change_version: u64,
    /// Whether the request is closed (read-only: no sends, no edits).
    #[serde(default)]
    pub closed: bool,
}

/// Where a chat stands against the backend (SPEC invariants 3, 5, 8 and 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The backend's last sequence is not known yet: nothing has been validated.
    #[default]
    Unknown,
    /// Validation passed: no interior or trailing gap.
    InSync,
    /// Validation found missing sequences; a missing-only sync is due.
    OutOfSync,
    /// Missing ranges are being fetched right now.
    Fetching,
}

crate::deserialize_unit_variants!(SyncState {
    Unknown = "unknown",
    InSync = "in_sync",
    OutOfSync = "out_of_sync",
    Fetching = "fetching",
});

/// The cache's record of one chat: its meta data and the ranges of sequences it holds.
///
/// Held ranges and counts live here and are updated in the same transaction as the messages,
/// so no read ever scans a chat's messages to learn its gaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ChatRecord {
    /// The chat.
    pub request_id: RequestId,
    /// Title, when the chat list has been seen.
    #[serde(default)]
    pub title: String,
    /// Requester, when known (from the chat list or a requester's message).
    #[serde(default)]
    pub requester: Option<Person>,
    /// The highest sequence the backend is known to have (0 when unknown).
    #[serde(default)]
    pub backend_last_seq: Seq,
    /// Whether `backend_last_seq` was learned from the backend (chat list or a fetch reply)
    /// rather than inferred from messages: validation runs only once it is known.
    #[serde(default)]
    pub backend_last_seq_known: bool,
    /// Preview of the newest message.
    #[serde(default)]
    pub last_message: Option<String>,
    /// Time of the newest activity.
    #[serde(default)]
    pub updated_at: Millis,
    /// Unread messages (incoming while the chat is not open).
    #[serde(default)]
    pub unread: u32,
    /// The highest sequence the agent has read.
    #[serde(default)]
    pub read_seq: Seq,
    /// Sequences held in the cache, as merged ranges.
    #[serde(default)]
    pub held: SeqRanges,
    /// Sequences known to be unreadable in the cache (corrupt records), to be fetched again.
    #[serde(default)]
    pub corrupt: SeqRanges,
    /// Number of cached messages (equals `held.len()`).
    #[serde(default)]
    pub message_count: u64,
    /// Approximate bytes of the cached messages.
    #[serde(default)]
    pub bytes: u64,
    /// Last time the agent opened or the cache touched this chat, for LRU eviction.
    #[serde(default)]
    pub last_access: Millis,
    /// The validation result.
    #[serde(default)]
    pub sync_state: SyncState,
    /// The change version through which every edit, redaction and access change of this
    /// chat is applied in the cache (see `crate::changes`).
    #[serde(default)]
    pub change_version: u64,
    /// The highest change version the backend is known to have.
    #[serde(default)]
    pub backend_change_version: u64,
    /// Whether the request is closed (read-only).
    #[serde(default)]
    pub closed: bool,
    /// Changes of older messages not cached yet, ascending by seq, applied when they arrive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_changes: Vec<Message>,
}

impl ChatRecord {
    /// The held seqs the cache may trust: held minus those whose records are known
    /// unreadable, which are missing for every purpose but bookkeeping.
    pub fn readable_held(&self) -> SeqRanges {
        let mut held = self.held.clone();
        held.remove_all(&self.corrupt);
        held
    }

    /// The backend's last seq, once learned (from the chat list, a fetch reply, or a pushed
    /// or live message above a hole).
    pub fn backend_last(&self) -> Option<Seq> {
        self.backend_last_seq_known.then_some(self.backend_last_seq)
    }

    /// A new, empty record for a chat the cache has never seen.
    pub fn new(request_id: RequestId) -> Self {
        Self {
            request_id,
            title: String::new(),
            requester: None,
            backend_last_seq: 0,
            backend_last_seq_known: false,
            last_message: None,
            updated_at: 0,
            unread: 0,
            read_seq: 0,
            held: SeqRanges::new(),
            corrupt: SeqRanges::new(),
            message_count: 0,
            bytes: 0,
            last_access: 0,
            sync_state: SyncState::Unknown,
            change_version: 0,
            backend_change_version: 0,
            closed: false,
            pending_changes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, attachment: Option<&str>) -> Message {
        Message {
            request_id: RequestId::from("r"),
            seq: 1,
            id: "m".into(),
            client_temp_id: None,
            sender: Sender {
                id: "q".into(),
                name: "Q".into(),
                role: SenderRole::Requester,
            },
            body: body.into(),
            attachments: attachment
                .into_iter()
                .map(|name| Attachment {
                    media_id: "med".into(),
                    name: name.into(),
                    mime: "text/plain".into(),
                    size: 1,
                })
                .collect(),
            created_at: 0,
            deleted: false,
            version: 0,
            edited_at: None,
        }
    }

    #[test]
    fn previews_are_one_line_within_the_limit() {
        assert_eq!(message("  a\nb\tc  ", None).preview(10), "a b c");
        assert_eq!(message("abcdef", None).preview(3), "abc…");
        assert_eq!(message(" \n", None).preview(10), "");
        assert_eq!(message("", Some("f.txt")).preview(10), "📎 f.txt");
        // Found by the hostile properties: the attachment fallback was neither flattened nor
        // cut, so a name of a thousand lines became a thousand-line "one-line" preview.
        let long = (0..1_000).map(|i| format!("{i}\n")).collect::<String>();
        let preview = message("\t", Some(&long)).preview(20);
        assert_eq!(preview, "📎 0 1 2 3 4 5 6 7 8 …");
        assert!(!preview.contains('\n'));
    }
}

crate::object_only_serde!(Sender, Attachment, Message, Person, ChatSummary, ChatRecord);
