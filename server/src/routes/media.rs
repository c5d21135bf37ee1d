//! `POST /api/media?name=FILE` (raw bytes) and `GET /api/media/{id}` (immutable bytes).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_sync::types::Attachment;
use sha2::{Digest, Sha256};

use crate::auth::{new_token, AuthUser};
use crate::db::media::MediaMeta;
use crate::db::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Longest accepted file name.
const MAX_NAME_LEN: usize = 255;

/// Stores an upload and describes it as an [`Attachment`].
pub async fn upload(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "uploads are limited to {} bytes",
                state.config.max_media_bytes
            ))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::BadRequest("the upload is empty".to_owned()));
    }
    let name = query.text("name").unwrap_or("file").trim().to_owned();
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ApiError::BadRequest(
            "name must be 1..=255 bytes without slashes or control characters".to_owned(),
        ));
    }
    let mime = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|m| !m.is_empty() && m.len() <= 127 && m.contains('/'))
        .unwrap_or("application/octet-stream")
        .to_owned();
    let meta = MediaMeta {
        id: format!("med_{}", &new_token()[..32]),
        name,
        mime,
        size: i64::try_from(body.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&body)),
    };
    state
        .db
        .insert_media(&meta, &user.id, &body, now_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Attachment {
            media_id: meta.id,
            name: meta.name,
            mime: meta.mime,
            size: body.len() as u64,
        }),
    ))
}

/// Serves stored bytes. They never change, so they are cached for a year and revalidate
/// with `If-None-Match` to a 304.
pub async fn download(
    State(state): State<AppState>,
    AuthUser(_user): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if id.len() > 128 {
        return Err(ApiError::NotFound("no such media".to_owned()));
    }
    let blob = state
        .db
        .media_blob(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no media {id}")))?;
    let etag = format!("\"{}\"", blob.sha256);
    let cache = "public, max-age=31536000, immutable";
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(ETAG, etag), (CACHE_CONTROL, cache.to_owned())],
        )
            .into_response());
    }
    Ok((
        [
            (CONTENT_TYPE, blob.mime),
            (ETAG, etag),
            (CACHE_CONTROL, cache.to_owned()),
        ],
        blob.bytes,
    )
        .into_response())
}
