//! Changes of one message: an edit, a redaction (which erases the body and the attached
//! files), and the SQLite checkpoint that moves a redacted body out of the write-ahead log.

use chat_sync::types::{Attachment, Message};

use super::{MessageChange, Refusal};
use crate::db::chats::{to_i64, MessageRow, MESSAGE_COLUMNS};
use crate::db::{with_pool, Db};

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
