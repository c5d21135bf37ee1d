//! The validation every input from outside passes before it may touch a cache: request and
//! user ids, sequences, messages, chat list entries and whole lists, and history pages
//! against the range asked for, with the typed refusal [`InvalidInput`].

use thiserror::Error;

use super::{
    ChatList, MessagesPage, MAX_ATTACHMENTS, MAX_BODY_LEN, MAX_REQUEST_ID_LEN, MAX_SEQ,
    MAX_USER_ID_LEN,
};
use crate::types::{ChatSummary, Message, RequestId, Seq};

/// Why an input from outside (push, server reply, cache record) was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvalidInput {
    /// The bytes are not the expected JSON shape.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// Larger than this client accepts.
    #[error("{what} is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More entries than this client accepts.
    #[error("{what} has {count} entries, more than the {max} accepted")]
    TooMany {
        /// What had too many entries.
        what: &'static str,
        /// How many it had.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A request id that is empty, too long, or has control characters.
    #[error("invalid request id {0:?}")]
    BadRequestId(String),
    /// A sequence of 0 or beyond [`MAX_SEQ`].
    #[error("sequence {0} is outside 1..={MAX_SEQ}")]
    BadSeq(Seq),
    /// A reply that contradicts the request that asked for it.
    #[error("server reply does not match the request: {0}")]
    Mismatch(String),
}

/// Checks a request id: non-empty, at most [`MAX_REQUEST_ID_LEN`] bytes, no control characters.
pub fn validate_request_id(id: &RequestId) -> Result<(), InvalidInput> {
    let s = id.as_str();
    if s.is_empty() || s.len() > MAX_REQUEST_ID_LEN || s.chars().any(char::is_control) {
        return Err(InvalidInput::BadRequestId(s.chars().take(64).collect()));
    }
    Ok(())
}

/// Checks a user id (a push recipient): 1..=128 bytes without control characters.
pub fn validate_user_id(id: &str) -> Result<(), InvalidInput> {
    if id.is_empty() || id.len() > MAX_USER_ID_LEN || id.chars().any(char::is_control) {
        return Err(InvalidInput::Malformed {
            what: "push payload",
            reason: format!(
                "the recipient `to` must be 1..={MAX_USER_ID_LEN} bytes without control characters"
            ),
        });
    }
    Ok(())
}

/// Checks a sequence number is in `1..=MAX_SEQ`.
pub fn validate_seq(seq: Seq) -> Result<(), InvalidInput> {
    if seq == 0 || seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(seq));
    }
    Ok(())
}

/// Checks one message from any source before it may be ingested.
pub fn validate_message(message: &Message) -> Result<(), InvalidInput> {
    validate_request_id(&message.request_id)?;
    validate_seq(message.seq)?;
    if message.body.len() > MAX_BODY_LEN {
        return Err(InvalidInput::TooLarge {
            what: "message body",
            len: message.body.len(),
            max: MAX_BODY_LEN,
        });
    }
    if message.attachments.len() > MAX_ATTACHMENTS {
        return Err(InvalidInput::TooMany {
            what: "attachment list",
            count: message.attachments.len(),
            max: MAX_ATTACHMENTS,
        });
    }
    Ok(())
}

/// Checks one entry of the backend's chat list: a valid request id and a last sequence in
/// `0..=MAX_SEQ` (0 is a chat without messages yet). Titles, names and previews are data,
/// kept as they are.
pub fn validate_summary(summary: &ChatSummary) -> Result<(), InvalidInput> {
    validate_request_id(&summary.request_id)?;
    if summary.last_seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(summary.last_seq));
    }
    // A change version only grows in the cache: one beyond range would leave a catch-up due
    // for ever.
    if summary.change_version > MAX_SEQ {
        return Err(InvalidInput::BadSeq(summary.change_version));
    }
    Ok(())
}

/// Checks a whole chat list: every entry valid and no chat listed twice. One bad entry
/// refuses the reply, as one bad message refuses a page: a reply that breaks the contract
/// is not trusted in part, and the cache keeps what it had.
pub fn validate_chat_list(list: &ChatList) -> Result<(), InvalidInput> {
    let mut ids = Vec::with_capacity(list.requests.len());
    for summary in &list.requests {
        validate_summary(summary)?;
        ids.push(&summary.request_id);
    }
    // Sorted, a chat listed twice has its two entries side by side (a sort instead of a
    // hash set: no table code in the browser builds for one check).
    crate::sort::sort(&mut ids);
    match ids.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(InvalidInput::Mismatch(format!(
            "chat {} is listed twice",
            pair[0]
        ))),
        None => Ok(()),
    }
}

/// Checks a history page against the range that was asked for: same chat, ascending, every
/// message valid and inside `from..=to`, and `last_seq` not below any returned seq.
///
/// A hostile or broken server reply fails here and is never merged.
pub fn validate_page(
    page: &MessagesPage,
    request_id: &RequestId,
    from: Seq,
    to: Seq,
) -> Result<(), InvalidInput> {
    if &page.request_id != request_id {
        return Err(InvalidInput::Mismatch(format!(
            "asked for chat {request_id}, got {}",
            page.request_id
        )));
    }
    let mut previous: Seq = 0;
    for message in &page.messages {
        validate_message(message)?;
        if &message.request_id != request_id {
            return Err(InvalidInput::Mismatch(format!(
                "message {} of chat {} in a page of chat {request_id}",
                message.seq, message.request_id
            )));
        }
        if message.seq < from || message.seq > to {
            return Err(InvalidInput::Mismatch(format!(
                "seq {} outside the asked range {from}..={to}",
                message.seq
            )));
        }
        if message.seq <= previous {
            return Err(InvalidInput::Mismatch(format!(
                "seq {} after {previous}: not strictly ascending",
                message.seq
            )));
        }
        previous = message.seq;
    }
    if page.last_seq > MAX_SEQ {
        return Err(InvalidInput::BadSeq(page.last_seq));
    }
    if page.last_seq < previous {
        return Err(InvalidInput::Mismatch(format!(
            "last_seq {} is below returned seq {previous}",
            page.last_seq
        )));
    }
    Ok(())
}
