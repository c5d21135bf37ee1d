//! The agent's own changes: editing a message's body, deleting (redacting) a message, and
//! closing a request. Each goes to the server first (a change is the server's to number),
//! and its answer, the message in its new state, goes through the one ingest path like any
//! change from elsewhere, so the cache, every tab and the service worker agree at once.

use chat_sync::change_wire::{CloseRequest, EditMessage, RedactMessage};
use chat_sync::ingest::{ChangeFacts, Source};
use chat_sync::protocol::validate_summary;
use chat_sync::{ChatSummary, Message, RequestId, Seq};

use crate::error::{FetchError, SyncError};
use crate::http;
use crate::runtime::Runtime;

/// Why the server refused a change, in words for the agent.
pub fn explain(error: &SyncError) -> String {
    match error {
        SyncError::Fetch(FetchError::Refused { status, code, .. }) => {
            match (*status, code.as_str()) {
                (_, "message_deleted") => "That message was already deleted.".to_owned(),
                (_, "request_closed") => {
                    "This request is closed: it cannot change any more.".to_owned()
                }
                (403, _) => "Only the person who wrote a message can edit it.".to_owned(),
                (404, _) => "That message is not on the server.".to_owned(),
                (401, _) => "Your session ended; sign in again.".to_owned(),
                _ => error.to_string(),
            }
        }
        SyncError::Invalid { detail, .. } => detail.clone(),
        other => format!("The change could not reach the server: {other}"),
    }
}

/// Sends a new body for one of the agent's own messages; the edited message is merged.
pub async fn edit(
    runtime: &Runtime,
    request_id: &RequestId,
    seq: Seq,
    body: String,
) -> Result<Message, SyncError> {
    chat_sync::send_rules::check_edit(&body).map_err(|refusal| SyncError::Invalid {
        what: "edit",
        detail: refusal.to_string(),
    })?;
    let request = EditMessage {
        request_id: request_id.clone(),
        seq,
        body,
    };
    let text = encode(&request)?;
    let changed: Message =
        http::send_json("/api/chat/messages", "PATCH", Some(&text), "edited message").await?;
    merge(runtime, request_id, seq, changed).await
}

/// Deletes a message for everyone: the server erases its body and files, and so does the
/// cache.
pub async fn redact(
    runtime: &Runtime,
    request_id: &RequestId,
    seq: Seq,
) -> Result<Message, SyncError> {
    let request = RedactMessage {
        request_id: request_id.clone(),
        seq,
    };
    let text = encode(&request)?;
    let tombstone: Message = http::send_json(
        "/api/chat/messages",
        "DELETE",
        Some(&text),
        "deleted message",
    )
    .await?;
    merge(runtime, request_id, seq, tombstone).await
}

/// Closes a request; its summary (now closed) is applied to the cache.
pub async fn close(runtime: &Runtime, request_id: &RequestId) -> Result<ChatSummary, SyncError> {
    let request = CloseRequest {
        request_id: request_id.clone(),
    };
    let summary: ChatSummary =
        http::post_json("/api/chat/requests/close", &request, "closed request").await?;
    validate_summary(&summary).map_err(FetchError::from)?;
    if &summary.request_id != request_id {
        return Err(
            FetchError::from(chat_sync::protocol::InvalidInput::Mismatch(format!(
                "closed {request_id}, the server answered for {}",
                summary.request_id
            )))
            .into(),
        );
    }
    use chat_sync::store::Store;
    runtime
        .store()
        .apply_summaries(std::slice::from_ref(&summary), crate::platform::now_ms())
        .await?;
    runtime.announce_summary(request_id);
    Ok(summary)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, SyncError> {
    chat_sync::json::to_string(value).map_err(|e| SyncError::Invalid {
        what: "change request",
        detail: e.to_string(),
    })
}

/// Checks the server's answer names the message that was changed, then merges it.
async fn merge(
    runtime: &Runtime,
    request_id: &RequestId,
    seq: Seq,
    changed: Message,
) -> Result<Message, SyncError> {
    chat_sync::protocol::validate_message(&changed).map_err(FetchError::from)?;
    if &changed.request_id != request_id || changed.seq != seq {
        return Err(
            FetchError::from(chat_sync::protocol::InvalidInput::Mismatch(format!(
                "changed {request_id} #{seq}, the server answered for {} #{}",
                changed.request_id, changed.seq
            )))
            .into(),
        );
    }
    let facts = ChangeFacts {
        through: None,
        backend_version: changed.version,
        closed: None,
    };
    runtime
        .ingest(request_id, vec![changed.clone()], Source::Change(facts))
        .await?;
    Ok(changed)
}
