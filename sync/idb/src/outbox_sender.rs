//! The outbox sender: queues what the agent wrote (with attachment bytes kept locally) and
//! sends it to the server in order per chat, in a tab or in the service worker.
//!
//! - [`enqueue`] writes the entry and its files in one transaction; at
//!   [`chat_sync::outbox::OUTBOX_CAPACITY`] it is refused with [`OutboxError::Full`]
//!   (see [`SyncError::outbox_error`]) and nothing is written, so the composer keeps the draft.
//! - [`flush`] runs under the Web Lock `<database>:outbox`, so tabs and the worker never send
//!   the same entry at once. For each due entry (the core's
//!   [`Outbox::due`](chat_sync::outbox::Outbox::due)): upload its local files with
//!   `POST /api/media`, then `POST /api/chat/messages` with its `client_temp_id`, and hand the
//!   stored message to [`Runtime::ingest`] as a
//!   [`Source::SendEcho`](chat_sync::ingest::Source::SendEcho): the one ingest path writes it
//!   at its real seq and removes the entry. Replies are classified by the core's
//!   [`classify_send`](chat_sync::outbox::classify_send): no reply or 5xx backs off, a 4xx
//!   parks the entry with the reason, a 401 stops the flush and keeps everything.
//! - [`retry`] and [`delete`] act on parked entries; [`request_background_sync`] asks the
//!   service worker to flush when the browser has Background Sync.
//! - [`pump`] runs flushes for a long-lived context (the tab's live worker) whenever asked,
//!   one at a time, and again when a backoff ends.
//!
//! This module keeps the sender's vocabulary (limits, the local attachment, the flush report,
//! the lock); the agent's actions on the queue are in `queue`, the flush's loop in `flush`,
//! sending one entry in `send`, what a reply means in `reply`, Background Sync in
//! `background_sync`, and the repeated flushes of a long-lived context in `pump`.

use chat_sync::outbox::{OutboxEntry, OutboxError};
use chat_sync::store::{Store, StoreError};
use chat_sync::{Millis, RequestId, Seq};

use crate::error::SyncError;
use crate::runtime::Runtime;

mod background_sync;
mod flush;
mod pump;
mod queue;
mod reply;
mod send;

pub use background_sync::request_background_sync;
pub use flush::{flush, flush_waking};
pub use pump::pump;
pub use queue::{delete, enqueue, entries, local_file, retry, wake_all};

/// The Background Sync tag the page registers and the worker answers.
pub const SYNC_TAG: &str = "outbox";
/// Prefix of an attachment's `media_id` while its bytes are only local (not uploaded yet).
pub use chat_sync::protocol::LOCAL_MEDIA_PREFIX;
/// The contract's limits of one message, re-exported for callers of this module (the core
/// checks them: [`chat_sync::send_rules::check_send`]).
pub use chat_sync::protocol::{MAX_ATTACHMENTS, MAX_BODY_LEN as MAX_BODY_BYTES};
pub use chat_sync::send_rules::MAX_ATTACHMENT_BYTES;

/// A file the agent attached, not uploaded yet.
#[derive(Clone, Debug)]
pub struct LocalAttachment {
    /// The file name.
    pub name: String,
    /// Its MIME type (`application/octet-stream` when unknown).
    pub mime: String,
    /// The bytes.
    pub blob: web_sys::Blob,
}

/// What one [`flush`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Entries stored by the server, with the seq they got, in the order they went out.
    pub sent: Vec<(String, RequestId, Seq)>,
    /// Entries that failed in a way that may pass; they wait out their backoff.
    pub retrying: Vec<String>,
    /// Entries the server refused in this flush, with the reason; they wait for the agent.
    pub parked: Vec<(String, String)>,
    /// The server answered 401: the flush stopped and every entry was kept.
    pub signed_out: bool,
    /// Entries still in the outbox afterwards (queued or parked).
    pub remaining: usize,
    /// When the earliest backoff ends (call [`flush`] again then).
    pub next_wakeup: Option<Millis>,
}

impl FlushReport {
    /// Whether queued entries remain that a later flush should send (not parked, not signed
    /// out): the service worker then asks the browser to retry the sync.
    pub fn wants_retry(&self) -> bool {
        !self.signed_out && !self.retrying.is_empty()
    }
}

/// The Web Lock serializing sends of one user's outbox across tabs and the worker.
pub fn outbox_lock_name(database: &str) -> String {
    format!("{database}:outbox")
}

/// The longest a context waits for the outbox lock before it presumes the holder frozen and
/// takes the lock over: a full outbox sent by a healthy holder finishes well within it, and
/// a second sender is harmless (the server keeps one message per idempotency key).
pub const OUTBOX_LOCK_LEASE_MS: u32 = 5 * 60 * 1000;

/// Saves an entry's state; `false` when the agent deleted it meanwhile (nothing to send).
async fn save(runtime: &Runtime, entry: &OutboxEntry) -> Result<bool, SyncError> {
    match runtime.store().outbox_update(entry).await {
        Ok(()) => Ok(true),
        Err(StoreError::Outbox(OutboxError::NotFound(_))) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
