//! Edits, redactions, reassignment and closing (issue 16): every change of a chat takes the
//! chat's next **change version**, a second per-chat counter beside `last_seq`.
//!
//! Each change is one transaction, in the same lock order as `Db::insert_message`: the chat
//! row first (`UPDATE requests SET change_version = change_version + 1 … RETURNING`, whose row
//! lock serialises the chat's changes and sends, across processes on PostgreSQL; a refused or
//! rolled-back change gives its version back), then the change itself and its queued pushes
//! (`push_outbox`), and the global event counter last, held to the commit. So change events
//! become visible in event-id order like messages, and a stream reading "everything above
//! the last id sent" neither skips nor repeats one. On PostgreSQL the transaction also sends
//! the fan-out notice (`pg_notify`), delivered on commit.
//!
//! An edited or redacted message moves to the new event id (`messages.event_id`), so a stream
//! reads it once more, in its current state, as an `event: change`. Chat-level events (`revoked`
//! to the agent who lost a chat, `chat` to those who gained it or saw it closed) are rows of
//! `request_events`, one per recipient, on the same event id sequence.
//!
//! A redaction erases: the body becomes empty and the attachments list empty in the row, the
//! attached files' bytes are deleted (`media`, `media_chats`), and on SQLite freed space is
//! zeroed (`secure_delete`) and the write-ahead log is checkpointed afterwards
//! ([`Db::checkpoint`](super::Db::checkpoint)), so the erased text is in neither file.
//!
//! This module holds what a change answers and the fan-out notice; its children hold the
//! transaction steps every change is built from (`steps`), the changes of one message
//! (`message`), the changes of a whole chat (`chat`), and the reads of changes and of a
//! user's event stream (`read`).

#[macro_use]
mod steps;
mod chat;
mod message;
mod read;

pub use read::StreamItem;

use chat_sync::types::Message;

use crate::fanout::Notice;

/// Why a change was refused; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such chat.
    NoChat,
    /// The user takes no part in the chat (any more).
    NotParticipant,
    /// No message with that seq in the chat.
    NoMessage,
    /// A participant, but not allowed this change (the reason).
    NotAllowed(&'static str),
    /// The request is closed.
    Closed,
    /// The message is redacted (a redaction is final).
    Deleted,
    /// An edit would leave a message with no body and no attachment.
    Empty,
}

/// A committed change of a message.
#[derive(Clone, Debug)]
pub struct MessageChange {
    /// The message in its new state (`version` > 0).
    pub message: Message,
    /// The chat's agent and requester (whose streams look).
    pub users: Vec<String>,
    /// Pushes queued with it.
    pub queued: usize,
}

/// A committed (or, when `changed` is false, already standing) chat-level change.
#[derive(Clone, Debug)]
pub struct ChatChange {
    /// Whether anything was written (false: already so, nothing new).
    pub changed: bool,
    /// The users whose streams look.
    pub users: Vec<String>,
    /// Pushes queued with it.
    pub queued: usize,
}

/// `request_events.kind` of the event to the agent who lost a chat.
pub const EVENT_REVOKED: &str = "revoked";
/// `request_events.kind` of the event to those who gained a chat or saw it closed.
pub const EVENT_CHAT: &str = "chat";

/// The fan-out notice of a change (`seq` 0 for a chat-level one).
fn notice(request_id: &str, seq: u64, users: &[String]) -> Notice {
    Notice {
        request_id: request_id.to_owned(),
        seq,
        users: Some(users.to_vec()),
    }
}

/// The notice the route hands to the fan-out after the commit (in process on SQLite; on
/// PostgreSQL it already went out with the transaction).
pub fn committed_notice(request_id: &str, seq: u64, users: &[String]) -> Notice {
    notice(request_id, seq, users)
}
