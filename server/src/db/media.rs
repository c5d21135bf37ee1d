//! Uploaded files: immutable bytes with their metadata.

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
    /// MIME type.
    pub mime: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

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

    /// Metadata of a file, without its bytes.
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

    /// A file's bytes.
    pub async fn media_blob(&self, id: &str) -> Result<Option<MediaBlob>, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, MediaBlob>("SELECT mime, sha256, bytes FROM media WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })
    }
}
