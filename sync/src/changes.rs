//! The rules for edits, redactions and access changes (issue 16), decided once for every
//! source (live stream, Web Push, the changes catch-up, and any history fetch).
//!
//! - **A newer version wins.** Two copies of one message are ordered by `Message::version`
//!   (the chat's change version of the message's latest change); a copy older than the cached
//!   one is stale and writes nothing.
//! - **A redaction is final.** A tombstone is never replaced, whatever version follows, and a
//!   tombstone is stored erased: no body, no attachments, whatever a copy carried.
//! - **A change of a message not cached yet is kept** ([`ChatRecord::pending_changes`]) when
//!   the message lies in older history (below the oldest cached seq), so it does not open an
//!   interior gap; when that message arrives, from a fetch that raced the change say, the
//!   newer of the two copies is stored. A change at or above the oldest cached seq is a whole
//!   message and is cached like any other arrival.
//! - **The change cursor.** `change_version` is the version through which every change of
//!   the chat has been applied; `backend_change_version` the highest the backend is known to
//!   have. A change that follows the cursor directly advances it; any other leaves a hole, and
//!   [`changes_since`] says a catch-up of the changes after the cursor is due (one paged
//!   request, like a range fetch, never the whole chat).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::types::{ChatRecord, ChatSummary, Message, Millis, RequestId, Seq};

/// The most changes of uncached older messages a chat record keeps; past it the lowest
/// versions go first (their messages, when fetched, come from the server already changed).
pub const MAX_PENDING_CHANGES: usize = 500;

/// What to do with an incoming copy of a message the cache already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Identical: nothing to write.
    Duplicate,
    /// The cached copy is newer (or a tombstone): the incoming one is stale.
    KeepCached,
    /// The incoming copy supersedes the cached one.
    Replace,
}

/// Orders two copies of one message: a tombstone is final, then the higher version wins;
/// at equal versions the server's copy (the incoming one) wins.
pub fn merge(cached: &Message, incoming: &Message) -> Merge {
    if cached == incoming {
        return Merge::Duplicate;
    }
    if cached.deleted {
        return Merge::KeepCached;
    }
    if incoming.deleted || incoming.version >= cached.version {
        Merge::Replace
    } else {
        Merge::KeepCached
    }
}

/// A message as it may be stored: a tombstone loses its body and attachments whatever the
/// copy carried, so a redacted body never reaches the cache.
pub fn erase_if_deleted(mut message: Message) -> Message {
    if message.deleted {
        message.body.clear();
        message.attachments.clear();
    }
    message
}

/// Keeps a change of a message the cache does not hold; of two changes of one seq, the one
/// [`merge`] prefers stays. Returns whether the record changed.
pub fn hold_pending(record: &mut ChatRecord, change: Message) -> bool {
    let change = erase_if_deleted(change);
    match record
        .pending_changes
        .binary_search_by_key(&change.seq, |m| m.seq)
    {
        Ok(at) => match merge(&record.pending_changes[at], &change) {
            Merge::Replace => {
                record.pending_changes[at] = change;
                true
            }
            Merge::Duplicate | Merge::KeepCached => false,
        },
        Err(at) => {
            record.pending_changes.insert(at, change);
            if record.pending_changes.len() > MAX_PENDING_CHANGES {
                let lowest = record
                    .pending_changes
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, m)| m.version)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                record.pending_changes.remove(lowest);
            }
            true
        }
    }
}

/// Takes the kept change of `seq`, if any.
pub fn take_pending(record: &mut ChatRecord, seq: Seq) -> Option<Message> {
    let at = record
        .pending_changes
        .binary_search_by_key(&seq, |m| m.seq)
        .ok()?;
    Some(record.pending_changes.remove(at))
}

/// Whether a change of the uncached `seq` must be kept aside rather than cached: it lies in
/// older history, below the oldest cached message, where caching it would open a gap.
pub fn belongs_to_older_history(record: &ChatRecord, seq: Seq) -> bool {
    record.held.min().is_some_and(|oldest| seq < oldest)
}

/// Records that changes with `versions` were applied (a live or pushed change, or a page of
/// the catch-up whose `through` says every change up to it is now applied) and that the
/// backend has at least `backend_version`.
pub fn note_applied(
    record: &mut ChatRecord,
    versions: &[u64],
    through: Option<u64>,
    backend_version: u64,
) {
    let mut sorted = versions.to_vec();
    crate::sort::sort(&mut sorted);
    for version in sorted {
        if version == record.change_version + 1 {
            record.change_version = version;
        }
        record.backend_change_version = record.backend_change_version.max(version);
    }
    if let Some(through) = through {
        record.change_version = record.change_version.max(through);
    }
    record.backend_change_version = record
        .backend_change_version
        .max(backend_version)
        .max(record.change_version);
}

/// The version to ask "changes since" from, when the backend is known to have changes the
/// cache has not applied.
pub fn changes_since(record: &ChatRecord) -> Option<u64> {
    (record.backend_change_version > record.change_version).then_some(record.change_version)
}

/// Applies a chat-list entry's change facts: the backend's change version and whether the
/// request is closed. A chat the cache holds nothing of starts its cursor at the backend's
/// version: whatever it fetches from now on is already current.
pub fn apply_summary(record: &mut ChatRecord, summary: &ChatSummary) {
    record.closed = summary.closed;
    if record.held.is_empty() && record.pending_changes.is_empty() {
        record.change_version = record.change_version.max(summary.change_version);
    }
    record.backend_change_version = record
        .backend_change_version
        .max(summary.change_version)
        .max(record.change_version);
}

/// Chats let go of, with when (milliseconds): a chat list read before a chat was revoked may
/// still name it, and must not bring it back. A list read after names it only if it was
/// handed back to the agent.
///
/// Stored as a JSON object, `{"request id": millis, …}`. Held as a list of at most
/// [`MAX_REVOKED`] pairs, searched from end to end: it is short and rarely changes, and a
/// `BTreeMap` of its own cost its insert, search and rebalancing code in every wasm build.
/// No `PartialEq`: the list's order is not part of what it says, and a derived comparison
/// would see two orders of the same chats as different.
#[derive(Clone, Debug, Default)]
pub struct Revoked {
    entries: Vec<(RequestId, Millis)>,
}

impl Revoked {
    /// No chat revoked.
    pub fn new() -> Self {
        Self::default()
    }

    /// When `request_id` was revoked, if it is remembered.
    pub fn get(&self, request_id: &RequestId) -> Option<Millis> {
        self.entries
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, at)| *at)
    }

    /// Whether `request_id` is remembered as revoked.
    pub fn contains_key(&self, request_id: &RequestId) -> bool {
        self.get(request_id).is_some()
    }

    /// Remembers `request_id` as revoked at `at`, replacing an earlier time.
    pub fn insert(&mut self, request_id: RequestId, at: Millis) {
        match self.entries.iter_mut().find(|(id, _)| *id == request_id) {
            Some(entry) => entry.1 = at,
            None => self.entries.push((request_id, at)),
        }
    }

    /// Forgets `request_id`; when it had been revoked.
    pub fn remove(&mut self, request_id: &RequestId) -> Option<Millis> {
        let at = self.entries.iter().position(|(id, _)| id == request_id)?;
        Some(self.entries.swap_remove(at).1)
    }

    /// How many chats are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets the chat revoked longest ago.
    fn forget_oldest(&mut self) {
        let oldest = (0..self.entries.len()).min_by_key(|&i| self.entries[i].1);
        if let Some(at) = oldest {
            self.entries.swap_remove(at);
        }
    }
}

impl Serialize for Revoked {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(id, at)| (id, at)))
    }
}

impl<'de> Deserialize<'de> for Revoked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Revoked;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a map of request ids to times")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Revoked, A::Error> {
                let mut revoked = Revoked::new();
                while let Some((request_id, at)) = map.next_entry::<RequestId, Millis>()? {
                    // A repeated key keeps its last time, as a map would.
                    revoked.insert(request_id, at);
                }
                Ok(revoked)
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

/// How many revocations are remembered; the oldest are forgotten first (a list older than
/// them is long gone).
pub const MAX_REVOKED: usize = 1_000;

/// Whether a chat list read at `listed_at` may (re)create the record of `request_id`.
pub fn may_list(revoked: &Revoked, request_id: &RequestId, listed_at: Millis) -> bool {
    revoked.get(request_id).is_none_or(|at| listed_at > at)
}

/// Remembers that `request_id` was revoked at `at`, within [`MAX_REVOKED`].
pub fn remember_revoked(revoked: &mut Revoked, request_id: &RequestId, at: Millis) {
    revoked.insert(request_id.clone(), at);
    while revoked.len() > MAX_REVOKED {
        revoked.forget_oldest();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Attachment, RequestId, Sender, SenderRole};

    fn message(seq: Seq, body: &str, version: u64, deleted: bool) -> Message {
        Message {
            request_id: RequestId::from("r"),
            seq,
            id: format!("m{seq}"),
            client_temp_id: None,
            sender: Sender {
                id: "u".into(),
                name: "U".into(),
                role: SenderRole::Requester,
            },
            body: body.into(),
            attachments: vec![Attachment {
                media_id: "med".into(),
                name: "f".into(),
                mime: "text/plain".into(),
                size: 1,
            }],
            created_at: 1,
            deleted,
            version,
            edited_at: None,
        }
    }

    #[test]
    fn the_newer_version_wins_and_a_redaction_is_final() {
        let v0 = message(1, "a", 0, false);
        let v2 = message(1, "b", 2, false);
        let gone = message(1, "", 3, true);
        assert_eq!(merge(&v0, &v0), Merge::Duplicate);
        assert_eq!(merge(&v0, &v2), Merge::Replace);
        assert_eq!(merge(&v2, &v0), Merge::KeepCached);
        assert_eq!(merge(&v2, &gone), Merge::Replace);
        assert_eq!(merge(&gone, &v2), Merge::KeepCached);
        let later_edit = message(1, "c", 9, false);
        assert_eq!(merge(&gone, &later_edit), Merge::KeepCached);
    }

    #[test]
    fn a_tombstone_is_stored_without_body_or_attachments() {
        let erased = erase_if_deleted(message(1, "password: hunter2", 3, true));
        assert!(erased.body.is_empty());
        assert!(erased.attachments.is_empty());
        let kept = erase_if_deleted(message(1, "fine", 3, false));
        assert_eq!(kept.body, "fine");
    }

    #[test]
    fn pending_changes_keep_the_newest_per_seq_and_stay_bounded() {
        let mut record = ChatRecord::new(RequestId::from("r"));
        assert!(hold_pending(&mut record, message(5, "x", 2, false)));
        assert!(!hold_pending(&mut record, message(5, "old", 1, false)));
        assert!(hold_pending(&mut record, message(5, "", 3, true)));
        assert_eq!(record.pending_changes.len(), 1);
        assert!(record.pending_changes[0].body.is_empty());
        for seq in 0..(MAX_PENDING_CHANGES as u64 + 10) {
            hold_pending(&mut record, message(100 + seq, "e", 10 + seq, false));
        }
        assert_eq!(record.pending_changes.len(), MAX_PENDING_CHANGES);
        assert!(
            take_pending(&mut record, 5).is_none(),
            "the lowest versions go first"
        );
        assert!(take_pending(&mut record, 100 + MAX_PENDING_CHANGES as u64).is_some());
    }

    #[test]
    fn a_list_older_than_a_revocation_does_not_bring_the_chat_back() {
        let mut revoked = Revoked::new();
        let chat = RequestId::from("r");
        assert!(may_list(&revoked, &chat, 5));
        remember_revoked(&mut revoked, &chat, 10);
        assert!(!may_list(&revoked, &chat, 9));
        assert!(!may_list(&revoked, &chat, 10));
        assert!(may_list(&revoked, &chat, 11), "handed back later");
        for i in 0..(MAX_REVOKED as i64 + 5) {
            remember_revoked(&mut revoked, &RequestId::new(format!("c{i}")), 100 + i);
        }
        assert_eq!(revoked.len(), MAX_REVOKED);
        assert!(
            !revoked.contains_key(&chat),
            "the oldest is forgotten first"
        );
    }

    #[test]
    fn revoked_chats_are_stored_as_a_json_object() {
        let mut revoked = Revoked::new();
        remember_revoked(&mut revoked, &RequestId::from("b"), 20);
        remember_revoked(&mut revoked, &RequestId::from("a"), 10);
        remember_revoked(&mut revoked, &RequestId::from("b"), 30);
        let text = serde_json::to_string(&revoked).unwrap();
        assert_eq!(text, r#"{"b":30,"a":10}"#);
        let back: Revoked = crate::json::from_str(&text).unwrap();
        assert_eq!(back.get(&RequestId::from("b")), Some(30));
        assert_eq!(back.get(&RequestId::from("a")), Some(10));
        assert_eq!(back.len(), 2);

        // What earlier releases wrote (a map, in key order) reads the same; a repeated key
        // keeps its last time; anything but a map of times is an error.
        let old: Revoked = crate::json::from_str(r#"{"a":10,"b":30,"a":12}"#).unwrap();
        assert_eq!((old.get(&RequestId::from("a")), old.len()), (Some(12), 2));
        assert!(crate::json::from_str::<Revoked>(r#"[["a",10]]"#).is_err());
        assert!(crate::json::from_str::<Revoked>(r#"{"a":"soon"}"#).is_err());

        let mut handed_back = back;
        assert_eq!(handed_back.remove(&RequestId::from("b")), Some(30));
        assert_eq!(handed_back.remove(&RequestId::from("b")), None);
        assert!(!handed_back.contains_key(&RequestId::from("b")));
        assert!(!handed_back.is_empty());
    }

    #[test]
    fn the_cursor_advances_only_without_holes() {
        let mut record = ChatRecord::new(RequestId::from("r"));
        note_applied(&mut record, &[1, 2], None, 2);
        assert_eq!((record.change_version, changes_since(&record)), (2, None));
        note_applied(&mut record, &[4], None, 4);
        assert_eq!(record.change_version, 2);
        assert_eq!(changes_since(&record), Some(2));
        note_applied(&mut record, &[3, 4], Some(5), 5);
        assert_eq!((record.change_version, changes_since(&record)), (5, None));
    }

    #[test]
    fn an_empty_chat_starts_at_the_backends_version() {
        let mut record = ChatRecord::new(RequestId::from("r"));
        let summary = ChatSummary {
            request_id: RequestId::from("r"),
            title: String::new(),
            requester: crate::types::Person {
                id: "q".into(),
                name: "Q".into(),
            },
            last_seq: 10,
            last_message: None,
            updated_at: 0,
            change_version: 7,
            closed: true,
        };
        apply_summary(&mut record, &summary);
        assert_eq!((record.change_version, record.closed), (7, true));
        record.held.insert(1);
        let newer = ChatSummary {
            change_version: 9,
            closed: false,
            ..summary
        };
        apply_summary(&mut record, &newer);
        assert_eq!(changes_since(&record), Some(7));
        assert!(!record.closed);
    }
}
