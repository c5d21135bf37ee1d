//! What one message the agent writes (or an edit of one) may carry, checked before it is
//! queued or sent: the contract's
//! limits (the server refuses the same, so a message over them would only be parked as
//! refused later, after the agent moved on). The composer's glue asks here; it keeps no
//! copies of the limits.

use crate::protocol::{validate_request_id, MAX_ATTACHMENTS, MAX_BODY_LEN};
use crate::types::RequestId;

/// The largest attachment accepted: the reference server's default upload limit (10 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

/// Why a message was refused before it was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendRefusal {
    /// The chat id is not one the contract accepts.
    #[error("{0}")]
    BadChatId(String),
    /// Neither text nor a file.
    #[error("a message needs text or an attachment")]
    Empty,
    /// The text is longer than the server accepts.
    #[error("the text is {len} bytes; at most {max} are sent")]
    BodyTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More files than one message may carry.
    #[error("{count} attachments; at most {max} are sent")]
    TooManyAttachments {
        /// How many were attached.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One file is larger than the server accepts.
    #[error("{name} is {len} bytes; at most {max} are uploaded")]
    AttachmentTooLarge {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        len: u64,
        /// The limit.
        max: u64,
    },
}

impl SendRefusal {
    /// What was refused, in a word (the chat id, the message, or one attachment).
    pub fn what(&self) -> &'static str {
        match self {
            SendRefusal::BadChatId(_) => "chat id",
            SendRefusal::AttachmentTooLarge { .. } => "attachment",
            _ => "message",
        }
    }
}

/// Why an edit was refused before it was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditRefusal {
    /// No text: an edit cannot empty a message (deleting it is the way).
    #[error("An edited message needs some text; delete it instead.")]
    Empty,
    /// The new text is longer than the server accepts.
    #[error("A message holds at most {max} bytes of text.")]
    BodyTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Checks an edit's new text before it is sent: some text, within the server's limit.
pub fn check_edit(body: &str) -> Result<(), EditRefusal> {
    if body.trim().is_empty() {
        return Err(EditRefusal::Empty);
    }
    if body.len() > MAX_BODY_LEN {
        return Err(EditRefusal::BodyTooLong {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    Ok(())
}

/// Checks a message before it is queued: the chat id, text or a file, the text's length, the
/// number of files and each file's size (`attachments` as name and bytes).
pub fn check_send(
    request_id: &RequestId,
    body: &str,
    attachments: &[(&str, u64)],
) -> Result<(), SendRefusal> {
    validate_request_id(request_id).map_err(|e| SendRefusal::BadChatId(e.to_string()))?;
    if body.trim().is_empty() && attachments.is_empty() {
        return Err(SendRefusal::Empty);
    }
    if body.len() > MAX_BODY_LEN {
        return Err(SendRefusal::BodyTooLong {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(SendRefusal::TooManyAttachments {
            count: attachments.len(),
            max: MAX_ATTACHMENTS,
        });
    }
    if let Some((name, len)) = attachments
        .iter()
        .find(|(_, len)| *len > MAX_ATTACHMENT_BYTES)
    {
        return Err(SendRefusal::AttachmentTooLarge {
            name: (*name).to_owned(),
            len: *len,
            max: MAX_ATTACHMENT_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> RequestId {
        RequestId::from("REQ-1")
    }

    #[test]
    fn text_or_a_file_within_the_limits_is_accepted() {
        assert_eq!(check_send(&chat(), "hello", &[]), Ok(()));
        assert_eq!(check_send(&chat(), "", &[("a.png", 10)]), Ok(()));
        let edge = "x".repeat(MAX_BODY_LEN);
        assert_eq!(check_send(&chat(), &edge, &[]), Ok(()));
        let files: Vec<(&str, u64)> = vec![("f", MAX_ATTACHMENT_BYTES); MAX_ATTACHMENTS];
        assert_eq!(check_send(&chat(), "", &files), Ok(()));
    }

    #[test]
    fn an_edit_needs_text_within_the_limit() {
        assert_eq!(check_edit("fixed"), Ok(()));
        assert_eq!(check_edit(&"x".repeat(MAX_BODY_LEN)), Ok(()));
        assert_eq!(check_edit(" \n"), Err(EditRefusal::Empty));
        let long = check_edit(&"x".repeat(MAX_BODY_LEN + 1)).unwrap_err();
        assert_eq!(
            long.to_string(),
            format!("A message holds at most {MAX_BODY_LEN} bytes of text.")
        );
    }

    #[test]
    fn each_limit_is_refused_with_what_and_why() {
        assert_eq!(check_send(&chat(), "  \n", &[]), Err(SendRefusal::Empty));
        let long = "x".repeat(MAX_BODY_LEN + 1);
        let refusal = check_send(&chat(), &long, &[]).unwrap_err();
        assert_eq!(refusal.what(), "message");
        assert_eq!(
            refusal.to_string(),
            format!(
                "the text is {} bytes; at most {MAX_BODY_LEN} are sent",
                MAX_BODY_LEN + 1
            )
        );
        let many: Vec<(&str, u64)> = vec![("f", 1); MAX_ATTACHMENTS + 1];
        assert!(matches!(
            check_send(&chat(), "files", &many),
            Err(SendRefusal::TooManyAttachments { count: 17, max: 16 })
        ));
        let large = check_send(&chat(), "", &[("big.iso", MAX_ATTACHMENT_BYTES + 1)]).unwrap_err();
        assert_eq!(large.what(), "attachment");
        assert!(large.to_string().starts_with("big.iso is "), "{large}");
        let bad = check_send(&RequestId::from(""), "hi", &[]).unwrap_err();
        assert_eq!(bad.what(), "chat id");
    }
}
