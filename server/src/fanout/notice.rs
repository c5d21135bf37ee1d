//! The notice that announces a committed message to every server process: which chat, which
//! seq, and the users whose streams care. It is tiny on purpose (the
//! message itself is read from the table) and always fits PostgreSQL's `NOTIFY` payload limit
//! of 8,000 bytes: a notice whose user list would not fit drops the list, which its readers
//! take as "wake every stream".

use serde::{Deserialize, Serialize};

/// The `LISTEN`/`NOTIFY` channel every process listens on.
pub const CHANNEL: &str = "chat_events";

/// The longest payload written. PostgreSQL refuses 8,000 bytes and more; the margin keeps
/// clear of it whatever the encoding of the request id.
pub const MAX_PAYLOAD: usize = 7_900;

/// A committed message, announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The chat.
    #[serde(rename = "r")]
    pub request_id: String,
    /// The message's sequence number in its chat.
    #[serde(rename = "s")]
    pub seq: u64,
    /// The users whose streams should look (the chat's agent and requester); `None` wakes
    /// every stream.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
}

/// A payload that is no notice of ours.
#[derive(Debug, thiserror::Error)]
#[error("unreadable fan-out notice ({len} bytes): {source}")]
pub struct NoticeError {
    len: usize,
    #[source]
    source: serde_json::Error,
}

impl Notice {
    /// The payload: JSON, at most [`MAX_PAYLOAD`] bytes.
    pub fn encode(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        if text.len() <= MAX_PAYLOAD && !text.is_empty() {
            return text;
        }
        // Too long for NOTIFY: the readers wake every stream instead of the named ones. The
        // request id is bounded (`MAX_REQUEST_ID_LEN`), so this always fits.
        let bare = Notice {
            users: None,
            ..self.clone()
        };
        serde_json::to_string(&bare).unwrap_or_default()
    }

    /// Reads a payload written by [`Notice::encode`].
    pub fn decode(payload: &str) -> Result<Self, NoticeError> {
        serde_json::from_str(payload).map_err(|source| NoticeError {
            len: payload.len(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_and_an_oversized_one_drops_its_users() {
        let notice = Notice {
            request_id: "REQ-1".to_owned(),
            seq: 7,
            users: Some(vec!["u_alice".to_owned(), "u_r1".to_owned()]),
        };
        let text = notice.encode();
        assert!(text.len() < 80, "{text}");
        assert_eq!(Notice::decode(&text).unwrap(), notice);

        let crowded = Notice {
            users: Some(vec!["x".repeat(200); 100]),
            ..notice.clone()
        };
        let text = crowded.encode();
        assert!(text.len() <= MAX_PAYLOAD);
        assert_eq!(Notice::decode(&text).unwrap().users, None, "wake everyone");
        assert!(Notice::decode("{\"r\":1}").is_err());
    }
}
