//! The merge and chat-meta rules of the one ingest path (SPEC invariant 1).
//!
//! Every incoming message, whatever its source (push, live stream, range fetch, send echo),
//! goes through [`plan_ingest`]: a store reads the chat record and the cached copies of any
//! sequences it already holds, calls this pure function inside its transaction, and writes
//! what it returns. So merge rules are written, and tested, once:
//!
//! - idempotent by `(request_id, seq)`: a message already held with the same content is a
//!   duplicate and writes nothing;
//! - the server's copy wins: the same seq with different content is replaced and reported as
//!   an anomaly (a deletion arriving later is a tombstone, not an anomaly);
//! - a server echo (the agent's own message) carrying a `client_temp_id` removes the
//!   optimistic outbox entry; anyone else's `client_temp_id` removes nothing;
//! - the record's held ranges, count, bytes, last message, backend last sequence, unread
//!   count (only when the chat is not open, and never for the agent's own messages) and LRU
//!   time are updated together with the messages.
//!
//! The merge is here; the record's rules besides it (the chat list, the backend's last
//! sequence, read marks) are in `meta`.

use crate::changes::{self, Merge};
use crate::protocol::{validate_message, InvalidInput};
use crate::types::{ChatRecord, Message, Millis, Person, RequestId, SenderRole, Seq};

mod meta;
mod undo;
mod written;

pub use meta::{
    apply_summary, listed_summary, mark_read, note_backend_last_seq, ReadChange,
    LAST_ACCESS_RESOLUTION_MS,
};
pub use undo::{plan_ingest_keeping, IngestUndo, UndoOutcome};
pub use written::Written;

/// How many characters of a body the chat list shows.
pub const PREVIEW_CHARS: usize = 120;

/// Where a batch of messages came from. Every source follows the same merge rules; a full
/// reload also replaces the chat's cached copy ([`Source::replaces_chat`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A Web Push payload.
    Push,
    /// The Server-Sent Events stream of an open tab.
    Live,
    /// A range or cursor history fetch.
    Fetch,
    /// The server's reply to our own send.
    SendEcho,
    /// A full reload of a chat (only with a logged reason).
    FullReload,
    /// Edits and redactions: a live `change` event, a pushed change, or a page of the
    /// changes catch-up ([`crate::changes`]).
    Change(ChangeFacts),
}

/// What a batch of changes says about the chat's change versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChangeFacts {
    /// A catch-up page's word that every change up to this version is now applied.
    pub through: Option<u64>,
    /// The chat's change version at the backend, as far as the batch tells.
    pub backend_version: u64,
    /// Whether the request is closed, when the batch tells (a catch-up page does).
    pub closed: Option<bool>,
}

impl Source {
    /// The source's name, for logs and change notices.
    pub fn label(self) -> &'static str {
        match self {
            Source::Push => "Push",
            Source::Live => "Live",
            Source::Fetch => "Fetch",
            Source::SendEcho => "SendEcho",
            Source::FullReload => "FullReload",
            Source::Change(_) => "Change",
        }
    }

    /// Whether a batch from this source replaces the chat's cached copy: a full reload's
    /// newest page is the chat from then on. The store swaps it in the same transaction that
    /// writes the page, so a reload that fails at any point (the fetch, or the write) leaves
    /// the old copy whole, and one that succeeds leaves nothing of it.
    pub fn replaces_chat(self) -> bool {
        matches!(self, Source::FullReload)
    }
}

/// Facts about the ingesting context that the rules depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestContext {
    /// Time of ingest.
    pub now: Millis,
    /// Whether the chat is open in a visible view: then no unread count is added.
    pub chat_open: bool,
    /// The signed-in agent, whose own messages never count as unread.
    pub own_user_id: Option<String>,
    /// The source, for reports.
    pub source: Source,
    /// The chat's last sequence a history reply stated, recorded with the batch in the same
    /// write (a batch that writes nothing records nothing: the caller records it then).
    pub backend_last: Option<Seq>,
}

/// Something about an incoming message that should not happen but is handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// The cache held this seq with different content; the server's copy replaced it.
    ContentChanged {
        /// The sequence.
        seq: Seq,
    },
    /// The batch carried the same seq twice with different content; the first was kept.
    ConflictingDuplicateInBatch {
        /// The sequence.
        seq: Seq,
    },
}

/// What one ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Sequences stored for the first time.
    pub new_seqs: Vec<Seq>,
    /// Messages already held with the same content (nothing written).
    pub duplicates: u64,
    /// Held messages replaced by the server's copy (tombstones and anomalies).
    pub replaced: u64,
    /// Anomalies found.
    pub anomalies: Vec<Anomaly>,
    /// Messages refused by validation (never written), with the reason.
    pub rejected: Vec<InvalidInput>,
    /// Outbox entries the echo confirmed (removed).
    pub confirmed_outbox: Vec<String>,
    /// The chat's unread count after the ingest.
    pub unread: u32,
    /// Whether the batch left a gap below its highest seq (a push that skipped seqs).
    pub reveals_gap: bool,
    /// Incoming copies older than the cached ones (nothing written).
    pub stale: u64,
    /// Sequences newly redacted in the cache: a notification showing one must close.
    pub redacted: Vec<Seq>,
    /// Media ids of the attachments those redactions erased: their cached bytes must go.
    pub erased_media: Vec<String>,
    /// Changes of uncached older messages kept aside for when they arrive.
    pub kept_aside: u64,
    /// The version to fetch changes since, when the cache is known to miss some.
    pub changes_due: Option<u64>,
}

/// What a store writes, in one transaction, for one ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestPlan {
    /// The updated chat record.
    pub record: ChatRecord,
    /// Messages to put (new and replaced), ascending by seq.
    pub put: Vec<Message>,
    /// Outbox entries to delete, by `client_temp_id`.
    pub outbox_remove: Vec<String>,
    /// The report to hand back to the caller.
    pub report: IngestReport,
    /// Whether the batch held at least one valid message. When it did not (everything was
    /// refused by validation), the store writes nothing at all: not even a new, empty record
    /// for a chat that only refused input named.
    pub touched: bool,
}

/// The cached copies an ingest compares the incoming messages with, found by seq.
///
/// A slice, not a map: the store reads them by key, so they arrive in seq order and a
/// binary search finds each; a slice out of order is searched from end to end. (A map of
/// them cost a `BTreeMap` type, and a collect its sort, in every wasm build.)
struct CachedCopies<'a> {
    copies: &'a [Message],
    sorted: bool,
}

impl<'a> CachedCopies<'a> {
    fn of(copies: &'a [Message]) -> Self {
        let sorted = copies.windows(2).all(|pair| pair[0].seq < pair[1].seq);
        Self { copies, sorted }
    }

    fn get(&self, seq: Seq) -> Option<&'a Message> {
        if self.sorted {
            let at = self.copies.binary_search_by_key(&seq, |m| m.seq).ok()?;
            self.copies.get(at)
        } else {
            self.copies.iter().find(|m| m.seq == seq)
        }
    }
}

/// Plans an ingest of `incoming` into the chat `request_id`.
///
/// `record` is the chat's record, `None` when the cache has never seen the chat (it is
/// created). `existing` holds the cached copies of the incoming seqs the record already
/// holds; a held seq missing from `existing` (its record was unreadable) is rewritten.
pub fn plan_ingest(
    request_id: &RequestId,
    record: Option<ChatRecord>,
    existing: &[Message],
    incoming: Vec<Message>,
    ctx: &IngestContext,
) -> IngestPlan {
    let existed = record.is_some();
    let mut record = record.unwrap_or_else(|| ChatRecord::new(request_id.clone()));
    let mut report = IngestReport::default();
    let cached = CachedCopies::of(existing);

    // Validate, then order the batch by seq (stably) and keep the first copy of each seq.
    let mut valid: Vec<Message> = Vec::with_capacity(incoming.len());
    for message in incoming {
        if let Err(reason) = validate_message(&message) {
            report.rejected.push(reason);
            continue;
        }
        if &message.request_id != request_id {
            report.rejected.push(InvalidInput::Mismatch(format!(
                "message of chat {} ingested into chat {request_id}",
                message.request_id
            )));
            continue;
        }
        valid.push(message);
    }
    crate::sort::sort_by_key(&mut valid, |m| m.seq);
    let mut batch: Vec<Message> = Vec::with_capacity(valid.len());
    for message in valid {
        match batch.last() {
            Some(kept) if kept.seq == message.seq && kept != &message => report
                .anomalies
                .push(Anomaly::ConflictingDuplicateInBatch { seq: message.seq }),
            Some(kept) if kept.seq == message.seq => report.duplicates += 1,
            _ => batch.push(message),
        }
    }

    // A page of the changes catch-up with nothing in it still moves a known chat's cursor.
    let touched = !batch.is_empty() || (existed && matches!(ctx.source, Source::Change(_)));
    let newest_before = record.held.max().unwrap_or(0);
    let mut put = Vec::with_capacity(batch.len());
    let mut outbox_remove = Vec::new();
    let change_versions: Vec<u64> = match ctx.source {
        Source::Change(_) => batch.iter().map(|m| m.version).collect(),
        _ => Vec::new(),
    };
    for message in batch {
        let seq = message.seq;
        // Only the agent's own message is the echo of an entry of their outbox: anyone else
        // may put any `client_temp_id` on theirs, and must not be able to delete (and so
        // never send) a message the agent has not sent yet.
        let own = ctx.own_user_id.as_deref() == Some(message.sender.id.as_str());
        if let (true, Some(id)) = (own, &message.client_temp_id) {
            outbox_remove.push(id.clone());
        }
        let mut message = changes::erase_if_deleted(message);
        if record.held.contains(seq) {
            match cached.get(seq) {
                Some(old) => {
                    match changes::merge(old, &message) {
                        Merge::Duplicate => {
                            report.duplicates += 1;
                            continue;
                        }
                        Merge::KeepCached => {
                            report.stale += 1;
                            continue;
                        }
                        Merge::Replace => {}
                    }
                    if message.deleted && !old.deleted {
                        report.redacted.push(seq);
                        report
                            .erased_media
                            .extend(old.attachments.iter().map(|a| a.media_id.clone()));
                    } else if message.version == old.version && !message.deleted {
                        // The same version with other content: the server's copy wins, but
                        // it should not happen.
                        report.anomalies.push(Anomaly::ContentChanged { seq });
                    }
                    record.bytes = record
                        .bytes
                        .saturating_sub(old.approx_bytes())
                        .saturating_add(message.approx_bytes());
                    report.replaced += 1;
                }
                None => {
                    // Held but unreadable (a corrupt record): rewrite it with the good copy.
                    record
                        .corrupt
                        .remove_range(crate::ranges::SeqRange::new(seq, seq));
                    report.replaced += 1;
                }
            }
        } else {
            if let Some(kept) = changes::take_pending(&mut record, seq) {
                if changes::merge(&kept, &message) == Merge::KeepCached {
                    message = kept;
                }
            }
            if matches!(ctx.source, Source::Change(_))
                && changes::belongs_to_older_history(&record, seq)
            {
                if message.deleted {
                    report.redacted.push(seq);
                }
                changes::hold_pending(&mut record, message);
                report.kept_aside += 1;
                continue;
            }
            if message.deleted {
                report.redacted.push(seq);
            }
            record.held.insert(seq);
            record.message_count += 1;
            record.bytes += message.approx_bytes();
            report.new_seqs.push(seq);
            let own = ctx.own_user_id.as_deref() == Some(message.sender.id.as_str());
            if !ctx.chat_open && !own && !message.deleted && seq > record.read_seq {
                record.unread = record.unread.saturating_add(1);
            }
        }
        if message.sender.role == SenderRole::Requester && record.requester.is_none() {
            record.requester = Some(Person {
                id: message.sender.id.clone(),
                name: message.sender.name.clone(),
            });
        }
        put.push(message);
    }

    if let Some(newest) = put.last() {
        if newest.seq >= newest_before {
            record.last_message = Some(newest.preview(PREVIEW_CHARS));
            record.updated_at = record.updated_at.max(newest.created_at);
        }
        record.backend_last_seq = record.backend_last_seq.max(newest.seq);
        // A gap below the newest message of this batch that the cache does not hold.
        report.reveals_gap = record
            .held
            .gaps(newest.seq)
            .interior
            .iter()
            .any(|gap| gap.end < newest.seq);
        // A pushed or live message is the backend's word that its seq exists: when the cache
        // holds something below it, what lies between is missing, and the backend's last
        // sequence is known to be at least this one (the repair may start without a list).
        if report.reveals_gap && matches!(ctx.source, Source::Push | Source::Live) {
            record.backend_last_seq_known = true;
        }
    }
    if let Source::Change(facts) = ctx.source {
        if let Some(closed) = facts.closed {
            record.closed = closed;
        }
        changes::note_applied(
            &mut record,
            &change_versions,
            facts.through,
            facts.backend_version,
        );
    }
    report.changes_due = changes::changes_since(&record);
    record.last_access = record.last_access.max(ctx.now);
    report.unread = record.unread;
    report.confirmed_outbox = outbox_remove.clone();
    if let Some(last) = ctx.backend_last.filter(|_| touched) {
        note_backend_last_seq(&mut record, last);
    }
    IngestPlan {
        record,
        put,
        outbox_remove,
        report,
        touched,
    }
}

/// What an ingest into a chat the cache let go of reports: nothing is written (a late push
/// or live event of a chat taken from the agent must not bring it back), and why.
pub fn refused_as_revoked(request_id: &RequestId) -> IngestReport {
    IngestReport {
        rejected: vec![InvalidInput::Mismatch(format!(
            "chat {request_id} was taken from this agent: its messages are no longer kept"
        ))],
        ..IngestReport::default()
    }
}

#[cfg(test)]
mod tests;
