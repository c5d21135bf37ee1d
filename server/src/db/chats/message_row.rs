//! How a message is stored: its row and how it becomes the wire message, the message about
//! to be stored, the columns both are written and read with, and the chat-list preview.

use chat_sync::types::{Attachment, Message, RequestId, Sender, SenderRole};

/// A stored message row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub(in crate::db) request_id: String,
    pub(in crate::db) seq: i64,
    pub(in crate::db) id: String,
    pub(in crate::db) event_id: i64,
    pub(in crate::db) client_temp_id: Option<String>,
    pub(in crate::db) sender_id: String,
    pub(in crate::db) sender_name: String,
    pub(in crate::db) sender_role: String,
    pub(in crate::db) body: String,
    pub(in crate::db) attachments: String,
    pub(in crate::db) created_at: i64,
    pub(in crate::db) deleted: i64,
    pub(in crate::db) version: i64,
    pub(in crate::db) edited_at: Option<i64>,
}

impl MessageRow {
    /// The global event id (SSE `id:`).
    pub fn event_id(&self) -> u64 {
        u64::try_from(self.event_id).unwrap_or(0)
    }

    /// The wire message.
    pub fn into_message(self) -> Message {
        let attachments: Vec<Attachment> = match serde_json::from_str(&self.attachments) {
            Ok(list) => list,
            Err(error) => {
                // A broken column must not make the whole page unreadable.
                tracing::warn!(%error, id = %self.id, "unreadable attachments column");
                Vec::new()
            }
        };
        Message {
            request_id: RequestId(self.request_id),
            seq: u64::try_from(self.seq).unwrap_or(0),
            id: self.id,
            client_temp_id: self.client_temp_id,
            sender: Sender {
                id: self.sender_id,
                name: self.sender_name,
                role: if self.sender_role == "agent" {
                    SenderRole::Agent
                } else {
                    SenderRole::Requester
                },
            },
            body: self.body,
            attachments,
            created_at: self.created_at,
            deleted: self.deleted != 0,
            version: u64::try_from(self.version).unwrap_or(0),
            edited_at: self.edited_at,
        }
    }
}

/// A message about to be stored; the database assigns `seq`, `id` and the event id.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The chat.
    pub request_id: String,
    /// Idempotency key.
    pub client_temp_id: Option<String>,
    /// Author.
    pub sender: Sender,
    /// Text.
    pub body: String,
    /// Files (already checked to exist).
    pub attachments: Vec<Attachment>,
    /// Creation time (ms).
    pub created_at: i64,
}

/// The columns a new message is inserted with (its `version` and `edited_at` start at their
/// defaults).
pub(super) const INSERT_COLUMNS: &str =
    "request_id, seq, id, event_id, client_temp_id, sender_id, \
     sender_name, sender_role, body, attachments, created_at, deleted";

/// The columns a [`MessageRow`] is read from.
pub(crate) const MESSAGE_COLUMNS: &str = "request_id, seq, id, event_id, client_temp_id, \
     sender_id, sender_name, sender_role, body, attachments, created_at, deleted, version, \
     edited_at";

/// Length of the preview stored with a request.
pub(crate) const PREVIEW_CHARS: usize = 140;

/// The chat-list preview for a new message.
pub(super) fn preview_of(new: &NewMessage) -> String {
    let message = Message {
        request_id: RequestId(new.request_id.clone()),
        seq: 1,
        id: String::new(),
        client_temp_id: None,
        sender: new.sender.clone(),
        body: new.body.clone(),
        attachments: new.attachments.clone(),
        created_at: new.created_at,
        deleted: false,
        version: 0,
        edited_at: None,
    };
    message.preview(PREVIEW_CHARS)
}
