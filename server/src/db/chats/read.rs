//! Reading stored messages: a range of sequences, the page before a sequence, the copy under
//! an idempotency key, and the counts the tests and seeding checks use.

use chat_sync::types::Message;

use super::{to_i64, MessageRow, MESSAGE_COLUMNS};
use crate::db::{with_pool, Db};

impl Db {
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

    /// The message `sender_id` stored under an idempotency key, if any (a key is its sender's:
    /// another person's message with the same key is not a repeat).
    pub async fn message_by_temp_id(
        &self,
        request_id: &str,
        sender_id: &str,
        client_temp_id: &str,
    ) -> Result<Option<MessageRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE request_id = $1 AND sender_id = $2 AND client_temp_id = $3"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(sql))
                .bind(request_id)
                .bind(sender_id)
                .bind(client_temp_id)
                .fetch_optional(pool)
                .await
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
