//! Requests (chats) and their messages, including the one place sequence numbers and event
//! ids are assigned.

use chat_sync::types::{Attachment, Message, RequestId, Sender, SenderRole};

use super::{is_unique_violation, with_pool, Db};

/// A request with its requester's display name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChatRow {
    /// Request id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Who opened it.
    pub requester_id: String,
    /// The requester's display name.
    pub requester_name: String,
    /// The assigned agent.
    pub agent_id: String,
    /// Highest assigned sequence.
    pub last_seq: i64,
    /// Preview of the newest message.
    pub last_message: Option<String>,
    /// Time of the newest activity (ms).
    pub updated_at: i64,
    /// The chat's change version (edits, redactions, reassignments and closes so far).
    pub change_version: i64,
    /// 1 when the request is closed, else 0.
    pub closed: i64,
}

impl ChatRow {
    /// Whether the request is closed (no sends, no edits).
    pub fn is_closed(&self) -> bool {
        self.closed != 0
    }

    /// Whether `user_id` may read and post in this chat: its agent or its requester.
    pub fn is_participant(&self, user_id: &str) -> bool {
        self.agent_id == user_id || self.requester_id == user_id
    }
}

/// A stored message row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub(super) request_id: String,
    pub(super) seq: i64,
    pub(super) id: String,
    pub(super) event_id: i64,
    pub(super) client_temp_id: Option<String>,
    pub(super) sender_id: String,
    pub(super) sender_name: String,
    pub(super) sender_role: String,
    pub(super) body: String,
    pub(super) attachments: String,
    pub(super) created_at: i64,
    pub(super) deleted: i64,
    pub(super) version: i64,
    pub(super) edited_at: Option<i64>,
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
const INSERT_COLUMNS: &str = "request_id, seq, id, event_id, client_temp_id, sender_id, \
     sender_name, sender_role, body, attachments, created_at, deleted";

/// The columns a [`MessageRow`] is read from.
pub(crate) const MESSAGE_COLUMNS: &str = "request_id, seq, id, event_id, client_temp_id, \
     sender_id, sender_name, sender_role, body, attachments, created_at, deleted, version, \
     edited_at";

const CHAT_SELECT: &str = "SELECT r.id, r.title, r.requester_id, u.name AS requester_name, \
     r.agent_id, r.last_seq, r.last_message, r.updated_at, r.change_version, r.closed \
     FROM requests r JOIN users u ON u.id = r.requester_id";

/// Length of the preview stored with a request.
pub(crate) const PREVIEW_CHARS: usize = 140;

impl Db {
    /// The chats `user_id` takes part in, newest activity first.
    pub async fn chats_for_user(&self, user_id: &str) -> Result<Vec<ChatRow>, sqlx::Error> {
        let sql = format!(
            "{CHAT_SELECT} WHERE r.agent_id = $1 OR r.requester_id = $1 \
             ORDER BY r.updated_at DESC, r.id"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, ChatRow>(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_all(pool)
                .await
        })
    }

    /// One chat.
    pub async fn chat(&self, request_id: &str) -> Result<Option<ChatRow>, sqlx::Error> {
        let sql = format!("{CHAT_SELECT} WHERE r.id = $1");
        with_pool!(self, pool => {
            sqlx::query_as::<_, ChatRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Every chat id with its requester, for the simulator.
    pub async fn all_chats(&self) -> Result<Vec<ChatRow>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, ChatRow>(CHAT_SELECT).fetch_all(pool).await
        })
    }

    /// Creates a request with no message; `Ok(false)` when the id exists.
    pub async fn create_request(
        &self,
        id: &str,
        title: &str,
        requester_id: &str,
        agent_id: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => {
            let done = sqlx::query(
                "INSERT INTO requests (id, title, requester_id, agent_id, last_seq, updated_at) \
                 VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(title)
            .bind(requester_id)
            .bind(agent_id)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Messages with `from <= seq <= to`, ascending, at most `limit`.
    pub async fn messages_range(
        &self,
        request_id: &str,
        from: u64,
        to: u64,
        limit: u64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE request_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq ASC LIMIT $4"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .bind(to_i64(from))
                .bind(to_i64(to))
                .bind(to_i64(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(MessageRow::into_message).collect())
    }

    /// The newest `limit` messages with `seq < before`, returned ascending.
    pub async fn messages_before(
        &self,
        request_id: &str,
        before: u64,
        limit: u64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE request_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .bind(to_i64(before))
                .bind(to_i64(limit))
                .fetch_all(pool)
                .await
        })?;
        let mut messages: Vec<Message> = rows.into_iter().map(MessageRow::into_message).collect();
        messages.reverse();
        Ok(messages)
    }

    /// The message stored under an idempotency key, if any.
    pub async fn message_by_temp_id(
        &self,
        request_id: &str,
        client_temp_id: &str,
    ) -> Result<Option<MessageRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE request_id = $1 AND client_temp_id = $2"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .bind(client_temp_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Stores a message, assigning the chat's next sequence and the next global event id, and
    /// queues a push to every subscription of the chat's participants (`push_outbox`).
    ///
    /// Returns the stored row and whether it is new; `None` when the chat does not exist or is
    /// closed (a repeat of a stored `client_temp_id` is still answered). In one transaction the chat row is
    /// incremented first (`UPDATE … RETURNING`): its row lock serialises concurrent senders of
    /// one chat, across processes on PostgreSQL and through the single writer on SQLite, and a
    /// rolled-back insert gives its number back, so sequences are gap-free. The event counter
    /// is locked second, always in that order (no deadlock), and held to the commit: the next
    /// sender, of any process, reads the counter only after this transaction is committed and
    /// visible. So event ids become visible in increasing order, and a reader that sees event
    /// N has seen every event below N (`routes::events` relies on it). On PostgreSQL the
    /// transaction also sends the fan-out notice (`pg_notify`), delivered on commit.
    pub async fn insert_message(
        &self,
        new: &NewMessage,
    ) -> Result<Option<(MessageRow, bool)>, sqlx::Error> {
        if let Some(key) = &new.client_temp_id {
            if let Some(existing) = self.message_by_temp_id(&new.request_id, key).await? {
                return Ok(Some((existing, false)));
            }
        }
        let attachments = serde_json::to_string(&new.attachments)
            .map_err(|e| sqlx::Error::Protocol(format!("attachments: {e}")))?;
        let preview = preview_of(new);
        // PostgreSQL announces the message to every process in its own transaction (see
        // `crate::fanout`); SQLite has one process, whose send path announces it.
        let postgres = matches!(self, Db::Postgres(_));
        let insert_sql = format!(
            "INSERT INTO messages ({INSERT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0) RETURNING {MESSAGE_COLUMNS}"
        );
        // On PostgreSQL the event counter, the insert and the notice are one statement, so the
        // counter's lock (which every sender of every chat waits for) is held for that
        // statement and the commit only, with no round trip in between.
        let insert_announced_sql = format!(
            "WITH event AS (UPDATE counters SET value = value + 1 WHERE name = 'event' \
             RETURNING value) \
             INSERT INTO messages ({INSERT_COLUMNS}) \
             SELECT $1, $2, 'm' || event.value, event.value, $3, $4, $5, $6, $7, $8, $9, 0 \
             FROM event RETURNING {MESSAGE_COLUMNS}, pg_notify($10, $11) AS notified"
        );
        let role = crate::db::users::role_text(new.sender.role);
        // The async block keeps `?` inside it, so a unique violation reaches the match below
        // instead of leaving this function early.
        let result: Result<Option<MessageRow>, sqlx::Error> = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let chat: Option<(i64, String, String)> = sqlx::query_as(
                "UPDATE requests SET last_seq = last_seq + 1, last_message = $2, updated_at = $3 \
                 WHERE id = $1 AND closed = 0 RETURNING last_seq, agent_id, requester_id",
            )
            .bind(&new.request_id)
            .bind(&preview)
            .bind(new.created_at)
            .fetch_optional(&mut *tx)
            .await?;
            match chat {
                None => Ok(None),
                Some((seq, agent_id, requester_id)) => {
                    // The chat's participants may read its files from now on.
                    for attachment in &new.attachments {
                        sqlx::query(
                            "INSERT INTO media_chats (media_id, request_id) VALUES ($1, $2) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(&attachment.media_id)
                        .bind(&new.request_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    // Its pushes are queued with it: committed together, or not at all.
                    let subscribers: Vec<(String, String)> =
                        sqlx::query_as(super::push_outbox::SUBSCRIBERS)
                            .bind(&agent_id)
                            .bind(&requester_id)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (endpoint, user_id) in &subscribers {
                        sqlx::query(super::push_outbox::ENQUEUE)
                            .bind(endpoint)
                            .bind(user_id)
                            .bind(crate::push_endpoint::host_key(endpoint))
                            .bind(&new.request_id)
                            .bind(seq)
                            .bind(crate::clock::now_ms())
                            .bind(super::push_outbox::KIND_MESSAGE)
                            .execute(&mut *tx)
                            .await?;
                    }
                    // The event counter is taken last, so its lock (which every sender of
                    // every chat waits for) is held only for the insert and the commit.
                    let row = if postgres {
                        // Every listening process hears of it when, and only if, it commits.
                        let notice = crate::fanout::Notice {
                            request_id: new.request_id.clone(),
                            seq: u64::try_from(seq).unwrap_or(0),
                            users: Some(vec![agent_id.clone(), requester_id.clone()]),
                        };
                        sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(insert_announced_sql))
                            .bind(&new.request_id)
                            .bind(seq)
                            .bind(&new.client_temp_id)
                            .bind(&new.sender.id)
                            .bind(&new.sender.name)
                            .bind(role)
                            .bind(&new.body)
                            .bind(&attachments)
                            .bind(new.created_at)
                            .bind(crate::fanout::notice::CHANNEL)
                            .bind(notice.encode())
                            .fetch_one(&mut *tx)
                            .await?
                    } else {
                        let event_id: i64 = sqlx::query_scalar(
                            "UPDATE counters SET value = value + 1 WHERE name = 'event' \
                             RETURNING value",
                        )
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(insert_sql))
                            .bind(&new.request_id)
                            .bind(seq)
                            .bind(format!("m{event_id}"))
                            .bind(event_id)
                            .bind(&new.client_temp_id)
                            .bind(&new.sender.id)
                            .bind(&new.sender.name)
                            .bind(role)
                            .bind(&new.body)
                            .bind(&attachments)
                            .bind(new.created_at)
                            .fetch_one(&mut *tx)
                            .await?
                    };
                    tx.commit().await?;
                    Ok(Some(row))
                }
            }
        }
        .await);
        match result {
            Ok(Some(row)) => Ok(Some((row, true))),
            Ok(None) => Ok(None),
            // Two sends with one key raced; the loser's transaction rolled back (returning its
            // sequence number) and the winner's row is the answer.
            Err(error) if is_unique_violation(&error) => match &new.client_temp_id {
                Some(key) => Ok(self
                    .message_by_temp_id(&new.request_id, key)
                    .await?
                    .map(|row| (row, false))),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// Stores a batch of historical messages for one chat in one transaction (demo seeding).
    ///
    /// The chat must have no message yet; seqs run from 1.
    pub async fn seed_messages(&self, messages: &[NewMessage]) -> Result<(), sqlx::Error> {
        let Some(first) = messages.first() else {
            return Ok(());
        };
        let Some(last) = messages.last() else {
            return Ok(());
        };
        let count = to_i64(messages.len() as u64);
        let preview = preview_of(last);
        const BATCH: usize = 500;
        // SQLite looks numbered parameters (`$N`) up by a linear scan, which makes a
        // 5,500-parameter statement quadratic; anonymous `?` parameters bind in order.
        let anonymous_params = matches!(self, Db::Sqlite(_));
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let last_seq: Option<i64> = sqlx::query_scalar(
                "UPDATE requests SET last_seq = last_seq + $2, last_message = $3, updated_at = $4 \
                 WHERE id = $1 RETURNING last_seq",
            )
            .bind(&first.request_id)
            .bind(count)
            .bind(&preview)
            .bind(last.created_at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(last_seq) = last_seq else {
                return Err(sqlx::Error::RowNotFound);
            };
            let last_event: i64 = sqlx::query_scalar(
                "UPDATE counters SET value = value + $1 WHERE name = 'event' RETURNING value",
            )
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
            let first_seq = last_seq - count + 1;
            let first_event = last_event - count + 1;
            for (chunk_index, chunk) in messages.chunks(BATCH).enumerate() {
                let offset = to_i64((chunk_index * BATCH) as u64);
                let mut sql = format!("INSERT INTO messages ({INSERT_COLUMNS}) VALUES ");
                for i in 0..chunk.len() {
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push('(');
                    for column in 1..=11 {
                        if anonymous_params {
                            sql.push('?');
                        } else {
                            sql.push_str(&format!("${}", i * 11 + column));
                        }
                        sql.push_str(", ");
                    }
                    sql.push_str("0)");
                }
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (i, message) in chunk.iter().enumerate() {
                    let index = offset + to_i64(i as u64);
                    let event_id = first_event + index;
                    query = query
                        .bind(message.request_id.clone())
                        .bind(first_seq + index)
                        .bind(format!("m{event_id}"))
                        .bind(event_id)
                        .bind(message.client_temp_id.clone())
                        .bind(message.sender.id.clone())
                        .bind(message.sender.name.clone())
                        .bind(crate::db::users::role_text(message.sender.role))
                        .bind(message.body.clone())
                        .bind(serde_json::to_string(&message.attachments).unwrap_or_else(|_| "[]".to_owned()))
                        .bind(message.created_at);
                }
                query.execute(&mut *tx).await?;
            }
            let posted: std::collections::BTreeSet<&str> = messages
                .iter()
                .flat_map(|m| m.attachments.iter().map(|a| a.media_id.as_str()))
                .collect();
            for media_id in posted {
                sqlx::query(
                    "INSERT INTO media_chats (media_id, request_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(media_id)
                .bind(&first.request_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The newest committed event id (0 when there is none).
    pub async fn current_event_id(&self) -> Result<u64, sqlx::Error> {
        let value: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM counters WHERE name = 'event'")
                .fetch_one(pool)
                .await
        })?;
        Ok(u64::try_from(value).unwrap_or(0))
    }

    /// Number of messages in a chat (tests and seeding checks).
    pub async fn message_count(&self, request_id: &str) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(pool)
                .await
        })
    }
}

/// The chat-list preview for a new message.
fn preview_of(new: &NewMessage) -> String {
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

/// Converts a validated `u64` (at most `MAX_SEQ`) to the database's signed integer.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
