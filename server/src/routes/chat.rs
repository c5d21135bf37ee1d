//! `GET /api/chat/requests`, `GET /api/chat/messages` (range and cursor), and
//! `POST /api/chat/messages`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chat_sync::protocol::{ChatList, MessagesPage, SendMessage, MAX_SEQ};
use chat_sync::types::{ChatSummary, Message, Person, RequestId};

use crate::auth::AuthUser;
use crate::cli::MAX_LIMIT;
use crate::db::chats::ChatRow;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::send::send_message;
use crate::state::AppState;

/// The widest `from_seq..=to_seq` span accepted; wider asks are refused with 400.
pub const MAX_SPAN: u64 = 1_000_000;

/// The signed-in user's chats.
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<ChatList>> {
    let rows = state.db.chats_for_user(&user.id).await?;
    Ok(Json(ChatList {
        requests: rows.into_iter().map(summary).collect(),
    }))
}

/// A chat row as the wire's summary.
pub fn summary(row: ChatRow) -> ChatSummary {
    ChatSummary {
        request_id: RequestId(row.id),
        title: row.title,
        requester: Person {
            id: row.requester_id,
            name: row.requester_name,
        },
        last_seq: u64::try_from(row.last_seq).unwrap_or(0),
        last_message: row.last_message,
        updated_at: row.updated_at,
        change_version: u64::try_from(row.change_version).unwrap_or(0),
        closed: row.closed != 0,
    }
}

/// The server's page limit now (the test fault switch may lower it).
pub fn page_limit(state: &AppState) -> u64 {
    state
        .faults
        .current()
        .page_limit
        .unwrap_or(state.config.page_limit)
        .clamp(1, MAX_LIMIT)
}

/// What a history request asks for, after validation.
enum Window {
    Range { from: u64, to: u64 },
    Cursor { before: u64, limit: u64 },
}

fn parse_window(query: &ApiQuery) -> ApiResult<Window> {
    let from = query.number("from_seq")?;
    let to = query.number("to_seq")?;
    let before = query.number("before_seq")?;
    let limit = query.number("limit")?;
    match (from, to, before, limit) {
        (Some(from), Some(to), None, None) => {
            if from == 0 || to == 0 {
                return Err(ApiError::InvalidRange("sequences start at 1".to_owned()));
            }
            if from > to {
                return Err(ApiError::InvalidRange(format!(
                    "from_seq {from} is greater than to_seq {to}"
                )));
            }
            if to > MAX_SEQ {
                return Err(ApiError::InvalidRange(format!("to_seq exceeds {MAX_SEQ}")));
            }
            if to - from >= MAX_SPAN {
                return Err(ApiError::InvalidRange(format!(
                    "the range spans more than {MAX_SPAN} sequences"
                )));
            }
            Ok(Window::Range { from, to })
        }
        (None, None, Some(before), Some(limit)) => {
            if before == 0 || before > MAX_SEQ.saturating_add(1) {
                return Err(ApiError::InvalidRange(format!(
                    "before_seq must be within 1..={}",
                    MAX_SEQ + 1
                )));
            }
            if limit == 0 || limit > MAX_LIMIT {
                return Err(ApiError::InvalidRange(format!(
                    "limit must be within 1..={MAX_LIMIT}"
                )));
            }
            Ok(Window::Cursor { before, limit })
        }
        _ => Err(ApiError::InvalidRange(
            "give either from_seq and to_seq, or before_seq and limit".to_owned(),
        )),
    }
}

/// A window of a chat's history: by range or by cursor.
pub async fn fetch(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    query: ApiQuery,
) -> ApiResult<Json<MessagesPage>> {
    let request_id = query.request_id()?;
    let window = parse_window(&query)?;
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
    let page_limit = page_limit(&state);
    let messages: Vec<Message> = match window {
        Window::Range { from, to } => {
            let messages = state
                .db
                .messages_range(&chat.id, from, to, page_limit)
                .await?;
            state
                .metrics
                .served_range
                .fetch_add(messages.len() as u64, Ordering::Relaxed);
            state
                .served_log
                .record(&user.id, request_id.as_str(), "range", &messages);
            messages
        }
        Window::Cursor { before, limit } => {
            let messages = state
                .db
                .messages_before(&chat.id, before, limit.min(page_limit))
                .await?;
            state
                .metrics
                .served_cursor
                .fetch_add(messages.len() as u64, Ordering::Relaxed);
            state
                .served_log
                .record(&user.id, request_id.as_str(), "cursor", &messages);
            messages
        }
    };
    // The chat row is read before the messages, so a message stored in between can only
    // make `last_seq` look older than the page, never newer: report the larger of the two.
    let returned_max = messages.last().map_or(0, |m| m.seq);
    let last_seq = u64::try_from(chat.last_seq).unwrap_or(0).max(returned_max);
    Ok(Json(MessagesPage {
        request_id,
        messages,
        last_seq,
        page_limit,
    }))
}

/// Sends a message: 201 with the stored message, or 200 with the stored message when the
/// `client_temp_id` was already used.
pub async fn send(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<SendMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let (message, created) = send_message(&state, &user, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message)))
}
