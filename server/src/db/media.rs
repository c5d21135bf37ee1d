//! Uploaded files: immutable bytes with their metadata, and who may read them.
//!
//! A file is readable by its uploader and by the participants (agent and requester) of every
//! chat it was posted in (`media_chats`, written in the transaction that stores the message).
//! Anyone else is told it does not exist.

use super::{with_pool, Db};

/// Metadata of a stored file.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MediaMeta {
    /// Media id.
    pub id: String,
    /// File name as uploaded.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes (the ETag).
    pub sha256: String,
}

/// A stored file with its bytes.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MediaBlob {
    /// File name as uploaded.
    pub name: String,
    /// MIME type as declared by the uploader (never trusted for how it is served).
    pub mime: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The condition "user `$2` may read file `m`".
const READABLE: &str = "(m.owner_id = $2 OR EXISTS (\
     SELECT 1 FROM media_chats mc JOIN requests r ON r.id = mc.request_id \
     WHERE mc.media_id = m.id AND (r.agent_id = $2 OR r.requester_id = $2)))";

impl Db {
    /// Stores a file.
    pub async fn insert_media(
        &self,
        meta: &MediaMeta,
        owner_id: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO media (id, name, mime, size, sha256, owner_id, created_at, bytes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&meta.id)
            .bind(&meta.name)
            .bind(&meta.mime)
            .bind(meta.size)
            .bind(&meta.sha256)
            .bind(owner_id)
            .bind(now)
            .bind(bytes)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Metadata of a file, without its bytes (whoever may read it).
    pub async fn media_meta(&self, id: &str) -> Result<Option<MediaMeta>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, MediaMeta>(
                "SELECT id, name, mime, size, sha256 FROM media WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
    }

    /// Metadata of a file `user_id` may read; `None` for a file they may not (or none).
    pub async fn readable_media_meta(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<Option<MediaMeta>, sqlx::Error> {
        let sql = format!(
            "SELECT m.id, m.name, m.mime, m.size, m.sha256 FROM media m WHERE m.id = $1 AND {READABLE}"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, MediaMeta>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// A file's bytes, if `user_id` may read it.
    pub async fn readable_media_blob(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<Option<MediaBlob>, sqlx::Error> {
        let sql = format!(
            "SELECT m.name, m.mime, m.sha256, m.bytes FROM media m WHERE m.id = $1 AND {READABLE}"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, MediaBlob>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })
    }
}
