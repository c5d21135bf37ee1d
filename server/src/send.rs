//! The single send path: every new message (HTTP send, simulator) is validated, stored with
//! its sequence number and its queued pushes, then announced to SSE streams (through the
//! fan-out) and the Web Push sender.

use std::sync::atomic::Ordering;

use chat_sync::protocol::{validate_request_id, SendMessage, MAX_ATTACHMENTS, MAX_BODY_LEN};
use chat_sync::types::{Message, Sender};

use crate::clock::now_ms;
use crate::db::chats::NewMessage;
use crate::db::users::UserRow;
use crate::error::{ApiError, ApiResult};
use crate::fanout::Notice;
use crate::state::AppState;

/// Longest accepted idempotency key (bytes).
pub const MAX_CLIENT_TEMP_ID_LEN: usize = 128;

/// Checks a message body (of a send or an edit): at most `MAX_BODY_LEN` bytes (413), and no
/// control character but tab, line feed and carriage return (400).
pub fn validate_body(body: &str) -> ApiResult<()> {
    if body.len() > MAX_BODY_LEN {
        return Err(ApiError::TooLarge(format!(
            "the message body is {} bytes, more than the {MAX_BODY_LEN} accepted",
            body.len()
        )));
    }
    // Plain text may hold tabs and line breaks, no other control character: NUL cannot be
    // stored in PostgreSQL's `text` at all (it failed as a 500 before this check), and the
    // rest (terminal escapes, bells, C1 controls) are never text a person typed.
    if let Some((at, c)) = body
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ApiError::BadRequest(format!(
            "the message body has the control character U+{:04X} at byte {at}; only tab, \
             line feed and carriage return are allowed",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Stores `request` as sent by `user`; returns the stored message and whether it is new
/// (`false` for a repeat of a known `client_temp_id`).
pub async fn send_message(
    state: &AppState,
    user: &UserRow,
    request: SendMessage,
) -> ApiResult<(Message, bool)> {
    validate_request_id(&request.request_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let key = request.client_temp_id.trim();
    if key.is_empty() || key.len() > MAX_CLIENT_TEMP_ID_LEN || key.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "client_temp_id must be 1..={MAX_CLIENT_TEMP_ID_LEN} bytes of printable text"
        )));
    }
    validate_body(&request.body)?;
    if request.attachments.len() > MAX_ATTACHMENTS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_ATTACHMENTS} attachments per message"
        )));
    }
    if request.body.trim().is_empty() && request.attachments.is_empty() {
        return Err(ApiError::BadRequest(
            "a message needs a body or an attachment".to_owned(),
        ));
    }
    let chat = state
        .db
        .chat(request.request_id.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no request {}", request.request_id)))?;
    if !chat.is_participant(&user.id) {
        return Err(ApiError::Forbidden(format!(
            "you are not assigned to request {}",
            request.request_id
        )));
    }
    // Attachments are described by the server's own record of the upload, never by the
    // client's claims about name, type or size. Only a file the sender may read can be
    // attached: posting someone else's media id would otherwise open it to this chat.
    let mut attachments = Vec::with_capacity(request.attachments.len());
    for attachment in &request.attachments {
        let meta = state
            .db
            .readable_media_meta(&attachment.media_id, &user.id)
            .await?
            .ok_or_else(|| {
                ApiError::BadRequest(format!("unknown media id {:?}", attachment.media_id))
            })?;
        attachments.push(chat_sync::types::Attachment {
            media_id: meta.id,
            name: meta.name,
            mime: meta.mime,
            size: u64::try_from(meta.size).unwrap_or(0),
        });
    }
    let new = NewMessage {
        request_id: chat.id.clone(),
        client_temp_id: Some(key.to_owned()),
        sender: Sender {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role(),
        },
        body: request.body,
        attachments,
        created_at: now_ms(),
    };
    // A closed chat takes no new message, but a repeat of one stored before it closed is
    // still answered with that message (`insert_message` looks the key up first).
    let Some((row, created)) = state.db.insert_message(&new).await? else {
        return Err(match state.db.chat(&chat.id).await? {
            Some(now) if now.is_closed() => {
                ApiError::RequestClosed(format!("request {} is closed", chat.id))
            }
            _ => ApiError::NotFound(format!("no request {}", chat.id)),
        });
    };
    let message = row.into_message();
    if created {
        state
            .metrics
            .messages_stored
            .fetch_add(1, Ordering::Relaxed);
        // The streams of every process that show this chat look for it (on PostgreSQL the
        // notice already went out with the transaction).
        state.fanout.committed(&Notice {
            request_id: chat.id.clone(),
            seq: message.seq,
            users: Some(vec![chat.agent_id.clone(), chat.requester_id.clone()]),
        });
        // Its pushes were queued with it; the sender (of this process or another) sends them.
        state.push_wake.notify_one();
    }
    Ok((message, created))
}
