//! Demo seeding: a chat's whole history stored in one transaction, in batched inserts.

use super::message_row::{preview_of, INSERT_COLUMNS};
use super::{to_i64, NewMessage};
use crate::db::{with_pool, Db};

impl Db {
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
}
