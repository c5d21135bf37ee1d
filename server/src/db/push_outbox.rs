//! The durable Web Push queue (`push_outbox`): one row per new message (or change of a
//! message or chat, see the `KIND_*` constants) and subscription.
//!
//! Rows are written in the transaction that stores the message ([`ENQUEUE`], used by
//! `Db::insert_message`), so a push is queued exactly when its message exists. A sender
//! *claims* due rows for a lease ([`Db::claim_pushes`]): on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so several server processes on one database share the queue
//! without sending anything twice; on SQLite the single writer makes the `UPDATE` atomic.
//! A delivered row is deleted, a failed one is put back with a later `next_attempt_at`, and a
//! row whose claim ran out (its process died mid-delivery) is claimed again.

use super::{with_pool, Db};

/// The subscriptions a new message of a chat is pushed to: its agent's and its requester's
/// (`$1`, `$2`); the sender's own other devices included.
pub const SUBSCRIBERS: &str =
    "SELECT endpoint, user_id FROM push_subscriptions WHERE user_id = $1 OR user_id = $2";

/// Queues one push: endpoint, user, host, request, seq, now, kind.
pub const ENQUEUE: &str = "INSERT INTO push_outbox \
     (endpoint, user_id, host, request_id, seq, attempts, next_attempt_at, claimed_until, \
      created_at, kind) \
     VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $6, $7)";

/// A row's `kind`: a new message (`seq`), sent as a `message` push (or as a `change` push
/// when the message was edited or redacted before the push went out).
pub const KIND_MESSAGE: &str = "message";
/// An edit or redaction of message `seq`: a `change` push of its state at sending time.
pub const KIND_CHANGE: &str = "change";
/// A chat-level change (closed): a `changes` push naming the chat's change version.
pub const KIND_CHANGES: &str = "changes";
/// A chat the recipient gained: a `hint` push naming its last seq.
pub const KIND_HINT: &str = "hint";
/// A chat taken from the recipient: a `revoked` push.
pub const KIND_REVOKED: &str = "revoked";

/// A claimed push.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The subscription's endpoint.
    pub endpoint: String,
    /// The recipient.
    pub user_id: String,
    /// The endpoint's host and port (`push_endpoint::host_key`).
    pub host: String,
    /// The message's chat.
    pub request_id: String,
    /// The message's sequence number.
    pub seq: i64,
    /// Failed attempts so far.
    pub attempts: i64,
    /// What the push is ([`KIND_MESSAGE`], [`KIND_CHANGE`], [`KIND_CHANGES`], [`KIND_HINT`]
    /// or [`KIND_REVOKED`]).
    pub kind: String,
}

/// The queue's size and age, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, sqlx::FromRow)]
pub struct OutboxStats {
    /// Rows queued.
    pub depth: i64,
    /// When the oldest row was queued (ms), if any.
    pub oldest_created_at: Option<i64>,
}

const OUTBOX_COLUMNS: &str = "id, endpoint, user_id, host, request_id, seq, attempts, kind";

impl Db {
    /// Claims up to `limit` due, unclaimed rows, oldest first, for `lease_ms`, leaving out the
    /// rows of `busy_hosts` (push services this sender has no free slot for: claiming them
    /// would only hold them while they wait).
    pub async fn claim_pushes(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
        busy_hosts: &[String],
    ) -> Result<Vec<OutboxRow>, sqlx::Error> {
        // Placeholders only: the host names themselves are bound, never spliced in.
        let not_busy = if busy_hosts.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = (0..busy_hosts.len())
                .map(|i| format!("${}", i + 4))
                .collect();
            format!(" AND host NOT IN ({})", list.join(", "))
        };
        // Other processes skip the rows this one is claiming instead of waiting for them, and
        // see them claimed afterwards.
        let lock = match self {
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Db::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE push_outbox SET claimed_until = $2 WHERE id IN (\
             SELECT id FROM push_outbox WHERE next_attempt_at <= $1 AND claimed_until <= $1\
             {not_busy} ORDER BY id LIMIT $3{lock}) RETURNING {OUTBOX_COLUMNS}"
        );
        let mut rows = with_pool!(self, pool => {
            let mut query = sqlx::query_as::<_, OutboxRow>(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(now.saturating_add(lease_ms))
                .bind(limit);
            for host in busy_hosts {
                query = query.bind(host);
            }
            query.fetch_all(pool).await
        })?;
        // `RETURNING` follows no `ORDER BY`: oldest first again.
        rows.sort_by_key(|row| row.id);
        Ok(rows)
    }

    /// Gives claimed rows back untouched (not attempted: their host was busy, or this
    /// process is stopping).
    pub async fn release_pushes(&self, ids: &[i64]) -> Result<(), sqlx::Error> {
        // At most one claim batch at a time; placeholders only, the ids are bound.
        for chunk in ids.chunks(100) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE push_outbox SET claimed_until = 0 WHERE id IN ({})",
                list.join(", ")
            );
            with_pool!(self, pool => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    query = query.bind(id);
                }
                query.execute(pool).await.map(|_| ())
            })?;
        }
        Ok(())
    }

    /// Removes a row: delivered, or given up.
    pub async fn delete_push(&self, id: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM push_outbox WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|_| ())
        })
    }

    /// Puts a failed row back for another attempt at `next_attempt_at`.
    pub async fn retry_push(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE push_outbox SET attempts = $2, next_attempt_at = $3, claimed_until = 0 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(attempts)
            .bind(next_attempt_at)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Deletes the oldest rows beyond `max`; how many.
    pub async fn trim_pushes(&self, max: i64) -> Result<u64, sqlx::Error> {
        // The subquery walks the primary key from the newest row to the (max + 1)-th; with
        // fewer rows it is NULL and nothing is deleted.
        with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM push_outbox WHERE id <= \
                 (SELECT id FROM push_outbox ORDER BY id DESC LIMIT 1 OFFSET $1)",
            )
            .bind(max)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
    }

    /// How many rows are queued and how old the oldest is.
    pub async fn push_queue_stats(&self) -> Result<OutboxStats, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, OutboxStats>(
                "SELECT COUNT(*) AS depth, MIN(created_at) AS oldest_created_at FROM push_outbox",
            )
            .fetch_one(pool)
            .await
        })
    }
}
