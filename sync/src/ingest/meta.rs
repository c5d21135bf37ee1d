//! The chat record's meta rules besides the merge: an entry of the backend's chat list
//! applied, the backend's last sequence learned, and the reader's position marked.

use crate::protocol::MAX_SEQ;
use crate::types::{ChatRecord, ChatSummary, Millis, Seq};

/// Applies one entry of the backend's chat list to a chat record (created when missing):
/// title, requester, and the backend's last sequence, which makes validation possible.
pub fn apply_summary(record: Option<ChatRecord>, summary: &ChatSummary) -> ChatRecord {
    let mut record = record.unwrap_or_else(|| ChatRecord::new(summary.request_id.clone()));
    record.title.clone_from(&summary.title);
    record.requester = Some(summary.requester.clone());
    note_backend_last_seq(&mut record, summary.last_seq);
    if summary.last_seq <= MAX_SEQ && summary.last_seq > record.held.max().unwrap_or(0) {
        if let Some(preview) = &summary.last_message {
            record.last_message = Some(preview.clone());
        }
    }
    record.updated_at = record.updated_at.max(summary.updated_at);
    crate::changes::apply_summary(&mut record, summary);
    record
}

/// The chat-list entry a record stands for, so that a chat whose cache the agent cleared
/// (the cache settings' "Clear": its messages and record go) is listed again at once, as a
/// chat the cache holds nothing of, and loads again when opened. `None` for a record no
/// chat list ever described (no requester: only a push or a fetch made it); the next list
/// brings such a chat back.
pub fn listed_summary(record: &ChatRecord) -> Option<ChatSummary> {
    Some(ChatSummary {
        request_id: record.request_id.clone(),
        title: record.title.clone(),
        requester: record.requester.clone()?,
        last_seq: record.backend_last_seq.max(record.held.max().unwrap_or(0)),
        last_message: record.last_message.clone(),
        updated_at: record.updated_at,
        change_version: record.backend_change_version,
        closed: record.closed,
    })
}

/// Records the backend's last sequence as learned from the backend itself (chat list or a
/// fetch reply). It never moves backwards: sequences are immutable.
///
/// A value beyond [`MAX_SEQ`] is ignored: it can only come from a broken or hostile reply
/// that escaped validation, and since the value never moves backwards, recording it once
/// would leave the chat with a trailing gap no fetch can ever fill.
pub fn note_backend_last_seq(record: &mut ChatRecord, last_seq: Seq) {
    if last_seq > MAX_SEQ {
        return;
    }
    record.backend_last_seq = record.backend_last_seq.max(last_seq);
    record.backend_last_seq_known = true;
}

/// How stale a chat's last-access time may get before a read mark alone rewrites the record:
/// eviction orders chats by minutes of disuse, not by frames.
pub const LAST_ACCESS_RESOLUTION_MS: Millis = 60_000;

/// What [`mark_read`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadChange {
    /// The unread count changed (views showing it must re-read).
    pub unread_changed: bool,
    /// The record must be written (read position, unread count, or a stale access time).
    pub record_changed: bool,
}

/// The agent has read the chat up to `read_seq`: the unread count drops to what lies above.
///
/// Counting exactly needs the senders of the messages above `read_seq`; reading up to the
/// newest held message (the common case) clears the count.
pub fn mark_read(record: &mut ChatRecord, read_seq: Seq, now: Millis) -> ReadChange {
    let before = (record.read_seq, record.unread);
    record.read_seq = record.read_seq.max(read_seq);
    if record.read_seq >= record.held.max().unwrap_or(0) {
        record.unread = 0;
    }
    let access_stale = now.saturating_sub(record.last_access) >= LAST_ACCESS_RESOLUTION_MS;
    record.last_access = record.last_access.max(now);
    ReadChange {
        unread_changed: before.1 != record.unread,
        record_changed: before != (record.read_seq, record.unread) || access_stale,
    }
}
