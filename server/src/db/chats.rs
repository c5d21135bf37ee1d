//! Requests (chats) and their messages, including the one place sequence numbers and event
//! ids are assigned.
//!
//! This module holds the chat rows and their queries; its children hold the messages: how a
//! message is stored (`message_row`), read (`read`), sent (`insert`) and seeded in bulk
//! (`seed`).

mod insert;
mod message_row;
mod read;
mod seed;

pub use message_row::{MessageRow, NewMessage};
pub(crate) use message_row::{MESSAGE_COLUMNS, PREVIEW_CHARS};

use super::{with_pool, Db};

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

const CHAT_SELECT: &str = "SELECT r.id, r.title, r.requester_id, u.name AS requester_name, \
     r.agent_id, r.last_seq, r.last_message, r.updated_at, r.change_version, r.closed \
     FROM requests r JOIN users u ON u.id = r.requester_id";

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
}

/// Converts a validated `u64` (at most `MAX_SEQ`) to the database's signed integer.
pub fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
