//! The cache as a trait, so the rules are written once and every implementation (the
//! in-memory store here, IndexedDB in the browser) passes the same suite ([`crate::suite`]).
//!
//! A store is dumb about policy: inside one transaction it reads a chat record and the cached
//! copies the ingest touches, calls [`crate::ingest::plan_ingest`], and writes what that
//! returns. Atomicity across contexts (tabs and the service worker share one database) is the
//! store's job; deciding what to write is not.

use thiserror::Error;

use crate::eviction::Eviction;
use crate::ingest::{IngestContext, IngestReport, IngestUndo, UndoOutcome};
use crate::media_cache::MediaStats;
use crate::outbox::{NewOutboxEntry, OutboxEntry, OutboxError};
use crate::ranges::SeqRange;
use crate::types::{ChatRecord, ChatSummary, Message, Millis, RequestId, Seq};
use crate::vec_map::VecMap;

/// The most messages one range read returns; larger windows are read page by page.
pub const MAX_READ: u64 = 1_000;

/// What a read returns: the readable messages, ascending, and the seqs whose records could
/// not be decoded (they are counted, skipped and marked for a fetch).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Messages, ascending by seq.
    pub messages: Vec<Message>,
    /// Held seqs whose records were unreadable.
    pub corrupt: Vec<Seq>,
}

/// What [`Store::revoke_chat`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revocation {
    /// Whether the cache held anything of the chat (a record or outbox entries).
    pub held_anything: bool,
    /// Media ids the removed messages referenced.
    pub media_ids: Vec<String>,
    /// The unsent entries discarded: the server refuses them now.
    pub outbox_discarded: Vec<OutboxEntry>,
}

/// What the cache holds, for the settings panel and the budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Chats with a record.
    pub chats: u64,
    /// Cached messages.
    pub messages: u64,
    /// Approximate bytes of cached messages.
    pub message_bytes: u64,
    /// Unsent outbox entries.
    pub outbox_entries: u64,
    /// Approximate bytes of the outbox.
    pub outbox_bytes: u64,
}

/// Why a store operation failed. Backend errors keep the underlying name and message (for
/// IndexedDB, the `DOMException`'s), so a log says what the browser said.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The storage quota is exhausted; the caller evicts and retries.
    #[error("storage quota exceeded during {operation}: {message}")]
    QuotaExceeded {
        /// What was being done.
        operation: &'static str,
        /// The backend's message.
        message: String,
    },
    /// The connection was closed (by the browser, or a schema upgrade elsewhere).
    #[error("the cache database is closed ({operation}): {message}")]
    Closed {
        /// What was being done.
        operation: &'static str,
        /// The backend's message.
        message: String,
    },
    /// The outbox refused an entry.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A read asked for more than [`MAX_READ`] messages at once.
    #[error("a read of {asked} messages exceeds the {MAX_READ} allowed at once")]
    ReadTooLarge {
        /// How many were asked for.
        asked: u64,
    },
    /// Any other backend failure.
    #[error("{operation} failed: {name}: {message}")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// The backend's error name (e.g. `DataError`, `AbortError`).
        name: String,
        /// The backend's message.
        message: String,
    },
}

/// The chat cache.
///
/// Futures are not `Send`: in the browser everything runs on one thread, and IndexedDB
/// handles cannot cross threads.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The one ingest path: merges `messages` into the chat and updates its record, in one
    /// transaction. Invalid messages are reported and not written.
    async fn ingest(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<IngestReport, StoreError>;

    /// [`Store::ingest`], also saying how to take the write back ([`IngestUndo`]; `None` when
    /// nothing was written): for a write made before the check that allows it.
    async fn ingest_undoable(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<(IngestReport, Option<IngestUndo>), StoreError>;

    /// Takes an ingest back, in one transaction: while the chat's record is still the one the
    /// ingest wrote ([`IngestUndo::still_current`]) the record and the copies before it come
    /// back and its new messages go; otherwise the chat's cache is cleared, as
    /// [`Store::clear_chat`] does.
    async fn undo_ingest(&self, undo: &IngestUndo) -> Result<UndoOutcome, StoreError>;

    /// One chat's record.
    async fn chat(&self, request_id: &RequestId) -> Result<Option<ChatRecord>, StoreError>;

    /// Every chat's record, in no particular order.
    async fn chats(&self) -> Result<Vec<ChatRecord>, StoreError>;

    /// Applies the backend's chat list (titles, requesters, last sequences, change versions),
    /// read at `listed_at`: a chat revoked after that moment is not brought back
    /// (`crate::changes::may_list`). Returns the chats whose records it created or changed,
    /// in the list's order, so the caller announces exactly those to every view: a list
    /// applied by whichever context fetched it must reach the lists and headers on screen.
    async fn apply_summaries(
        &self,
        summaries: &[ChatSummary],
        listed_at: Millis,
    ) -> Result<Vec<RequestId>, StoreError>;

    /// Records a backend last sequence learned from a fetch reply.
    async fn note_backend_last_seq(
        &self,
        request_id: &RequestId,
        last_seq: Seq,
    ) -> Result<(), StoreError>;

    /// The newest `limit` cached messages of a chat, ascending (`limit <= MAX_READ`).
    async fn newest(&self, request_id: &RequestId, limit: u64) -> Result<Window, StoreError>;

    /// The cached messages of a chat within `range`, ascending (`range.len() <= MAX_READ`).
    async fn range(&self, request_id: &RequestId, range: SeqRange) -> Result<Window, StoreError>;

    /// The agent read the chat up to `read_seq`; whether the unread count changed (only then
    /// do views showing it need to re-read). Writes the chat record only, and only when
    /// something in it changed.
    async fn mark_read(
        &self,
        request_id: &RequestId,
        read_seq: Seq,
        now: Millis,
    ) -> Result<bool, StoreError>;

    /// Queues a message after every entry written before it and returns its entry; refused
    /// with [`OutboxError::Full`] at capacity and [`OutboxError::Duplicate`] when its id is
    /// taken. The check, the order and the write are one atomic step (two tabs queueing at
    /// once cannot both take the last place or the same order).
    async fn outbox_enqueue(&self, new: NewOutboxEntry) -> Result<OutboxEntry, StoreError>;

    /// Every outbox entry, in writing order.
    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Saves an entry's new state.
    async fn outbox_update(&self, entry: &OutboxEntry) -> Result<(), StoreError>;

    /// Deletes an entry (sent, or deleted by the agent).
    async fn outbox_remove(&self, client_temp_id: &str) -> Result<(), StoreError>;

    /// Applies one eviction step; returns how many messages it removed.
    async fn evict(&self, eviction: &Eviction) -> Result<u64, StoreError>;

    /// Removes a chat's messages and record (the outbox keeps its entries).
    async fn clear_chat(&self, request_id: &RequestId) -> Result<(), StoreError>;

    /// Lets go of a chat taken from the agent, in one transaction: its messages, its record,
    /// and its unsent outbox entries (with their files). Says which media the removed
    /// messages referenced, so their cached bytes go too, and which entries were discarded.
    /// `at` is remembered, so a chat list read before it cannot bring the chat back.
    async fn revoke_chat(
        &self,
        request_id: &RequestId,
        at: Millis,
    ) -> Result<Revocation, StoreError>;

    /// What the cache holds.
    async fn usage(&self) -> Result<Usage, StoreError>;

    /// The media index's counters, files, bytes and budget.
    async fn media_stats(&self) -> Result<MediaStats, StoreError>;

    /// A cached file was served at `now`: a hit, the file marked used
    /// ([`MediaIndex::hit`](crate::media_cache::MediaIndex::hit)).
    async fn media_hit(&self, media_id: &str, bytes: u64, now: Millis) -> Result<(), StoreError>;

    /// A file went to the network and was not kept: a miss.
    async fn media_miss(&self) -> Result<(), StoreError>;

    /// A file went to the network and was stored: a miss, the file indexed, least recently
    /// used files evicted over the budget, in one transaction; returns the evicted ids, whose
    /// bytes the caller deletes.
    async fn media_stored(
        &self,
        media_id: &str,
        bytes: u64,
        now: Millis,
    ) -> Result<Vec<String>, StoreError>;

    /// Sets a validated budget and evicts what no longer fits; returns the evicted ids.
    async fn media_set_budget(&self, budget: u64) -> Result<Vec<String>, StoreError>;

    /// Drops the index entries of `ids` (erased or no longer the agent's).
    async fn media_forget(&self, ids: &[String]) -> Result<(), StoreError>;

    /// Drops every index entry; the counters and the budget stay.
    async fn media_clear(&self) -> Result<(), StoreError>;
}

/// Chat records by chat, for a walk over a chat list that takes each listed chat's record
/// (the store's chat list apply, the catch-up); one per chat, the last of any repeated.
pub fn records_by_id(records: Vec<ChatRecord>) -> VecMap<RequestId, ChatRecord> {
    VecMap::from_entries(
        records
            .into_iter()
            .map(|record| (record.request_id.clone(), record))
            .collect(),
    )
}

/// Checks a read's size before any store work.
pub fn check_read(asked: u64) -> Result<(), StoreError> {
    if asked > MAX_READ {
        Err(StoreError::ReadTooLarge { asked })
    } else {
        Ok(())
    }
}
