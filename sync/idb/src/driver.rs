//! The driver: runs the core's sans-IO planner for a chat, turns its commands into history
//! fetches, merges the replies through the runtime's one ingest path, re-validates, and
//! retries on the planner's backoff.
//!
//! Single-flight: within a context the planner never emits a range already in flight; across
//! contexts every fetch of a chat runs under the Web Lock `<database>:fetch:<request_id>`,
//! and once it holds the lock the driver re-reads the chat record and trims the command to
//! what is still missing ([`Planner::trim`]), so a range another tab or the service worker
//! fetched meanwhile is never requested again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use chat_sync::ingest::Source;
use chat_sync::planner::{
    ChatInput, Command, FetchCommand, FetchMethod, FetchOutcome, FullReloadReason, Planner,
    PlannerConfig, Progress,
};
use chat_sync::store::Store;
use chat_sync::{ChatRecord, RequestId, Seq, SeqRange, SeqRanges, SyncState};
use futures::future::join_all;

use crate::broadcast::{fetch_channel_name, Broadcaster, FetchNotice};
use crate::error::{FetchError, SyncError};
use crate::http::HistoryClient;
use crate::locks;
use crate::platform;
use crate::runtime::Runtime;
use crate::store::readable_held;

/// What the UI needs to know about a chat's sync, as data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatStatus {
    /// The shown sync state.
    pub sync_state: SyncState,
    /// True only while a history request of this context is on the network.
    pub fetching: bool,
    /// Interior and trailing gaps still missing (where skeleton rows stand).
    pub missing: Vec<SeqRange>,
    /// Older history not cached yet (`1 ..= local_min - 1`).
    pub older: Option<SeqRange>,
    /// Progress of a large repair: messages done / total.
    pub progress: Progress,
}

/// The Web Lock every context takes before fetching history of `request_id` in the cache
/// database `database`.
pub fn fetch_lock_name(database: &str, request_id: &RequestId) -> String {
    format!("{database}:fetch:{request_id}")
}

/// The longest a context waits for a chat's fetch lock before it presumes the holder frozen
/// and takes the lock over ([`locks::with_lock_leased`]): twice the longest a healthy holder
/// keeps it (one request, bounded by [`crate::http::WRITE_TIMEOUT_MS`], and its ingest).
pub const FETCH_LOCK_LEASE_MS: u32 = 2 * crate::http::WRITE_TIMEOUT_MS;

/// The most planner rounds one `sync` call runs before returning (a guard against a backend
/// that keeps answering without making progress; the planner's backoff paces the rounds).
const MAX_ROUNDS: usize = 1_000;

/// How long a call waits for another call of this context that is fetching the same chat.
const IN_FLIGHT_POLL_MS: i64 = 10;

/// How many times `load_older` and `repair_proven_gap` wait out a backoff and ask again.
const RETRIES: usize = 5;

/// The longest they wait for one backoff to end.
const RETRY_MAX_WAIT_MS: i64 = 30_000;

/// The longest a `sync` call sleeps for a grace period or backoff before it returns and
/// leaves the rest to the next call.
const MAX_WAIT_MS: i64 = 5_000;

/// Drives the sync of one user's chats in one context.
pub struct Driver<C> {
    runtime: Rc<Runtime>,
    client: C,
    planner: RefCell<Planner>,
    fetching: RefCell<HashMap<RequestId, u32>>,
    fetch_observer: RefCell<Option<FetchObserver>>,
    /// Where this context announces its fetches to the others ([`FetchNotice`]).
    fetch_channel: Option<Broadcaster>,
    /// This driver's id in those notices.
    context: String,
}

/// Told when a chat's history requests of this context start (`true`: the first one went on
/// the network) and end (`false`: none is left), so a view shows its sync indicator exactly
/// while messages are being fetched.
pub type FetchObserver = Rc<dyn Fn(&RequestId, bool)>;

impl<C> std::fmt::Debug for Driver<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("runtime", &self.runtime)
            .field("stats", &self.planner.borrow().stats())
            .finish()
    }
}

impl<C: HistoryClient> Driver<C> {
    /// A driver over `runtime` fetching through `client`.
    pub fn new(runtime: Rc<Runtime>, client: C, config: PlannerConfig) -> Self {
        let seed = (platform::now_ms() as u64) ^ ((js_sys::Math::random() * 1e15) as u64);
        let fetch_channel = match Broadcaster::new(&fetch_channel_name(runtime.store().name())) {
            Ok(channel) => Some(channel),
            Err(error) => {
                tracing::warn!(%error, "no fetch channel: other contexts show no indicator for this one's fetches");
                None
            }
        };
        Self {
            runtime,
            client,
            planner: RefCell::new(Planner::new(config, seed)),
            fetching: RefCell::new(HashMap::new()),
            fetch_observer: RefCell::new(None),
            fetch_channel,
            context: platform::random_id(),
        }
    }

    /// The history client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The planner's counters (fetches emitted, seqs requested, full reloads).
    pub fn stats(&self) -> chat_sync::planner::PlannerStats {
        self.planner.borrow().stats()
    }

    /// Sets the one observer of fetch activity (see [`FetchObserver`]).
    pub fn set_fetch_observer(&self, observer: Option<FetchObserver>) {
        *self.fetch_observer.borrow_mut() = observer;
    }

    /// Whether a history request of this context is on the network for the chat.
    pub fn is_fetching(&self, request_id: &RequestId) -> bool {
        self.fetching
            .borrow()
            .get(request_id)
            .is_some_and(|n| *n > 0)
    }

    /// Whether the reader asked for a page of older history that is not fetched yet (a page
    /// that failed stays asked for until it arrives).
    pub fn wants_older(&self, request_id: &RequestId) -> bool {
        self.planner.borrow().wants_older(request_id)
    }

    /// The reader has `visible` on screen: gaps there are fetched first.
    pub fn set_viewport(&self, request_id: &RequestId, visible: Option<SeqRange>) {
        self.planner.borrow_mut().set_viewport(request_id, visible);
    }

    /// Counts a request of this context going on the network for the chat.
    fn request_started(&self, request_id: &RequestId) {
        let first = {
            let mut fetching = self.fetching.borrow_mut();
            let n = fetching.entry(request_id.clone()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            self.notify_fetching(request_id, true);
        }
    }

    /// Counts a request of this context coming back.
    fn request_ended(&self, request_id: &RequestId) {
        let last = {
            let mut fetching = self.fetching.borrow_mut();
            match fetching.get_mut(request_id) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => false,
            }
        };
        if last {
            self.notify_fetching(request_id, false);
        }
    }

    fn notify_fetching(&self, request_id: &RequestId, fetching: bool) {
        if let Some(channel) = &self.fetch_channel {
            let notice = FetchNotice {
                request_id: request_id.clone(),
                fetching,
                context: self.context.clone(),
            };
            if let Err(error) = channel.announce(&notice) {
                tracing::warn!(%error, "could not announce a fetch to the other contexts");
            }
        }
        // Cloned out of the cell first: the observer may call back into the driver.
        let observer = self.fetch_observer.borrow().clone();
        if let Some(observer) = observer {
            observer(request_id, fetching);
        }
    }

    fn lock_name(&self, request_id: &RequestId) -> String {
        fetch_lock_name(self.runtime.store().name(), request_id)
    }

    /// The chat as the planner sees it: readable held seqs and the backend's last seq once
    /// learned from the backend.
    async fn input(&self, request_id: &RequestId) -> Result<(SeqRanges, Option<Seq>), SyncError> {
        let record = self.runtime.store().chat(request_id).await?;
        self.note_dropped();
        Ok(match record {
            Some(record) => (
                readable_held(&record),
                record
                    .backend_last_seq_known
                    .then_some(record.backend_last_seq),
            ),
            None => (SeqRanges::new(), None),
        })
    }

    /// Chats the store dropped as unusable are reloaded, with the reason.
    fn note_dropped(&self) {
        for (request_id, reason) in self.runtime.store().take_dropped_chats() {
            self.planner
                .borrow_mut()
                .report_corrupt(&request_id, reason);
        }
    }

    /// The chat's status for the UI.
    pub async fn status(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        let (held, backend_last) = self.input(request_id).await?;
        Ok(self.status_from(request_id, &held, backend_last))
    }

    /// The chat's status for the UI from a record the caller just read (a view that re-read
    /// the chat after a notice does not read it again for this).
    pub fn status_of(&self, request_id: &RequestId, record: Option<&ChatRecord>) -> ChatStatus {
        match record {
            Some(record) => self.status_from(
                request_id,
                &readable_held(record),
                record
                    .backend_last_seq_known
                    .then_some(record.backend_last_seq),
            ),
            None => self.status_from(request_id, &SeqRanges::new(), None),
        }
    }

    fn status_from(
        &self,
        request_id: &RequestId,
        held: &SeqRanges,
        backend_last: Option<Seq>,
    ) -> ChatStatus {
        let planner = self.planner.borrow();
        let gaps = held.gaps(backend_last.unwrap_or(0));
        ChatStatus {
            sync_state: planner.sync_state(request_id),
            fetching: self.is_fetching(request_id),
            missing: gaps.repair_order(),
            older: gaps.leading,
            progress: planner.progress(request_id),
        }
    }

    /// A manual resync (or a push hint): repair now, skipping the grace period and backoff.
    pub async fn resync(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.planner.borrow_mut().request_resync(request_id);
        self.sync(request_id).await
    }

    /// A push proved missing messages exist: repair them without the grace period, within
    /// the backoff of earlier failures ([`Planner::note_gap_proven`]).
    ///
    /// A gap the push proved is worth waiting for: when earlier failures (the network was down)
    /// left a backoff longer than one `sync` waits, it is waited out a bounded number of times,
    /// so the push that came back online repairs the chat.
    pub async fn repair_proven_gap(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.planner.borrow_mut().note_gap_proven(request_id);
        let status = self.sync(request_id).await?;
        self.retry_after_backoff(request_id, status, |driver, status| {
            !status.missing.is_empty() && !driver.planner.borrow().is_refused(request_id)
        })
        .await
    }

    /// Back online with the chat open: fetch the page after its newest cached message at once
    /// (the core's [`Planner::request_newer`]), without waiting for the chat list.
    pub async fn fetch_newer(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.planner.borrow_mut().request_newer(request_id);
        self.sync(request_id).await
    }

    /// A push hint named message `seq` of a chat the cache never held: fetch exactly that
    /// message through the planner (the core's [`Planner::request_exact`]), under the chat's
    /// lock like every other fetch.
    pub async fn fetch_exact(
        &self,
        request_id: &RequestId,
        seq: Seq,
    ) -> Result<ChatStatus, SyncError> {
        self.planner.borrow_mut().request_exact(request_id, seq);
        self.sync(request_id).await
    }

    /// The reader scrolled to the oldest cached message: fetch one more page of history.
    pub async fn load_older(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.planner.borrow_mut().request_older(request_id);
        self.fetch_wanted_older(request_id).await
    }

    /// Fetches the older history the reader already asked for (a page that failed is still
    /// wanted while the reader waits at the top), waiting out the backoff a bounded number of
    /// times; asks for nothing new.
    pub async fn fetch_wanted_older(
        &self,
        request_id: &RequestId,
    ) -> Result<ChatStatus, SyncError> {
        let status = self.sync(request_id).await?;
        self.retry_after_backoff(request_id, status, |driver, _| {
            driver.planner.borrow().wants_older(request_id)
        })
        .await
    }

    /// While `wanted` holds after a `sync`, waits for the planner's backoff to end (at most
    /// [`RETRY_MAX_WAIT_MS`] each time) and syncs again, at most [`RETRIES`] times.
    async fn retry_after_backoff(
        &self,
        request_id: &RequestId,
        mut status: ChatStatus,
        wanted: impl Fn(&Self, &ChatStatus) -> bool,
    ) -> Result<ChatStatus, SyncError> {
        for _ in 0..RETRIES {
            if !wanted(self, &status) {
                break;
            }
            let now = platform::now_ms();
            let Some(at) = self.planner.borrow().next_wakeup() else {
                break;
            };
            platform::sleep((at - now).clamp(0, RETRY_MAX_WAIT_MS)).await;
            status = self.sync(request_id).await?;
        }
        Ok(status)
    }

    /// Runs the planner for a chat until nothing is missing, the backend refused, or a wait
    /// longer than [`MAX_WAIT_MS`] is due; returns the chat's status.
    pub async fn sync(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        for _ in 0..MAX_ROUNDS {
            let (held, backend_last) = self.input(request_id).await?;
            let now = platform::now_ms();
            let commands = self.planner.borrow_mut().poll(
                request_id,
                ChatInput {
                    held: &held,
                    backend_last,
                },
                now,
            );
            if commands.is_empty() {
                if self.planner.borrow().is_fetching(request_id) {
                    // Another call of this context is fetching this chat: wait for it rather
                    // than return a status that is about to change.
                    platform::sleep(IN_FLIGHT_POLL_MS).await;
                    continue;
                }
                let missing = backend_last.is_some_and(|last| held.gaps(last).repair_count() > 0);
                let wakeup = self.planner.borrow().next_wakeup();
                match wakeup {
                    Some(at) if missing && at > now && at - now <= MAX_WAIT_MS => {
                        platform::sleep(at - now).await;
                        continue;
                    }
                    _ => break,
                }
            }
            let results = join_all(commands.into_iter().map(|c| self.execute(c))).await;
            for result in results {
                result?;
            }
        }
        self.status(request_id).await
    }

    async fn execute(&self, command: Command) -> Result<(), SyncError> {
        match command {
            Command::Fetch(fetch) => {
                let request_id = fetch.request_id.clone();
                let result = locks::with_lock_leased(
                    &self.lock_name(&request_id),
                    FETCH_LOCK_LEASE_MS,
                    self.fetch_locked(&fetch),
                )
                .await
                .and_then(|inner| inner);
                let outcome = match &result {
                    Ok(outcome) => outcome.clone(),
                    // The cache failed: report a failure so the planner frees the range and
                    // backs off, then surface the error.
                    Err(_) => FetchOutcome::Failed,
                };
                let (held, backend_last) = self.input(&request_id).await?;
                self.planner.borrow_mut().handle_fetch_result(
                    fetch.id,
                    outcome,
                    ChatInput {
                        held: &held,
                        backend_last,
                    },
                    platform::now_ms(),
                );
                result.map(|_| ())
            }
            Command::FullReload { request_id, reason } => {
                self.full_reload(&request_id, &reason).await
            }
        }
    }

    /// One fetch command, holding the chat's lock: trim to what is still missing, request it,
    /// validate and merge each reply.
    async fn fetch_locked(&self, command: &FetchCommand) -> Result<FetchOutcome, SyncError> {
        let request_id = &command.request_id;
        let (held, _) = self.input(request_id).await?;
        let remaining = Planner::trim(command, &held);
        if remaining.is_empty() {
            tracing::debug!(chat = %request_id, range = ?command.range, "already fetched by another context");
            return Ok(FetchOutcome::AlreadyHeld);
        }
        let mut received = SeqRanges::new();
        let mut last_seq = 0;
        let mut page_limit = None;
        for range in remaining.ranges() {
            let (from, to) = match command.method {
                FetchMethod::Range => (range.start, range.end),
                // The cursor returns up to `limit` messages below `before`: any of them
                // (down to 1) is a valid answer.
                FetchMethod::Cursor => (1, range.end),
            };
            self.request_started(request_id);
            let request = async {
                match command.method {
                    FetchMethod::Range => {
                        self.client
                            .fetch_range(request_id, range.start, range.end)
                            .await
                    }
                    FetchMethod::Cursor => {
                        self.client
                            .fetch_before(request_id, range.end + 1, range.len())
                            .await
                    }
                }
            };
            let reply = platform::timed("sync:fetch", request).await;
            self.request_ended(request_id);
            let page = match reply {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(chat = %request_id, ?range, %error, "history fetch failed");
                    if matches!(error, FetchError::Refused { status: 403, .. }) {
                        // The chat was taken from this agent: its cache lets go of it.
                        self.runtime.revoke(request_id).await?;
                    }
                    return Ok(match error {
                        FetchError::Refused { .. } => FetchOutcome::Refused,
                        FetchError::Unsupported { .. } => FetchOutcome::MethodUnsupported,
                        FetchError::Transient { .. } | FetchError::Invalid(_) => {
                            FetchOutcome::Failed
                        }
                    });
                }
            };
            for message in &page.messages {
                received.insert(message.seq);
            }
            last_seq = last_seq.max(page.last_seq);
            page_limit = Some(page.page_limit);
            let ingest = self
                .runtime
                .ingest_page(request_id, page, from, to, Source::Fetch);
            match platform::timed("sync:ingest", ingest).await {
                Ok(_) => {}
                Err(SyncError::Fetch(error)) => {
                    tracing::warn!(chat = %request_id, ?range, %error, "refused an invalid history reply");
                    return Ok(FetchOutcome::Failed);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(FetchOutcome::Received {
            received,
            last_seq,
            page_limit,
        })
    }

    /// Drops the chat's cache and reloads it from the newest page down, logging the reason:
    /// the newest page comes at once (cursor from the top), older history page by page as the
    /// reader scrolls, like any leading gap.
    async fn full_reload(
        &self,
        request_id: &RequestId,
        reason: &FullReloadReason,
    ) -> Result<(), SyncError> {
        tracing::warn!(chat = %request_id, %reason, "full reload of a chat");
        if matches!(reason, FullReloadReason::NoHistoryFetch) {
            // Nothing can be fetched: the cache keeps what it has and live delivery goes on.
            return Ok(());
        }
        let store = self.runtime.store();
        let backend_last = store
            .chat(request_id)
            .await?
            .filter(|r| r.backend_last_seq_known)
            .map(|r| r.backend_last_seq);
        let limit = self.planner.borrow().config().page_limit;
        let top = chat_sync::protocol::MAX_SEQ;
        let before = backend_last.map_or(top, |last| (last + 1).min(top));
        let reply =
            locks::with_lock_leased(&self.lock_name(request_id), FETCH_LOCK_LEASE_MS, async {
                self.request_started(request_id);
                let reply = self.client.fetch_before(request_id, before, limit).await;
                self.request_ended(request_id);
                // The newest page first; the store swaps it for the old copy in one
                // transaction (`Source::replaces_chat`), so a failed fetch or write leaves
                // every message the agent had.
                match reply {
                    Ok(page) => self
                        .runtime
                        .ingest_page(request_id, page, 1, before - 1, Source::FullReload)
                        .await
                        .map(|_| ()),
                    Err(error) => Err(SyncError::Fetch(error)),
                }
            })
            .await?;
        if let Err(error) = reply {
            tracing::warn!(chat = %request_id, %error, "the reload's newest page failed; the cached copy stays");
        }
        Ok(())
    }
}
