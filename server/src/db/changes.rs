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
//! ([`Db::checkpoint`]), so the erased text is in neither file.

use chat_sync::types::{Attachment, Message};

use super::chats::{to_i64, MessageRow, MESSAGE_COLUMNS, PREVIEW_CHARS};
use super::push_outbox::{KIND_CHANGE, KIND_CHANGES, KIND_HINT, KIND_REVOKED};
use super::{with_pool, Db};
use crate::clock::now_ms;
use crate::fanout::notice::CHANNEL;
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

/// `request_events.kind` of the event to the agent who lost a chat.
pub const EVENT_REVOKED: &str = "revoked";
/// `request_events.kind` of the event to those who gained a chat or saw it closed.
pub const EVENT_CHAT: &str = "chat";

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

/// Bumps the chat's change version inside `$tx`: `Some((version, agent_id, requester_id,
/// last_seq, closed))`, or `None` when there is no such chat.
macro_rules! bump_version {
    ($tx:expr, $request_id:expr) => {
        sqlx::query_as::<_, (i64, String, String, i64, i64)>(
            "UPDATE requests SET change_version = change_version + 1 WHERE id = $1 \
             RETURNING change_version, agent_id, requester_id, last_seq, closed",
        )
        .bind($request_id)
        .fetch_optional(&mut *$tx)
        .await?
    };
}

/// Queues a push of `$kind` about `$request_id` (`$seq`) to every subscription of users
/// `$a` and `$b` (the same user twice for one); how many.
macro_rules! enqueue {
    ($tx:expr, $a:expr, $b:expr, $request_id:expr, $seq:expr, $kind:expr) => {{
        let subscribers: Vec<(String, String)> = sqlx::query_as(super::push_outbox::SUBSCRIBERS)
            .bind($a)
            .bind($b)
            .fetch_all(&mut *$tx)
            .await?;
        for (endpoint, user_id) in &subscribers {
            sqlx::query(super::push_outbox::ENQUEUE)
                .bind(endpoint)
                .bind(user_id)
                .bind(crate::push_endpoint::host_key(endpoint))
                .bind($request_id)
                .bind($seq)
                .bind(now_ms())
                .bind($kind)
                .execute(&mut *$tx)
                .await?;
        }
        subscribers.len()
    }};
}

/// Takes the next global event id inside `$tx` (held to the commit: see the module doc).
macro_rules! next_event_id {
    ($tx:expr) => {
        sqlx::query_scalar::<_, i64>(
            "UPDATE counters SET value = value + 1 WHERE name = 'event' RETURNING value",
        )
        .fetch_one(&mut *$tx)
        .await?
    };
}

/// On PostgreSQL, sends the fan-out notice with the transaction `$tx` (delivered on commit).
macro_rules! notify {
    ($tx:expr, $postgres:expr, $notice:expr) => {
        if $postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind($notice.encode())
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// Inserts the chat-level event `$kind` for user `$user`.
macro_rules! chat_event {
    ($tx:expr, $event_id:expr, $user:expr, $request_id:expr, $kind:expr) => {
        sqlx::query(
            "INSERT INTO request_events (event_id, user_id, request_id, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($event_id)
        .bind($user)
        .bind($request_id)
        .bind($kind)
        .bind(now_ms())
        .execute(&mut *$tx)
        .await?
    };
}

/// The end of an edit or a redaction of `$message` inside `$tx`: the chat's preview when it
/// is the last message, the pushes to both participants, the new event id the stream reads
/// it by, the fan-out notice, and the commit. Evaluates to `(users, pushes queued)`.
macro_rules! finish_message_change {
    ($tx:expr, $postgres:expr, $request_id:expr, $seq:expr, $last_seq:expr, $message:expr,
     $agent_id:expr, $requester_id:expr) => {{
        if $seq == $last_seq {
            sqlx::query("UPDATE requests SET last_message = $2 WHERE id = $1")
                .bind($request_id)
                .bind($message.preview(PREVIEW_CHARS))
                .execute(&mut *$tx)
                .await?;
        }
        let queued = enqueue!(
            $tx,
            &$agent_id,
            &$requester_id,
            $request_id,
            $seq,
            KIND_CHANGE
        );
        let event_id = next_event_id!($tx);
        sqlx::query("UPDATE messages SET event_id = $3 WHERE request_id = $1 AND seq = $2")
            .bind($request_id)
            .bind($seq)
            .bind(event_id)
            .execute(&mut *$tx)
            .await?;
        let users = vec![$agent_id, $requester_id];
        notify!($tx, $postgres, notice($request_id, $message.seq, &users));
        $tx.commit().await?;
        (users, queued)
    }};
}

fn message_select() -> String {
    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE request_id = $1 AND seq = $2")
}

impl Db {
    /// Replaces the body of message `seq` of `request_id`, by `user_id`, who must be its
    /// sender and still take part in the chat; the chat must be open and the message not
    /// redacted. The message takes the chat's next change version and `edited_at = now`.
    pub async fn edit_message(
        &self,
        request_id: &str,
        seq: u64,
        user_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Result<MessageChange, Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        let select = message_select();
        let seq = to_i64(seq);
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((version, agent_id, requester_id, last_seq, closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if agent_id != user_id && requester_id != user_id {
                return Ok(Err(Refusal::NotParticipant));
            }
            if closed != 0 {
                return Ok(Err(Refusal::Closed));
            }
            let Some(row) = sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(select))
                .bind(request_id)
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Err(Refusal::NoMessage));
            };
            if row.sender_id != user_id {
                return Ok(Err(Refusal::NotAllowed("only its sender may edit a message")));
            }
            if row.deleted != 0 {
                return Ok(Err(Refusal::Deleted));
            }
            let mut message = row.into_message();
            if body.trim().is_empty() && message.attachments.is_empty() {
                return Ok(Err(Refusal::Empty));
            }
            message.body = body.to_owned();
            message.version = u64::try_from(version).unwrap_or(0);
            message.edited_at = Some(now);
            sqlx::query(
                "UPDATE messages SET body = $3, version = $4, edited_at = $5 \
                 WHERE request_id = $1 AND seq = $2",
            )
            .bind(request_id)
            .bind(seq)
            .bind(body)
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let (users, queued) = finish_message_change!(
                tx,
                postgres,
                request_id,
                seq,
                last_seq,
                &message,
                agent_id,
                requester_id
            );
            Ok(Ok(MessageChange { message, users, queued }))
        }
        .await)
    }

    /// Redacts message `seq` of `request_id`, by `user_id`: its sender, or the chat's agent
    /// for any message of the chat (closed chats included). The body and attachments are
    /// erased from the row and the attached files deleted. Redacting a tombstone changes
    /// nothing and answers it (`Ok(Ok((tombstone, None)))`).
    pub async fn redact_message(
        &self,
        request_id: &str,
        seq: u64,
        user_id: &str,
    ) -> Result<Result<(Message, Option<MessageChange>), Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        let select = message_select();
        let seq = to_i64(seq);
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((version, agent_id, requester_id, last_seq, _closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if agent_id != user_id && requester_id != user_id {
                return Ok(Err(Refusal::NotParticipant));
            }
            let Some(row) = sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(select))
                .bind(request_id)
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Err(Refusal::NoMessage));
            };
            if row.sender_id != user_id && agent_id != user_id {
                return Ok(Err(Refusal::NotAllowed(
                    "only its sender or the chat's agent may delete a message",
                )));
            }
            if row.deleted != 0 {
                // Final already: the transaction rolls back, giving the version back.
                return Ok(Ok((row.into_message(), None)));
            }
            let mut message = row.into_message();
            let media: Vec<String> = message
                .attachments
                .iter()
                .map(|a: &Attachment| a.media_id.clone())
                .collect();
            message.body = String::new();
            message.attachments = Vec::new();
            message.deleted = true;
            message.version = u64::try_from(version).unwrap_or(0);
            sqlx::query(
                "UPDATE messages SET body = '', attachments = '[]', deleted = 1, version = $3 \
                 WHERE request_id = $1 AND seq = $2",
            )
            .bind(request_id)
            .bind(seq)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            // The files' bytes go for everyone: a pasted screenshot of a password must not
            // stay downloadable through another message that names the same file.
            for media_id in &media {
                sqlx::query("DELETE FROM media_chats WHERE media_id = $1")
                    .bind(media_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM media WHERE id = $1")
                    .bind(media_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let (users, queued) = finish_message_change!(
                tx,
                postgres,
                request_id,
                seq,
                last_seq,
                &message,
                agent_id,
                requester_id
            );
            Ok(Ok((message.clone(), Some(MessageChange { message, users, queued }))))
        }
        .await)
    }

    /// Hands chat `request_id` from its agent `by` to agent `to` (checked to be an agent by
    /// the caller). The previous agent's queued pushes about the chat are dropped and a
    /// `revoked` push and event queued for them; the new agent gets a `chat` event and a
    /// `hint` push, the requester a `chat` event. Handing it to its own agent changes nothing.
    pub async fn assign_request(
        &self,
        request_id: &str,
        by: &str,
        to: &str,
    ) -> Result<Result<ChatChange, Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((_version, agent_id, requester_id, last_seq, _closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if requester_id == by {
                return Ok(Err(Refusal::NotAllowed(
                    "only the assigned agent may hand a request over",
                )));
            }
            if agent_id != by {
                return Ok(Err(Refusal::NotParticipant));
            }
            if agent_id == to {
                return Ok(Ok(ChatChange {
                    changed: false,
                    users: Vec::new(),
                    queued: 0,
                }));
            }
            sqlx::query("UPDATE requests SET agent_id = $2 WHERE id = $1")
                .bind(request_id)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            // What was queued for the previous agent about this chat is not sent any more
            // (the sender checks again when it builds a payload).
            sqlx::query(
                "DELETE FROM push_outbox WHERE request_id = $1 AND user_id = $2 AND kind <> $3",
            )
            .bind(request_id)
            .bind(&agent_id)
            .bind(KIND_REVOKED)
            .execute(&mut *tx)
            .await?;
            let mut queued = enqueue!(tx, &agent_id, &agent_id, request_id, 0i64, KIND_REVOKED);
            if last_seq > 0 {
                queued += enqueue!(tx, to, to, request_id, last_seq, KIND_HINT);
            }
            let event_id = next_event_id!(tx);
            chat_event!(tx, event_id, &agent_id, request_id, EVENT_REVOKED);
            chat_event!(tx, event_id, to, request_id, EVENT_CHAT);
            chat_event!(tx, event_id, &requester_id, request_id, EVENT_CHAT);
            let users = vec![agent_id, to.to_owned(), requester_id];
            notify!(tx, postgres, notice(request_id, 0, &users));
            tx.commit().await?;
            Ok(Ok(ChatChange {
                changed: true,
                users,
                queued,
            }))
        }
        .await)
    }

    /// Closes chat `request_id`, by `by` (its agent or its requester): no sends and no edits
    /// from then on. The agent and the requester get a `chat` event and a `changes` push.
    /// Closing a closed chat changes nothing.
    pub async fn close_request(
        &self,
        request_id: &str,
        by: &str,
    ) -> Result<Result<ChatChange, Refusal>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let Some((version, agent_id, requester_id, _last_seq, closed)) =
                bump_version!(tx, request_id)
            else {
                return Ok(Err(Refusal::NoChat));
            };
            if agent_id != by && requester_id != by {
                return Ok(Err(Refusal::NotParticipant));
            }
            if closed != 0 {
                return Ok(Ok(ChatChange {
                    changed: false,
                    users: Vec::new(),
                    queued: 0,
                }));
            }
            sqlx::query("UPDATE requests SET closed = 1 WHERE id = $1")
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            let queued = enqueue!(tx, &agent_id, &requester_id, request_id, version, KIND_CHANGES);
            let event_id = next_event_id!(tx);
            chat_event!(tx, event_id, &agent_id, request_id, EVENT_CHAT);
            chat_event!(tx, event_id, &requester_id, request_id, EVENT_CHAT);
            let users = vec![agent_id, requester_id];
            notify!(tx, postgres, notice(request_id, 0, &users));
            tx.commit().await?;
            Ok(Ok(ChatChange {
                changed: true,
                users,
                queued,
            }))
        }
        .await)
    }

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

    /// On SQLite, moves the write-ahead log into the database file and truncates it, so a
    /// redacted body's old page images leave the log (best effort: a reader holding an old
    /// snapshot can keep part of it until the next checkpoint). Nothing on PostgreSQL, whose
    /// dead row versions go with (auto)vacuum.
    pub async fn checkpoint(&self) {
        if let Db::Sqlite(pool) = self {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
            {
                tracing::warn!(%error, "WAL checkpoint after a redaction failed");
            }
        }
    }
}

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
