//! The runtime: the one ingest function every source uses (push, live stream, range fetch,
//! send echo), and what it does around the store.
//!
//! `ingest`: validate, merge and update the chat record in one transaction (the store calls
//! the core's `plan_ingest`), evict and retry on a full disk (never losing the incoming
//! message, never touching the outbox), then announce the change on the user's
//! `BroadcastChannel` so every open tab and the service worker update without polling.

use std::cell::RefCell;

use futures::future::LocalBoxFuture;

use chat_sync::backoff::BackoffPolicy;
use chat_sync::eviction::CacheBudget;
use chat_sync::ingest::{IngestContext, IngestReport, IngestUndo, Source, UndoOutcome};
use chat_sync::protocol::{validate_page, MessagesPage};
use chat_sync::quota::ingest_with_eviction;
use chat_sync::store::{Revocation, Store};
use chat_sync::vec_map::VecMap;
use chat_sync::{Message, RequestId, Seq};

use crate::boxed::boxed;
use crate::broadcast::{channel_name, Broadcaster, ChangeNotice, NoticeSource};
use crate::error::{FetchError, SyncError};
use crate::platform;
use crate::store::IdbStore;

pub use crate::store::{Handed, WriteWatch};

/// The cache of one signed-in user in one context, with its change channel.
#[derive(Debug)]
pub struct Runtime {
    store: IdbStore,
    broadcaster: Option<Broadcaster>,
    channel: String,
    budget: CacheBudget,
    send_backoff: BackoffPolicy,
    own_user_id: Option<String>,
    open_chats: RefCell<VecMap<RequestId, ()>>,
}

// The public operations box their work in a plain `fn work`, compiled by this crate only
// (see `crate::boxed`).
impl Runtime {
    /// Opens the cache of `user_id`, asks the browser to persist the origin's storage
    /// (`navigator.storage.persist()`, where the context has it), and opens its channel.
    pub async fn open(user_id: &str) -> Result<Self, SyncError> {
        fn work<'a>(user_id: &'a str) -> LocalBoxFuture<'a, Result<Runtime, SyncError>> {
            boxed(async move {
                // Not awaited: Firefox may show a permission prompt that is never answered, and the
                // cache works the same either way (eviction covers a non-persistent origin).
                wasm_bindgen_futures::spawn_local(async {
                    let persisted = platform::request_persistence().await;
                    crate::log_info!(persisted, "storage persistence requested");
                });
                let store = IdbStore::open_for_user(user_id).await?;
                Runtime::with_store(store, Some(user_id.to_owned()))
            })
        }
        work(user_id).await
    }

    /// A runtime over an already opened store; `own_user_id` is the signed-in agent, whose
    /// own messages never count as unread.
    pub fn with_store(store: IdbStore, own_user_id: Option<String>) -> Result<Self, SyncError> {
        let channel = channel_name(store.name());
        let broadcaster = match Broadcaster::new(&channel) {
            Ok(broadcaster) => Some(broadcaster),
            Err(error) => {
                // Without a channel the cache still works; other views update on their own
                // next read instead of at once.
                crate::log_warn!(%error, "no BroadcastChannel: change notices are off");
                None
            }
        };
        Ok(Self {
            store,
            broadcaster,
            channel,
            budget: CacheBudget::default(),
            send_backoff: BackoffPolicy::default(),
            own_user_id,
            open_chats: RefCell::new(VecMap::new()),
        })
    }

    /// Sets the cache budget used when the disk is full.
    pub fn set_budget(&mut self, budget: CacheBudget) {
        self.budget = budget;
    }

    /// Sets how a failed outbox send is spaced from the next attempt.
    pub fn set_send_backoff(&mut self, policy: BackoffPolicy) {
        self.send_backoff = policy;
    }

    /// How a failed outbox send is spaced from the next attempt.
    pub fn send_backoff(&self) -> BackoffPolicy {
        self.send_backoff
    }

    /// The store.
    pub fn store(&self) -> &IdbStore {
        &self.store
    }

    /// The name of the change channel (to [`crate::broadcast::subscribe`] to).
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Whether a chat is open in a visible view of this context (no unread is added then,
    /// and eviction spares it longest).
    pub fn set_chat_open(&self, request_id: &RequestId, open: bool) {
        let mut chats = self.open_chats.borrow_mut();
        if open {
            chats.insert(request_id.clone(), ());
        } else {
            chats.remove(request_id);
        }
    }

    /// Tells `on_write` of the writes of `request_id` this context makes that only add: the
    /// record and the new messages as soon as the writes are issued, before they commit, and
    /// a failure of that commit (see [`crate::store::Handed`]); the watch ends when the
    /// returned value is dropped.
    pub fn watch_writes(
        &self,
        request_id: &RequestId,
        on_write: impl Fn(Handed<'_>) + 'static,
    ) -> WriteWatch {
        self.store.watch_writes(request_id, on_write)
    }

    /// Hands the watchers of `request_id` in this context a write another context made and
    /// relayed here before its commit (the tab's live worker writes for the page, see
    /// [`crate::live_worker`]), as if this context had made it.
    pub fn hand_over(&self, request_id: &RequestId, handed: Handed<'_>) {
        self.store.hand_over(request_id, handed);
    }

    /// The chats open in a visible view of this context.
    pub fn open_chats(&self) -> Vec<RequestId> {
        self.open_chats.borrow().keys().cloned().collect()
    }

    /// The one ingest path: merge `messages` into the chat, evicting and retrying if the disk
    /// is full, then announce what changed.
    pub async fn ingest(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        source: Source,
    ) -> Result<IngestReport, SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            request_id: &'a RequestId,
            messages: Vec<Message>,
            source: Source,
        ) -> LocalBoxFuture<'a, Result<IngestReport, SyncError>> {
            boxed(async move {
                this.ingest_stating(request_id, messages, source, None)
                    .await
            })
        }
        work(self, request_id, messages, source).await
    }

    /// [`Runtime::ingest`], recording `backend_last` (a history reply's last sequence) in
    /// the same transaction as the batch.
    async fn ingest_stating(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        source: Source,
        backend_last: Option<Seq>,
    ) -> Result<IngestReport, SyncError> {
        let ctx = self.ingest_context(request_id, source, backend_last);
        let pinned: Vec<RequestId> = self.open_chats.borrow().keys().cloned().collect();
        let report = ingest_with_eviction(
            &self.store,
            request_id,
            messages,
            &ctx,
            &self.budget,
            &pinned,
        )
        .await?;
        self.ingested(request_id, source, &report).await?;
        Ok(report)
    }

    /// [`Runtime::ingest`] of a write made before the check that allows it (a worker's
    /// push, written while the session check runs), with how to take it back
    /// ([`Runtime::undo`]). No eviction is tried: a write that does not fit is left to the
    /// ordinary path after the check. Nothing is announced yet: no view is told of the write
    /// (and none reads it back for that) until the check lets it stand
    /// ([`Runtime::let_stand`]).
    pub async fn ingest_undoable(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        source: Source,
    ) -> Result<(IngestReport, Option<IngestUndo>), SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            request_id: &'a RequestId,
            messages: Vec<Message>,
            source: Source,
        ) -> LocalBoxFuture<'a, Result<(IngestReport, Option<IngestUndo>), SyncError>> {
            boxed(async move {
                let ctx = this.ingest_context(request_id, source, None);
                this.store
                    .ingest_undoable(request_id, messages, &ctx)
                    .await
                    .map_err(SyncError::from)
            })
        }
        work(self, request_id, messages, source).await
    }

    /// An [`Runtime::ingest_undoable`] write the check let stand: announced now, as every
    /// other write is once committed.
    pub async fn let_stand(
        &self,
        request_id: &RequestId,
        source: Source,
        report: &IngestReport,
    ) -> Result<(), SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            request_id: &'a RequestId,
            source: Source,
            report: &'a IngestReport,
        ) -> LocalBoxFuture<'a, Result<(), SyncError>> {
            boxed(async move { this.ingested(request_id, source, report).await })
        }
        work(self, request_id, source, report).await
    }

    /// Takes back an [`Runtime::ingest_undoable`] write, and tells every view the chat
    /// changed (a view drops what it read of it and reads again).
    pub async fn undo(&self, undo: &IngestUndo) -> Result<UndoOutcome, SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            undo: &'a IngestUndo,
        ) -> LocalBoxFuture<'a, Result<UndoOutcome, SyncError>> {
            boxed(async move {
                let outcome = this.store.undo_ingest(undo).await?;
                this.announce(ChangeNotice {
                    replaced: (undo.remove.len() + undo.restore.len()) as u64,
                    ..ChangeNotice::about(&undo.request_id, NoticeSource::Change)
                });
                Ok(outcome)
            })
        }
        work(self, undo).await
    }

    fn ingest_context(
        &self,
        request_id: &RequestId,
        source: Source,
        backend_last: Option<Seq>,
    ) -> IngestContext {
        IngestContext {
            now: platform::now_ms(),
            chat_open: self.open_chats.borrow().contains_key(request_id),
            own_user_id: self.own_user_id.clone(),
            source,
            backend_last,
        }
    }

    /// What follows every ingest: its refusals and anomalies logged, a redaction's files
    /// forgotten, and a change announced to every view.
    async fn ingested(
        &self,
        request_id: &RequestId,
        source: Source,
        report: &IngestReport,
    ) -> Result<(), SyncError> {
        for rejected in &report.rejected {
            crate::log_warn!(chat = %request_id, source = source.label(), reason = %rejected, "refused an invalid incoming message");
        }
        for anomaly in &report.anomalies {
            crate::log_warn!(chat = %request_id, ?anomaly, "ingest anomaly");
        }
        if !report.erased_media.is_empty() {
            // A redaction's files leave the media cache too; the server has erased them.
            crate::media::forget(&self.store, &report.erased_media).await?;
        }
        let changed = !report.new_seqs.is_empty()
            || report.replaced > 0
            || !report.confirmed_outbox.is_empty()
            || !report.redacted.is_empty()
            || report.kept_aside > 0;
        if changed {
            self.announce(ChangeNotice {
                new_seqs: report.new_seqs.clone(),
                replaced: report.replaced,
                unread: report.unread,
                confirmed_outbox: report.confirmed_outbox.clone(),
                redacted: report.redacted.clone(),
                ..ChangeNotice::about(request_id, source.into())
            });
        }
        Ok(())
    }

    /// Validates a history page against what was asked (`from ..= to`) and ingests it with
    /// the chat's last sequence from the reply.
    pub async fn ingest_page(
        &self,
        request_id: &RequestId,
        page: MessagesPage,
        from: Seq,
        to: Seq,
        source: Source,
    ) -> Result<IngestReport, SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            request_id: &'a RequestId,
            page: MessagesPage,
            from: Seq,
            to: Seq,
            source: Source,
        ) -> LocalBoxFuture<'a, Result<IngestReport, SyncError>> {
            boxed(async move {
                validate_page(&page, request_id, from, to).map_err(FetchError::from)?;
                let last_seq = page.last_seq;
                if page.messages.is_empty() {
                    // Nothing to write beside it: the last sequence is recorded on its own.
                    let report = this.ingest(request_id, page.messages, source).await?;
                    this.store
                        .note_backend_last_seq(request_id, last_seq)
                        .await?;
                    return Ok(report);
                }
                // Recorded in the batch's own transaction (one commit; views that read the chat
                // after the notice never wait behind a second write).
                this.ingest_stating(request_id, page.messages, source, Some(last_seq))
                    .await
            })
        }
        work(self, request_id, page, from, to, source).await
    }

    /// Lets go of a chat taken from the agent: everything of it leaves the cache in one
    /// transaction, its cached media leave Cache Storage, and every view hears why.
    pub async fn revoke(&self, request_id: &RequestId) -> Result<Revocation, SyncError> {
        fn work<'a>(
            this: &'a Runtime,
            request_id: &'a RequestId,
        ) -> LocalBoxFuture<'a, Result<Revocation, SyncError>> {
            boxed(async move {
                let revocation = this
                    .store
                    .revoke_chat(request_id, platform::now_ms())
                    .await?;
                crate::media::forget(&this.store, &revocation.media_ids).await?;
                if revocation.held_anything {
                    crate::log_warn!(
                        chat = %request_id,
                        discarded = revocation.outbox_discarded.len(),
                        "the chat was taken from this agent: its cache, media and unsent messages are gone"
                    );
                    this.announce_revoked(request_id, revocation.outbox_discarded.len());
                }
                Ok(revocation)
            })
        }
        work(self, request_id).await
    }

    /// Tells every view that a chat's outbox changed (an entry queued, parked, retried or
    /// deleted), so pending rows update without polling. The notice carries no seqs; its
    /// `source` is [`NoticeSource::Outbox`].
    pub fn announce_outbox_change(&self, request_id: &RequestId) {
        self.announce(ChangeNotice::about(request_id, NoticeSource::Outbox));
    }

    /// Tells every view that a chat's summary changed (its title or unread count, or it was
    /// closed or newly assigned), so lists and headers re-read it.
    pub fn announce_summary(&self, request_id: &RequestId) {
        self.announce(ChangeNotice::about(request_id, NoticeSource::Chat));
    }

    /// Tells every view that a chat was taken from the agent and has left the cache, with
    /// how many unsent messages went with it.
    pub fn announce_revoked(&self, request_id: &RequestId, discarded_outbox: usize) {
        self.announce(ChangeNotice {
            revoked: true,
            discarded_outbox: u32::try_from(discarded_outbox).unwrap_or(u32::MAX),
            ..ChangeNotice::about(request_id, NoticeSource::Revoked)
        });
    }

    fn announce(&self, notice: ChangeNotice) {
        if let Some(broadcaster) = &self.broadcaster {
            if let Err(error) = broadcaster.announce(&notice) {
                crate::log_warn!(%error, "could not announce a change");
            }
        }
    }
}
