//! Sending: the one place a message's sequence number and event id are assigned, with its
//! queued pushes and (on PostgreSQL) its fan-out notice, in one transaction.

use super::message_row::{preview_of, INSERT_COLUMNS};
use super::{MessageRow, NewMessage, MESSAGE_COLUMNS};
use crate::db::{is_unique_violation, with_pool, Db};

impl Db {
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
            if let Some(existing) = self
                .message_by_temp_id(&new.request_id, &new.sender.id, key)
                .await?
            {
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
                        sqlx::query_as(crate::db::push_outbox::SUBSCRIBERS)
                            .bind(&agent_id)
                            .bind(&requester_id)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (endpoint, user_id) in &subscribers {
                        sqlx::query(crate::db::push_outbox::ENQUEUE)
                            .bind(endpoint)
                            .bind(user_id)
                            .bind(crate::push_endpoint::host_key(endpoint))
                            .bind(&new.request_id)
                            .bind(seq)
                            .bind(crate::clock::now_ms())
                            .bind(crate::db::push_outbox::KIND_MESSAGE)
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
                    .message_by_temp_id(&new.request_id, &new.sender.id, key)
                    .await?
                    .map(|row| (row, false))),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }
}
