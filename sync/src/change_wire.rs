//! The wire contract of edits, redactions and access changes (issue 16), beside the base
//! contract in [`crate::protocol`].
//!
//! Sequences stay immutable; what changes travels beside them. Every change of a chat (an
//! edit, a redaction, a reassignment, a close) takes the chat's next **change version**, a
//! second per-chat counter, strictly increasing. A changed message carries the version of its
//! latest change (`Message::version`), so of two copies of one message the higher version is
//! the newer; a redaction is final. A client that applied every change up to version V asks
//! `GET /api/chat/changes?request_id=X&since=V&limit=N` and gets each message changed after V
//! in its current state, ascending by version, paged like a range fetch.
//!
//! - `PATCH  /api/chat/messages` [`EditMessage`] → the edited [`Message`] (its sender only).
//! - `DELETE /api/chat/messages` [`RedactMessage`] → the tombstone (its sender, or the chat's
//!   agent for any message of the chat): body and attachments erased, the attachments' bytes
//!   deleted at the server.
//! - `GET    /api/chat/changes` → [`ChangesPage`].
//! - `POST   /api/chat/requests/assign` [`AssignRequest`] → the chat's [`ChatSummary`]; the
//!   previous agent is answered 403 for that chat from then on.
//! - `POST   /api/chat/requests/close` [`CloseRequest`] → the closed chat's summary; a closed
//!   chat takes no sends and no edits (409 `request_closed`), redactions still.
//! - Event stream: `event: change` (a changed [`Message`]), `event: revoked`
//!   ([`RevokedNotice`], to the agent who lost the chat) and `event: chat` (a [`ChatSummary`],
//!   to those who gained the chat or saw it closed), all on the one event id sequence.
//! - Web Push: `change` (the changed message), `changes` (a hint: fetch the changes since the
//!   cached version) and `revoked` (see [`crate::protocol::PushPayload`]).

use serde::{Deserialize, Serialize};

use crate::protocol::{validate_message, validate_request_id, InvalidInput, MAX_SEQ};
use crate::types::{Message, RequestId, Seq};

/// `PATCH /api/chat/messages` body: a new body for one of the caller's own messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct EditMessage {
    /// The chat.
    pub request_id: RequestId,
    /// The message.
    pub seq: Seq,
    /// The new plain-text body.
    pub body: String,
}

/// `DELETE /api/chat/messages` body: redact one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct RedactMessage {
    /// The chat.
    pub request_id: RequestId,
    /// The message.
    pub seq: Seq,
}

/// `POST /api/chat/requests/assign` body: hand the chat to another agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct AssignRequest {
    /// The chat.
    pub request_id: RequestId,
    /// The user name of the agent who takes it.
    pub agent: String,
}

/// `POST /api/chat/requests/close` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct CloseRequest {
    /// The chat.
    pub request_id: RequestId,
}

/// `event: revoked` data, and what a `revoked` push names: the chat was taken from the
/// recipient, whose cache must let go of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct RevokedNotice {
    /// The chat.
    pub request_id: RequestId,
}

/// `GET /api/chat/changes?request_id=X&since=V&limit=N` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ChangesPage {
    /// The chat.
    pub request_id: RequestId,
    /// Messages changed after `since`, each in its current state, ascending by version.
    pub changes: Vec<Message>,
    /// The chat's change version at the time of the reply.
    pub version: u64,
    /// Whether changes after the last one returned remain (ask again from its version).
    pub more: bool,
    /// Whether the request is closed.
    #[serde(default)]
    pub closed: bool,
}

impl ChangesPage {
    /// The version the client has applied every change up to once this page is merged.
    pub fn applied_through(&self) -> u64 {
        match (self.more, self.changes.last()) {
            (true, Some(last)) => last.version,
            _ => self.version,
        }
    }
}

/// Checks a changes page against its request: same chat, every change a valid message of it
/// with a version in `since+1..=version`, ascending, and `more` only with something returned.
pub fn validate_changes_page(
    page: &ChangesPage,
    request_id: &RequestId,
    since: u64,
) -> Result<(), InvalidInput> {
    validate_request_id(&page.request_id)?;
    if &page.request_id != request_id {
        return Err(InvalidInput::Mismatch(format!(
            "asked for the changes of chat {request_id}, got {}",
            page.request_id
        )));
    }
    if page.version > MAX_SEQ || page.version < since {
        return Err(InvalidInput::Mismatch(format!(
            "change version {} is below the asked {since} or out of range",
            page.version
        )));
    }
    let mut previous = since;
    for change in &page.changes {
        validate_message(change)?;
        if &change.request_id != request_id {
            return Err(InvalidInput::Mismatch(format!(
                "a change of chat {} in the changes of {request_id}",
                change.request_id
            )));
        }
        if change.version <= previous || change.version > page.version {
            return Err(InvalidInput::Mismatch(format!(
                "change version {} after {previous} (chat at {}): not ascending within the page",
                change.version, page.version
            )));
        }
        previous = change.version;
    }
    if page.more && page.changes.is_empty() {
        return Err(InvalidInput::Mismatch(
            "a changes page says more follow but returned none".to_owned(),
        ));
    }
    Ok(())
}

crate::object_only_serde!(
    EditMessage,
    RedactMessage,
    AssignRequest,
    CloseRequest,
    RevokedNotice,
    ChangesPage
);
