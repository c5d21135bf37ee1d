//! Reading changes back: a chat's changed messages since a change version (the paged
//! `GET /api/chat/changes`), and a user's event stream after an event id, messages and
//! chat-level events in one order.

use chat_sync::types::Message;

use crate::db::chats::{to_i64, MessageRow, MESSAGE_COLUMNS};
use crate::db::{with_pool, Db};

/// One item of a user's event stream, in event id order.
#[derive(Debug)]
pub enum StreamItem {
    /// A message of one of the user's chats, in its current state (new when its version is
    /// 0, changed otherwise).
    Message(MessageRow),
    /// A chat-level event addressed to the user.
    Chat {
        /// The global event id.
        event_id: u64,
        /// The chat.
        request_id: String,
        /// `revoked` or `chat`.
        kind: String,
    },
}

impl StreamItem {
    /// The global event id (SSE `id:`).
    pub fn event_id(&self) -> u64 {
        match self {
            StreamItem::Message(row) => row.event_id(),
            StreamItem::Chat { event_id, .. } => *event_id,
        }
    }
}

/// One row of the event stream's union of messages and chat-level events.
#[derive(sqlx::FromRow)]
struct EventRow {
    kind: String,
    event_id: i64,
    request_id: String,
    seq: Option<i64>,
    id: Option<String>,
    client_temp_id: Option<String>,
    sender_id: Option<String>,
    sender_name: Option<String>,
    sender_role: Option<String>,
    body: Option<String>,
    attachments: Option<String>,
    created_at: Option<i64>,
    deleted: Option<i64>,
    version: Option<i64>,
    edited_at: Option<i64>,
}

impl EventRow {
    fn into_item(self) -> StreamItem {
        if self.kind == "message" {
            StreamItem::Message(MessageRow {
                request_id: self.request_id,
                seq: self.seq.unwrap_or(0),
                id: self.id.unwrap_or_default(),
                event_id: self.event_id,
                client_temp_id: self.client_temp_id,
                sender_id: self.sender_id.unwrap_or_default(),
                sender_name: self.sender_name.unwrap_or_default(),
                sender_role: self.sender_role.unwrap_or_default(),
                body: self.body.unwrap_or_default(),
                attachments: self.attachments.unwrap_or_else(|| "[]".to_owned()),
                created_at: self.created_at.unwrap_or(0),
                deleted: self.deleted.unwrap_or(0),
                version: self.version.unwrap_or(0),
                edited_at: self.edited_at,
            })
        } else {
            StreamItem::Chat {
                event_id: u64::try_from(self.event_id).unwrap_or(0),
                request_id: self.request_id,
                kind: self.kind,
            }
        }
    }
}

impl Db {
    /// The messages of `request_id` changed after version `since` and at most at `through`
    /// (the chat's change version read before), ascending by version, at most `limit`.
    ///
    /// Every change up to `through` is committed when `through` is read (the chat row's lock
    /// orders them), so this read sees each of them, in its current state; a message changed
    /// again since then is left out here and reported after `through`.
    pub async fn changes_since(
        &self,
        request_id: &str,
        since: u64,
        through: u64,
        limit: u64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE request_id = $1 AND version > $2 \
             AND version <= $3 ORDER BY version ASC LIMIT $4"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .bind(to_i64(since))
                .bind(to_i64(through))
                .bind(to_i64(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(MessageRow::into_message).collect())
    }

    /// What `user_id`'s event stream shows after event id `after`, in event order, at most
    /// `limit`: the messages of the chats they take part in now (new or changed, in their
    /// current state) and the chat-level events addressed to them. One statement, so one
    /// snapshot: the in-order visibility of event ids holds across both tables.
    pub async fn events_after(
        &self,
        user_id: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<StreamItem>, sqlx::Error> {
        let columns = MESSAGE_COLUMNS
            .split(',')
            .map(|c| c.trim())
            .filter(|c| *c != "event_id" && *c != "request_id")
            .collect::<Vec<_>>();
        let message_columns = columns
            .iter()
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nulls = columns
            .iter()
            .map(|c| format!("NULL AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT * FROM (\
             SELECT CAST('message' AS TEXT) AS kind, m.event_id, m.request_id, {message_columns} \
             FROM messages m JOIN requests r ON r.id = m.request_id \
             WHERE m.event_id > $1 AND (r.agent_id = $2 OR r.requester_id = $2) \
             UNION ALL \
             SELECT e.kind, e.event_id, e.request_id, {nulls} \
             FROM request_events e WHERE e.event_id > $1 AND e.user_id = $2\
             ) events ORDER BY event_id ASC LIMIT $3"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
                .bind(to_i64(after))
                .bind(user_id)
                .bind(to_i64(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(EventRow::into_item).collect())
    }
}
