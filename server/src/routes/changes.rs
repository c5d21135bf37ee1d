//! Edits, redactions and access changes (issue 16; wire types in `chat_sync::change_wire`):
//!
//! - `PATCH  /api/chat/messages` ([`EditMessage`]) → 200 the edited message (its sender only);
//! - `DELETE /api/chat/messages` ([`RedactMessage`]) → 200 the tombstone (its sender, or the
//!   chat's agent for any message of the chat);
//! - `GET    /api/chat/changes?request_id=X&since=V&limit=N` → [`ChangesPage`];
//! - `POST   /api/chat/requests/assign` ([`AssignRequest`]) → 200 the chat's summary;
//! - `POST   /api/chat/requests/close` ([`CloseRequest`]) → 200 the closed chat's summary.
//!
//! The checks, the refusals and the announcing after a change is stored are shared with the
//! requester simulator's edits, so they live in `crate::change`; here are the HTTP handlers.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::Json;
use chat_sync::change_wire::{
    AssignRequest, ChangesPage, CloseRequest, EditMessage, RedactMessage,
};
use chat_sync::protocol::{validate_request_id, MAX_SEQ};
use chat_sync::types::{ChatSummary, Message, RequestId};

use crate::auth::AuthUser;
use crate::change::{announce, announce_access_change, check_target, edit_message, refused};
use crate::cli::MAX_LIMIT;
use crate::db::changes::{ChatChange, Refusal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::chat::{page_limit, summary};
use crate::state::AppState;

/// `PATCH /api/chat/messages`: a new body for one of the caller's own messages.
pub async fn edit(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<EditMessage>,
) -> ApiResult<Json<Message>> {
    edit_message(&state, &user, body).await.map(Json)
}

/// `DELETE /api/chat/messages`: redacts a message; idempotent.
pub async fn redact(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<RedactMessage>,
) -> ApiResult<Json<Message>> {
    check_target(&body.request_id, body.seq)?;
    let (tombstone, change) = state
        .db
        .redact_message(body.request_id.as_str(), body.seq, &user.id)
        .await?
        .map_err(|r| refused(r, &body.request_id, Some(body.seq)))?;
    if let Some(change) = change {
        state.metrics.changes_stored.fetch_add(1, Ordering::Relaxed);
        announce(
            &state,
            body.request_id.as_str(),
            body.seq,
            &change.users,
            change.queued,
        );
        // The erased body's old page images leave SQLite's write-ahead log.
        state.db.checkpoint().await;
    }
    Ok(Json(tombstone))
}

/// `GET /api/chat/changes?request_id=X&since=V&limit=N`.
pub async fn changes(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    query: ApiQuery,
) -> ApiResult<Json<ChangesPage>> {
    let request_id = query.request_id()?;
    let since = query
        .number("since")?
        .ok_or_else(|| ApiError::InvalidRange("since is required".to_owned()))?;
    if since > MAX_SEQ {
        return Err(ApiError::InvalidRange(format!("since exceeds {MAX_SEQ}")));
    }
    let limit = query.number("limit")?;
    if limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(ApiError::InvalidRange(format!(
            "limit must be within 1..={MAX_LIMIT}"
        )));
    }
    let chat = state
        .db
        .chat(request_id.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no request {request_id}")))?;
    if !chat.is_participant(&user.id) {
        return Err(ApiError::Forbidden(format!(
            "you are not assigned to request {request_id}"
        )));
    }
    let version = u64::try_from(chat.change_version).unwrap_or(0);
    if since > version {
        return Err(ApiError::InvalidRange(format!(
            "since {since} is above the chat's change version {version}"
        )));
    }
    let limit = limit.unwrap_or(MAX_LIMIT).min(page_limit(&state));
    // One more than asked tells whether more follow.
    let mut changes = state
        .db
        .changes_since(&chat.id, since, version, limit + 1)
        .await?;
    let more = changes.len() as u64 > limit;
    changes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    state
        .metrics
        .served_changes
        .fetch_add(changes.len() as u64, Ordering::Relaxed);
    Ok(Json(ChangesPage {
        request_id,
        changes,
        version,
        more,
        closed: chat.is_closed(),
    }))
}

/// `POST /api/chat/requests/assign`: the assigned agent hands the chat to another agent.
pub async fn assign(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<AssignRequest>,
) -> ApiResult<Json<ChatSummary>> {
    validate_request_id(&body.request_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if body.agent.is_empty() || body.agent.len() > 128 {
        return Err(ApiError::BadRequest(
            "agent must be a user name of 1..=128 bytes".to_owned(),
        ));
    }
    let target = state
        .db
        .user_by_username(&body.agent)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {:?}", body.agent)))?;
    if target.role != "agent" {
        return Err(ApiError::BadRequest(format!(
            "{:?} is not an agent",
            body.agent
        )));
    }
    let outcome = state
        .db
        .assign_request(body.request_id.as_str(), &user.id, &target.id)
        .await?;
    answer_access_change(&state, &body.request_id, outcome).await
}

/// `POST /api/chat/requests/close`: the agent or the requester closes the chat; idempotent.
pub async fn close(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<CloseRequest>,
) -> ApiResult<Json<ChatSummary>> {
    validate_request_id(&body.request_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let outcome = state
        .db
        .close_request(body.request_id.as_str(), &user.id)
        .await?;
    answer_access_change(&state, &body.request_id, outcome).await
}

/// The end of a reassignment or a close: a refusal answered as such, a change counted and
/// announced, and the chat's summary as it now stands.
async fn answer_access_change(
    state: &AppState,
    request_id: &RequestId,
    outcome: Result<ChatChange, Refusal>,
) -> ApiResult<Json<ChatSummary>> {
    let change = outcome.map_err(|r| refused(r, request_id, None))?;
    announce_access_change(state, request_id, &change);
    current_summary(state, request_id).await
}

async fn current_summary(state: &AppState, request_id: &RequestId) -> ApiResult<Json<ChatSummary>> {
    let chat = state
        .db
        .chat(request_id.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no request {request_id}")))?;
    Ok(Json(summary(chat)))
}
