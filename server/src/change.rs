//! The shared path of a stored change (edit, redaction, reassignment, close), as `send.rs` is
//! for a new message: checking the target, answering a refusal, and telling the streams and
//! the push sender once the change is stored. The edit itself lives here too, because the
//! route (`PATCH /api/chat/messages`) and the requester simulator both make edits.
//!
//! Each change is stored by `db::changes` in one transaction with its event id and its
//! queued pushes; here the streams are told (the fan-out) and the push sender woken.

use std::sync::atomic::Ordering;

use chat_sync::change_wire::EditMessage;
use chat_sync::protocol::{validate_request_id, MAX_SEQ};
use chat_sync::types::{Message, RequestId};

use crate::clock::now_ms;
use crate::db::changes::{committed_notice, ChatChange, Refusal};
use crate::db::users::UserRow;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The answer for a refused change of chat `request_id` (message `seq`, if any).
pub fn refused(refusal: Refusal, request_id: &RequestId, seq: Option<u64>) -> ApiError {
    let message = || match seq {
        Some(seq) => format!("message {seq} of request {request_id}"),
        None => format!("request {request_id}"),
    };
    match refusal {
        Refusal::NoChat => ApiError::NotFound(format!("no request {request_id}")),
        Refusal::NotParticipant => {
            ApiError::Forbidden(format!("you are not assigned to request {request_id}"))
        }
        Refusal::NoMessage => ApiError::NotFound(format!("no {}", message())),
        Refusal::NotAllowed(why) => ApiError::Forbidden(why.to_owned()),
        Refusal::Closed => ApiError::RequestClosed(format!("request {request_id} is closed")),
        Refusal::Deleted => {
            ApiError::MessageDeleted(format!("{} is deleted; a deletion is final", message()))
        }
        Refusal::Empty => {
            ApiError::BadRequest("a message needs a body or an attachment".to_owned())
        }
    }
}

/// Checks the target of an edit or a redaction: a valid request id, and a seq within
/// `1..=MAX_SEQ` (400 otherwise).
pub fn check_target(request_id: &RequestId, seq: u64) -> ApiResult<()> {
    validate_request_id(request_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if seq == 0 || seq > MAX_SEQ {
        return Err(ApiError::BadRequest(format!(
            "seq must be within 1..={MAX_SEQ}"
        )));
    }
    Ok(())
}

/// Tells the streams of `users` (on every process) and wakes the push sender.
pub fn announce(state: &AppState, request_id: &str, seq: u64, users: &[String], queued: usize) {
    state
        .fanout
        .committed(&committed_notice(request_id, seq, users));
    if queued > 0 {
        state.push_wake.notify_one();
    }
}

/// The one edit path (HTTP, simulator): validates, stores, announces; the edited message.
pub async fn edit_message(
    state: &AppState,
    user: &UserRow,
    body: EditMessage,
) -> ApiResult<Message> {
    check_target(&body.request_id, body.seq)?;
    crate::send::validate_body(&body.body)?;
    let change = state
        .db
        .edit_message(
            body.request_id.as_str(),
            body.seq,
            &user.id,
            &body.body,
            now_ms(),
        )
        .await?
        .map_err(|r| refused(r, &body.request_id, Some(body.seq)))?;
    state.metrics.changes_stored.fetch_add(1, Ordering::Relaxed);
    announce(
        state,
        body.request_id.as_str(),
        body.seq,
        &change.users,
        change.queued,
    );
    Ok(change.message)
}

/// Counts and announces a reassignment or a close that changed something (a repeat does not).
pub fn announce_access_change(state: &AppState, request_id: &RequestId, change: &ChatChange) {
    if change.changed {
        state.metrics.changes_stored.fetch_add(1, Ordering::Relaxed);
        announce(state, request_id.as_str(), 0, &change.users, change.queued);
    }
}
