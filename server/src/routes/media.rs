//! `POST /api/media?name=FILE` (raw bytes) and `GET /api/media/{id}` (immutable bytes,
//! served inert to the uploader and the participants of the chats they were posted in).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_sync::types::Attachment;
use sha2::{Digest, Sha256};

use crate::auth::{new_token, AuthUser};
use crate::clock::now_ms;
use crate::db::media::MediaMeta;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::media_policy;
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

/// Serves stored bytes to a user who may read them (see `db::media`), inert whatever they
/// are (see [`crate::media_policy`]). They never change, so a client revalidating a copy
/// with `If-None-Match` gets a `304`, but only after the same access check: its copy may
/// have been fetched by another agent of the same browser.
pub async fn download(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if id.len() > 128 {
        return Err(ApiError::NotFound("no such media".to_owned()));
    }
    // A file the user may not read is "not found", so ids cannot be probed.
    let blob = state
        .db
        .readable_media_blob(&id, &user.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no media {id}")))?;
    let etag = format!("\"{}\"", blob.sha256);
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let content = media_policy::content_headers(&blob.mime, &blob.name, &blob.bytes);
        (content, blob.bytes).into_response()
    };
    let out = response.headers_mut();
    for (name, value) in media_policy::security_headers() {
        out.insert(name, value);
    }
    if let Ok(etag) = axum::http::HeaderValue::from_str(&etag) {
        out.insert(ETAG, etag);
    }
    Ok(response)
}
