//! [`IdbStore`]: the chat cache in IndexedDB, implementing the core's [`Store`] trait with the
//! semantics of the reference [`chat_sync::memory_store::MemoryStore`].
//!
//! - Ingest is one `readwrite` transaction over messages, chats and outbox: read the chat
//!   record and the cached copies of incoming seqs already held, call
//!   [`chat_sync::ingest::plan_ingest`] (in `store/ingest.rs`), then issue every put and delete without awaiting them one by one, and
//!   await the transaction's commit once.
//! - Reads are bounded key ranges `[request_id, lo] ..= [request_id, hi]` read with one
//!   `getAll`; the newest window's lower bound comes from the held ranges in the chat record,
//!   so opening a 10,000-message chat reads 50 records, not 10,000.
//! - A record that fails to decode is counted, skipped, logged, and its seq marked in the
//!   chat record's `corrupt` set, which the runtime treats as missing so it is fetched again.
//!   A chat record that fails to decode makes the chat unusable: it is dropped with its
//!   messages, the reason logged and kept for the runtime, which reloads the chat.
//! - An optional byte budget makes the store refuse writes like a full disk (tests); a real
//!   `QuotaExceededError` maps to the same [`StoreError::QuotaExceeded`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::future::LocalBoxFuture;

use chat_sync::eviction::{apply_eviction, Eviction};
use chat_sync::ingest::{
    mark_read, note_backend_last_seq, IngestContext, IngestReport, IngestUndo, UndoOutcome,
};
use chat_sync::media_cache::MediaStats;
use chat_sync::outbox::{NewOutboxEntry, OutboxEntry};
use chat_sync::store::{Revocation, Store, StoreError, Usage, Window};
use chat_sync::{ChatRecord, ChatSummary, Message, Millis, RequestId, Seq, SeqRange};
use wasm_bindgen::JsValue;
use web_sys::IdbObjectStore;

use crate::boxed::boxed;
use crate::codec::{decode, encode, message_range};
use crate::database::{database_name, Access, Database};
use crate::error::store_error;
// The request and transaction helpers, where the other IndexedDB modules of this crate have
// always found them.
pub(crate) use crate::request::{commit, get, get_all_unbounded, object_store, put};
use crate::schema::{self, CHATS, MESSAGES, OUTBOX};

mod ingest;
mod read;

use ingest::delete_chat_in;
mod media;
mod outbox;
mod raw;
mod revoke;
mod revoked;
mod summaries;
mod written;

pub use raw::{write_raw_chat, write_raw_message};
pub use written::{Handed, WriteWatch};

/// A chat record as read: missing, readable, or damaged (with the decode error).
enum RecordRead {
    Missing,
    Found(ChatRecord),
    Corrupt(String),
}

/// The chat cache of one user, in IndexedDB.
#[derive(Debug)]
pub struct IdbStore {
    db: Database,
    budget: Option<u64>,
    corrupt_seen: Cell<u64>,
    dropped: RefCell<Vec<(RequestId, String)>>,
    /// The views of this context watching their chat's writes ([`written`]).
    watchers: Rc<written::Watchers>,
}

impl IdbStore {
    /// Opens the cache of `user_id` (its own database, see [`database_name`]).
    pub async fn open_for_user(user_id: &str) -> Result<Self, StoreError> {
        Self::open_named(&database_name(user_id)).await
    }

    /// Opens (creating or upgrading) the database `name` at the current schema version.
    pub async fn open_named(name: &str) -> Result<Self, StoreError> {
        let store = Self {
            db: Database::new(name, schema::CURRENT_VERSION),
            budget: None,
            corrupt_seen: Cell::new(0),
            dropped: RefCell::new(Vec::new()),
            watchers: Rc::default(),
        };
        store.db.connection().await?;
        Ok(store)
    }

    /// Tells `on_write` of this store's writes of `request_id` that only add, before they
    /// commit ([`written`]); the watch ends when the returned value is dropped.
    pub fn watch_writes(
        &self,
        request_id: &RequestId,
        on_write: impl Fn(Handed<'_>) + 'static,
    ) -> WriteWatch {
        self.watchers.watch(request_id, on_write)
    }

    /// Tells this store's watchers of `request_id` of a write relayed from another context
    /// (see [`crate::runtime::Runtime::hand_over`]).
    pub fn hand_over(&self, request_id: &RequestId, handed: Handed<'_>) {
        self.watchers.tell(request_id, handed);
    }

    /// Makes the store refuse writes that take it past `bytes`, the way a full disk does.
    pub fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.db.name()
    }

    /// The connection handle (for tests of reopening).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Records that failed to decode since the store was opened.
    pub fn corrupt_records_seen(&self) -> u64 {
        self.corrupt_seen.get()
    }

    /// Chats dropped as unusable since the last call, with the reason: the runtime reloads them.
    pub fn take_dropped_chats(&self) -> Vec<(RequestId, String)> {
        std::mem::take(&mut *self.dropped.borrow_mut())
    }

    /// Closes the connection; the next operation reopens it.
    pub fn close(&self) {
        self.db.close();
    }

    /// Closes the connection for good (before the database is deleted): later operations
    /// fail with [`StoreError::Closed`] instead of re-creating an empty database.
    pub fn shut_down(&self) {
        self.db.shut_down();
    }

    /// Whether the store is shut for good: shut down here, or its database was deleted by
    /// another context (sign-out or clear in another tab).
    pub fn is_shut(&self) -> bool {
        self.db.is_shut()
    }

    /// Calls `hook` once if another context deletes this database (see
    /// [`crate::database::Database::set_on_deleted`]).
    pub fn set_on_deleted(&self, hook: Option<crate::database::DeletedHook>) {
        self.db.set_on_deleted(hook);
    }

    /// Closes the connection and deletes the whole database.
    pub async fn wipe(self) -> Result<(), StoreError> {
        self.db.close();
        crate::database::delete_database(self.db.name()).await
    }

    fn note_corrupt(&self, what: &str, detail: &str) {
        self.corrupt_seen.set(self.corrupt_seen.get() + 1);
        crate::log_warn!(
            record = what,
            error = detail,
            "skipping a cache record that fails to decode"
        );
    }

    fn drop_reason(&self, request_id: &RequestId, reason: String) {
        crate::log_error!(chat = %request_id, %reason, "dropping an unusable cached chat; it will be reloaded");
        self.dropped.borrow_mut().push((request_id.clone(), reason));
    }

    /// Deletes an unusable chat (record and messages) in its own transaction.
    async fn drop_chat(&self, request_id: &RequestId, reason: String) -> Result<(), StoreError> {
        self.drop_reason(request_id, reason);
        self.clear_chat(request_id).await
    }
}

/// Decodes a whole array of records through JSON text, `None` if any record fails.
fn decode_batch<T: serde::de::DeserializeOwned>(records: &js_sys::Array) -> Option<Vec<T>> {
    let text = js_sys::JSON::stringify(records).ok()?.as_string()?;
    chat_sync::json::from_str(&text).ok()
}

async fn read_record(
    chats: &IdbObjectStore,
    request_id: &RequestId,
    operation: &'static str,
) -> Result<RecordRead, StoreError> {
    let value = get(chats, &JsValue::from_str(request_id.as_str()), operation)?.await?;
    Ok(decode_record(value))
}

fn decode_record(value: JsValue) -> RecordRead {
    if value.is_undefined() {
        return RecordRead::Missing;
    }
    match decode::<ChatRecord>(value) {
        Ok(record) => RecordRead::Found(record),
        Err(error) => RecordRead::Corrupt(format!("the chat record fails to decode: {error}")),
    }
}

// Each operation's work is a future boxed here by a plain `fn work`, which only this crate
// compiles: the app and the worker poll it through its vtable instead of compiling the
// operation's `async` body, and all it awaits, a second time (see `crate::boxed`).
impl Store for IdbStore {
    async fn ingest(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<IngestReport, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            messages: Vec<Message>,
            ctx: &'a IngestContext,
        ) -> LocalBoxFuture<'a, Result<IngestReport, StoreError>> {
            boxed(async move {
                this.db
                    .run("ingest", async |db| {
                        this.ingest_once(db, request_id, messages.clone(), ctx, false)
                            .await
                    })
                    .await
                    .map(|(report, _)| report)
            })
        }
        work(self, request_id, messages, ctx).await
    }

    async fn ingest_undoable(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<(IngestReport, Option<IngestUndo>), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            messages: Vec<Message>,
            ctx: &'a IngestContext,
        ) -> LocalBoxFuture<'a, Result<(IngestReport, Option<IngestUndo>), StoreError>> {
            boxed(async move {
                this.db
                    .run("ingest", async |db| {
                        this.ingest_once(db, request_id, messages.clone(), ctx, true)
                            .await
                    })
                    .await
            })
        }
        work(self, request_id, messages, ctx).await
    }

    async fn undo_ingest(&self, undo: &IngestUndo) -> Result<UndoOutcome, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            undo: &'a IngestUndo,
        ) -> LocalBoxFuture<'a, Result<UndoOutcome, StoreError>> {
            boxed(async move {
                this.db
                    .run("undo_ingest", async |db| this.undo_once(db, undo).await)
                    .await
            })
        }
        work(self, undo).await
    }

    async fn chat(&self, request_id: &RequestId) -> Result<Option<ChatRecord>, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
        ) -> LocalBoxFuture<'a, Result<Option<ChatRecord>, StoreError>> {
            boxed(async move { this.read_chat(request_id).await })
        }
        work(self, request_id).await
    }

    async fn chats(&self) -> Result<Vec<ChatRecord>, StoreError> {
        fn work<'a>(this: &'a IdbStore) -> LocalBoxFuture<'a, Result<Vec<ChatRecord>, StoreError>> {
            boxed(async move { this.read_chats().await })
        }
        work(self).await
    }

    async fn apply_summaries(
        &self,
        summaries: &[ChatSummary],
        listed_at: Millis,
    ) -> Result<Vec<RequestId>, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            summaries: &'a [ChatSummary],
            listed_at: Millis,
        ) -> LocalBoxFuture<'a, Result<Vec<RequestId>, StoreError>> {
            boxed(async move {
                this.db
                    .run("apply_summaries", async |db| {
                        this.apply_summaries_once(db, summaries, listed_at).await
                    })
                    .await
            })
        }
        work(self, summaries, listed_at).await
    }

    async fn note_backend_last_seq(
        &self,
        request_id: &RequestId,
        last_seq: Seq,
    ) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            last_seq: Seq,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move {
                const OP: &str = "note_backend_last_seq";
                this.db
                    .run(OP, async |db| {
                        let tx = Database::transaction(
                            &db,
                            &[CHATS, MESSAGES, schema::META],
                            Access::Write,
                            OP,
                        )?;
                        let chats = object_store(&tx, CHATS, OP)?;
                        let messages = object_store(&tx, MESSAGES, OP)?;
                        let record = this
                            .record_for_write(&chats, &messages, request_id, OP)
                            .await?;
                        let mut record = match record {
                            Some(record) => record,
                            None => {
                                // A fetch answered before the chat was taken away must not
                                // bring back its record.
                                let meta = object_store(&tx, schema::META, OP)?;
                                if revoked::read_revoked(&meta, OP)
                                    .await?
                                    .contains_key(request_id)
                                {
                                    return commit(&tx, OP).await;
                                }
                                ChatRecord::new(request_id.clone())
                            }
                        };
                        note_backend_last_seq(&mut record, last_seq);
                        put(&chats, &encode(&record, OP)?, OP)?;
                        commit(&tx, OP).await
                    })
                    .await
            })
        }
        work(self, request_id, last_seq).await
    }

    async fn newest(&self, request_id: &RequestId, limit: u64) -> Result<Window, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            limit: u64,
        ) -> LocalBoxFuture<'a, Result<Window, StoreError>> {
            boxed(async move { this.read_newest(request_id, limit).await })
        }
        work(self, request_id, limit).await
    }

    async fn range(&self, request_id: &RequestId, range: SeqRange) -> Result<Window, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            range: SeqRange,
        ) -> LocalBoxFuture<'a, Result<Window, StoreError>> {
            boxed(async move { this.read_range(request_id, range).await })
        }
        work(self, request_id, range).await
    }

    async fn mark_read(
        &self,
        request_id: &RequestId,
        read_seq: Seq,
        now: Millis,
    ) -> Result<bool, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            read_seq: Seq,
            now: Millis,
        ) -> LocalBoxFuture<'a, Result<bool, StoreError>> {
            boxed(async move {
                const OP: &str = "mark_read";
                this.db
                    .run(OP, async |db| {
                        // The chat record only: a read mark never touches messages, and a damaged
                        // record is left to the next ingest, which drops and refetches the chat.
                        let tx = Database::transaction(&db, &[CHATS], Access::Write, OP)?;
                        let chats = object_store(&tx, CHATS, OP)?;
                        let RecordRead::Found(mut record) =
                            read_record(&chats, request_id, OP).await?
                        else {
                            return commit(&tx, OP).await.map(|()| false);
                        };
                        let change = mark_read(&mut record, read_seq, now);
                        if change.record_changed {
                            put(&chats, &encode(&record, OP)?, OP)?;
                        }
                        commit(&tx, OP).await.map(|()| change.unread_changed)
                    })
                    .await
            })
        }
        work(self, request_id, read_seq, now).await
    }

    async fn outbox_enqueue(&self, new: NewOutboxEntry) -> Result<OutboxEntry, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            new: NewOutboxEntry,
        ) -> LocalBoxFuture<'a, Result<OutboxEntry, StoreError>> {
            boxed(async move { this.outbox_enqueue_with_files(new, Vec::new()).await })
        }
        work(self, new).await
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
        ) -> LocalBoxFuture<'a, Result<Vec<OutboxEntry>, StoreError>> {
            boxed(async move { this.outbox_entries().await })
        }
        work(self).await
    }

    async fn outbox_update(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            entry: &'a OutboxEntry,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.outbox_put_existing(entry).await })
        }
        work(self, entry).await
    }

    async fn outbox_remove(&self, client_temp_id: &str) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            client_temp_id: &'a str,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.outbox_delete(client_temp_id).await })
        }
        work(self, client_temp_id).await
    }

    async fn evict(&self, eviction: &Eviction) -> Result<u64, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            eviction: &'a Eviction,
        ) -> LocalBoxFuture<'a, Result<u64, StoreError>> {
            boxed(async move {
                const OP: &str = "evict";
                this.db
                    .run(OP, async |db| {
                        let tx = Database::transaction(&db, &[CHATS, MESSAGES], Access::Write, OP)?;
                        let chats = object_store(&tx, CHATS, OP)?;
                        let messages = object_store(&tx, MESSAGES, OP)?;
                        let Some(mut record) = this
                            .record_for_write(&chats, &messages, &eviction.request_id, OP)
                            .await?
                        else {
                            commit(&tx, OP).await?;
                            return Ok(0);
                        };
                        let removed = apply_eviction(&mut record, eviction.below_seq);
                        if eviction.below_seq > 1 {
                            let doomed =
                                message_range(&eviction.request_id, 0, eviction.below_seq - 1, OP)?;
                            messages.delete(&doomed).map_err(|e| store_error(OP, &e))?;
                        }
                        put(&chats, &encode(&record, OP)?, OP)?;
                        commit(&tx, OP).await?;
                        Ok(removed)
                    })
                    .await
            })
        }
        work(self, eviction).await
    }

    async fn clear_chat(&self, request_id: &RequestId) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move {
                const OP: &str = "clear_chat";
                this.db
                    .run(OP, async |db| {
                        let tx = Database::transaction(&db, &[CHATS, MESSAGES], Access::Write, OP)?;
                        delete_chat_in(
                            &object_store(&tx, CHATS, OP)?,
                            &object_store(&tx, MESSAGES, OP)?,
                            request_id,
                            OP,
                        )?;
                        commit(&tx, OP).await
                    })
                    .await
            })
        }
        work(self, request_id).await
    }

    async fn revoke_chat(
        &self,
        request_id: &RequestId,
        at: Millis,
    ) -> Result<Revocation, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            request_id: &'a RequestId,
            at: Millis,
        ) -> LocalBoxFuture<'a, Result<Revocation, StoreError>> {
            boxed(async move { this.revoke_chat_in_db(request_id, at).await })
        }
        work(self, request_id, at).await
    }

    async fn media_stats(&self) -> Result<MediaStats, StoreError> {
        fn work<'a>(this: &'a IdbStore) -> LocalBoxFuture<'a, Result<MediaStats, StoreError>> {
            boxed(async move { this.media_index_stats().await })
        }
        work(self).await
    }

    async fn media_hit(&self, media_id: &str, bytes: u64, now: Millis) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            media_id: &'a str,
            bytes: u64,
            now: Millis,
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.media_index_hit(media_id, bytes, now).await })
        }
        work(self, media_id, bytes, now).await
    }

    async fn media_miss(&self) -> Result<(), StoreError> {
        fn work<'a>(this: &'a IdbStore) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.media_index_miss().await })
        }
        work(self).await
    }

    async fn media_stored(
        &self,
        media_id: &str,
        bytes: u64,
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            media_id: &'a str,
            bytes: u64,
            now: Millis,
        ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
            boxed(async move { this.media_index_stored(media_id, bytes, now).await })
        }
        work(self, media_id, bytes, now).await
    }

    async fn media_set_budget(&self, budget: u64) -> Result<Vec<String>, StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            budget: u64,
        ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
            boxed(async move { this.media_index_set_budget(budget).await })
        }
        work(self, budget).await
    }

    async fn media_forget(&self, ids: &[String]) -> Result<(), StoreError> {
        fn work<'a>(
            this: &'a IdbStore,
            ids: &'a [String],
        ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.media_index_forget(ids).await })
        }
        work(self, ids).await
    }

    async fn media_clear(&self) -> Result<(), StoreError> {
        fn work<'a>(this: &'a IdbStore) -> LocalBoxFuture<'a, Result<(), StoreError>> {
            boxed(async move { this.media_index_clear().await })
        }
        work(self).await
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        fn work<'a>(this: &'a IdbStore) -> LocalBoxFuture<'a, Result<Usage, StoreError>> {
            boxed(async move {
                const OP: &str = "usage";
                let (chats, outbox) = this
                    .db
                    .run(OP, async |db| {
                        let tx = Database::transaction(&db, &[CHATS, OUTBOX], Access::Read, OP)?;
                        let chats = get_all_unbounded(&object_store(&tx, CHATS, OP)?, false, OP)?;
                        let outbox = get_all_unbounded(&object_store(&tx, OUTBOX, OP)?, false, OP)?;
                        Ok((chats.await?, outbox.await?))
                    })
                    .await?;
                let mut usage = Usage::default();
                for value in chats.iter() {
                    if let Ok(record) = decode::<ChatRecord>(value) {
                        usage.chats += 1;
                        usage.messages += record.message_count;
                        usage.message_bytes += record.bytes;
                    }
                }
                for value in outbox.iter() {
                    if let Ok(entry) = decode::<OutboxEntry>(value) {
                        usage.outbox_entries += 1;
                        usage.outbox_bytes += entry.approx_bytes();
                    }
                }
                Ok(usage)
            })
        }
        work(self).await
    }
}
