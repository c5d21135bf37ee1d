//! The driver: performs the core's sync engine ([`chat_sync::engine`]) in the browser. For
//! each reason to sync it starts a run, reads the chat record before every step, and does
//! what the step says: performs fetch commands, sleeps, retries or stops. It decides nothing
//! itself; the rounds, waits, backoff and retries are the engine's.
//!
//! Single-flight: within a context the planner never emits a range already in flight; across
//! contexts every fetch of a chat runs under the Web Lock `<database>:fetch:<request_id>`,
//! and once it holds the lock the driver re-reads the chat record and asks the core which
//! requests are still needed ([`chat_sync::engine::fetch::requests_for`]), so a range another
//! tab or the service worker fetched meanwhile is never requested again. Each reply is merged
//! through the runtime's one ingest path.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::engine::fetch::{reload_request, requests_for, FetchTally, HistoryQuery};
use chat_sync::engine::{ChatFacts, Engine, Goal, RunId, Step};
use chat_sync::ingest::Source;
use chat_sync::planner::{Command, FetchCommand, FetchOutcome, FullReloadReason, PlannerConfig};
use chat_sync::store::Store;
use chat_sync::{ChatRecord, RequestId, Seq, SeqRange};

use crate::error::SyncError;
use crate::http::HistoryClient;
use crate::join::join_all;
use crate::locks;
use crate::platform;
use crate::runtime::Runtime;

pub use activity::FetchObserver;
pub use chat_sync::engine::ChatStatus;

mod activity;

use activity::FetchActivity;

/// The Web Lock every context takes before fetching history of `request_id` in the cache
/// database `database`.
pub fn fetch_lock_name(database: &str, request_id: &RequestId) -> String {
    format!("{database}:fetch:{request_id}")
}

/// The longest a context waits for a chat's fetch lock before it presumes the holder frozen
/// and takes the lock over ([`locks::with_lock_leased`]): twice the longest a healthy holder
/// keeps it (one request, bounded by [`crate::http::WRITE_TIMEOUT_MS`], and its ingest).
pub const FETCH_LOCK_LEASE_MS: u32 = 2 * crate::http::WRITE_TIMEOUT_MS;

/// Drives the sync of one user's chats in one context.
pub struct Driver<C> {
    runtime: Rc<Runtime>,
    client: C,
    engine: RefCell<Engine>,
    activity: FetchActivity,
}

impl<C> std::fmt::Debug for Driver<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("runtime", &self.runtime)
            .field("stats", &self.engine.borrow().planner().stats())
            .finish()
    }
}

impl<C: HistoryClient> Driver<C> {
    /// A driver over `runtime` fetching through `client`.
    pub fn new(runtime: Rc<Runtime>, client: C, config: PlannerConfig) -> Self {
        let seed = (platform::now_ms() as u64) ^ ((js_sys::Math::random() * 1e15) as u64);
        let activity = FetchActivity::new(runtime.store().name());
        Self {
            runtime,
            client,
            engine: RefCell::new(Engine::new(config, seed)),
            activity,
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
        self.engine.borrow().planner().stats()
    }

    /// Sets the one observer of fetch activity (see [`FetchObserver`]).
    pub fn set_fetch_observer(&self, observer: Option<FetchObserver>) {
        self.activity.set_observer(observer);
    }

    /// Whether a history request of this context is on the network for the chat.
    pub fn is_fetching(&self, request_id: &RequestId) -> bool {
        self.activity.is_fetching(request_id)
    }

    /// Whether the reader asked for a page of older history that is not fetched yet (a page
    /// that failed stays asked for until it arrives).
    pub fn wants_older(&self, request_id: &RequestId) -> bool {
        self.engine.borrow().planner().wants_older(request_id)
    }

    /// The reader has `visible` on screen: gaps there are fetched first.
    pub fn set_viewport(&self, request_id: &RequestId, visible: Option<SeqRange>) {
        self.engine
            .borrow_mut()
            .planner_mut()
            .set_viewport(request_id, visible);
    }

    fn lock_name(&self, request_id: &RequestId) -> String {
        fetch_lock_name(self.runtime.store().name(), request_id)
    }

    /// The chat as the planner sees it: readable held seqs and the backend's last seq once
    /// learned from the backend.
    async fn facts(&self, request_id: &RequestId) -> Result<ChatFacts, SyncError> {
        let record = self.runtime.store().chat(request_id).await?;
        self.note_dropped();
        Ok(ChatFacts::of(record.as_ref()))
    }

    /// Chats the store dropped as unusable are reloaded, with the reason.
    fn note_dropped(&self) {
        for (request_id, reason) in self.runtime.store().take_dropped_chats() {
            self.engine
                .borrow_mut()
                .planner_mut()
                .report_corrupt(&request_id, reason);
        }
    }

    /// The chat's status for the UI.
    pub async fn status(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        Ok(self.status_from(request_id, &self.facts(request_id).await?))
    }

    /// The chat's status for the UI from a record the caller just read (a view that re-read
    /// the chat after a notice does not read it again for this).
    pub fn status_of(&self, request_id: &RequestId, record: Option<&ChatRecord>) -> ChatStatus {
        self.status_from(request_id, &ChatFacts::of(record))
    }

    fn status_from(&self, request_id: &RequestId, facts: &ChatFacts) -> ChatStatus {
        self.engine
            .borrow()
            .status(request_id, facts.input(), self.is_fetching(request_id))
    }

    /// A manual resync: repair now, skipping the grace period and backoff ([`Goal::Resync`]).
    pub async fn resync(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::Resync).await
    }

    /// A push proved missing messages exist: repair them without the grace period, within
    /// the backoff of earlier failures, waiting out a long backoff a bounded number of times
    /// ([`Goal::ProvenGap`]).
    pub async fn repair_proven_gap(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::ProvenGap).await
    }

    /// The run that follows a message ingested from `source` ([`Goal::after_ingest`]).
    pub async fn after_ingest(
        &self,
        request_id: &RequestId,
        source: Source,
        reveals_gap: bool,
    ) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::after_ingest(source, reveals_gap))
            .await
    }

    /// Back online with the chat open: fetch the page after its newest cached message at once,
    /// without waiting for the chat list ([`Goal::Newer`]).
    pub async fn fetch_newer(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::Newer).await
    }

    /// A push hint named message `seq` of a chat the cache never held: fetch exactly that
    /// message, under the chat's lock like every other fetch ([`Goal::Exact`]).
    pub async fn fetch_exact(
        &self,
        request_id: &RequestId,
        seq: Seq,
    ) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::Exact(seq)).await
    }

    /// The reader scrolled to the oldest cached message and waits there: fetch one more page
    /// of history, asking again after failures for as long as `reading()` says the reader
    /// is still there ([`Goal::OlderWhileReading`]).
    pub async fn load_older_while_reading(
        &self,
        request_id: &RequestId,
        reading: impl Fn() -> bool,
    ) -> Result<ChatStatus, SyncError> {
        self.run_while(request_id, Goal::OlderWhileReading, &reading)
            .await
    }

    /// Back online: each chat open on screen ([`Runtime::open_chats`]) asks, one after the
    /// other (a tab shows one chat, two while a view hands over), for the page after its
    /// newest cached message ([`Driver::fetch_newer`]); resolves when every one is written or
    /// failed (failures are logged: the catch-up that
    /// follows repairs what is still missing).
    pub async fn fetch_newer_of_open_chats(&self) {
        for request_id in self.runtime.open_chats() {
            if let Err(error) = self.fetch_newer(&request_id).await {
                crate::log_warn!(chat = %request_id, %error, "fetching the newest messages of an open chat failed");
            }
        }
    }

    /// Fills what is known to be missing in the chat, within the grace period and backoff
    /// ([`Goal::Sync`]); returns the chat's status.
    pub async fn sync(&self, request_id: &RequestId) -> Result<ChatStatus, SyncError> {
        self.run(request_id, Goal::Sync).await
    }

    /// Runs the engine for one goal: performs what each step asks until the run is done.
    async fn run(&self, request_id: &RequestId, goal: Goal) -> Result<ChatStatus, SyncError> {
        self.run_while(request_id, goal, &|| true).await
    }

    /// [`Driver::run`], ending the run at a retry when `wanted()` no longer holds.
    async fn run_while(
        &self,
        request_id: &RequestId,
        goal: Goal,
        wanted: &dyn Fn() -> bool,
    ) -> Result<ChatStatus, SyncError> {
        let run = self.engine.borrow_mut().start(request_id, goal);
        // A caller that goes away (a closed view) ends its run.
        let _cancel = CancelOnDrop {
            engine: &self.engine,
            run,
        };
        // The facts the last step's fetch read after reporting its result: the next step
        // starts from them instead of reading the chat record again.
        let mut carried: Option<ChatFacts> = None;
        let facts = loop {
            let facts = match carried.take() {
                Some(facts) => facts,
                None => platform::timed("sync:facts", self.facts(request_id)).await?,
            };
            let now = platform::now_ms();
            let step = self.engine.borrow_mut().step(run, facts.input(), now);
            match step {
                Step::Perform(commands) => {
                    let single = commands.len() == 1;
                    let results = join_all(commands.into_iter().map(|c| self.execute(c))).await;
                    for result in results {
                        let read_after = result?;
                        // With several commands, one's facts may predate another's write.
                        if single {
                            carried = read_after;
                        }
                    }
                }
                // Every command of a run is awaited above, so this only follows a fetch
                // whose report was lost to an error; look again shortly.
                Step::Await => platform::sleep(chat_sync::engine::IN_FLIGHT_POLL_MS).await,
                Step::Sleep { until } => platform::sleep(until - now).await,
                Step::Retry { until } => {
                    if !wanted() {
                        break facts;
                    }
                    platform::sleep(until - now).await;
                }
                Step::Done => break facts,
            }
        };
        // The status from the facts the run ended on, read moments ago.
        Ok(self.status_from(request_id, &facts))
    }

    /// Performs one command; a fetch returns the chat's facts it read after reporting its
    /// result to the engine.
    async fn execute(&self, command: Command) -> Result<Option<ChatFacts>, SyncError> {
        match command {
            Command::Fetch(fetch) => {
                let request_id = fetch.request_id.clone();
                // `sync:lock` is the wait for the chat's lock, for the benchmark's breakdown.
                let asked = platform::precise_now();
                let result = locks::with_lock_leased(
                    &self.lock_name(&request_id),
                    FETCH_LOCK_LEASE_MS,
                    async {
                        platform::measure("sync:lock", asked);
                        self.fetch_locked(&fetch).await
                    },
                )
                .await
                .and_then(|inner| inner);
                let outcome = match &result {
                    Ok(outcome) => outcome.clone(),
                    // The cache failed: report a failure so the planner frees the range and
                    // backs off, then surface the error.
                    Err(_) => FetchOutcome::Failed,
                };
                // Reported even when the chat cannot be read now, so the range is not left
                // in flight for ever.
                let facts = self.facts(&request_id).await;
                self.engine.borrow_mut().handle_fetch_result(
                    fetch.id,
                    outcome,
                    facts.clone().unwrap_or_default().input(),
                    platform::now_ms(),
                );
                let facts = facts?;
                result.map(|_| Some(facts))
            }
            Command::FullReload { request_id, reason } => {
                self.full_reload(&request_id, &reason).await.map(|()| None)
            }
        }
    }

    /// One fetch command, holding the chat's lock: the requests for what is still missing
    /// ([`requests_for`]), each reply validated and merged through the one ingest path.
    async fn fetch_locked(&self, command: &FetchCommand) -> Result<FetchOutcome, SyncError> {
        let request_id = &command.request_id;
        let facts = self.facts(request_id).await?;
        let requests = requests_for(command, &facts.held);
        if requests.is_empty() {
            crate::log_debug!(chat = %request_id, range = ?command.range, "already fetched by another context");
            return Ok(FetchOutcome::AlreadyHeld);
        }
        let mut tally = FetchTally::default();
        for request in requests {
            self.activity.started(request_id);
            let reply = platform::timed("sync:fetch", self.send(request_id, request.query)).await;
            self.activity.ended(request_id);
            let page = match reply {
                Ok(page) => page,
                Err(error) => {
                    crate::log_warn!(chat = %request_id, range = ?request.range, %error, "history fetch failed");
                    let failure = error.failure();
                    if failure.revokes_chat() {
                        self.runtime.revoke(request_id).await?;
                    }
                    return Ok(failure.outcome());
                }
            };
            tally.add(
                page.messages.iter().map(|m| m.seq),
                page.last_seq,
                page.page_limit,
            );
            let ingest = self.runtime.ingest_page(
                request_id,
                page,
                request.accept.start,
                request.accept.end,
                Source::Fetch,
            );
            match platform::timed("sync:ingest", ingest).await {
                Ok(_) => {}
                Err(SyncError::Fetch(error)) => {
                    crate::log_warn!(chat = %request_id, range = ?request.range, %error, "refused an invalid history reply");
                    return Ok(FetchOutcome::Failed);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(tally.outcome())
    }

    /// Sends one history request.
    async fn send(
        &self,
        request_id: &RequestId,
        query: HistoryQuery,
    ) -> Result<chat_sync::protocol::MessagesPage, crate::error::FetchError> {
        match query {
            HistoryQuery::Range { from, to } => self.client.fetch_range(request_id, from, to).await,
            HistoryQuery::Before { before, limit } => {
                self.client.fetch_before(request_id, before, limit).await
            }
        }
    }

    /// Drops the chat's cache and reloads it from the newest page down, logging the reason:
    /// the newest page comes at once ([`reload_request`]), older history page by page as the
    /// reader scrolls, like any leading gap.
    async fn full_reload(
        &self,
        request_id: &RequestId,
        reason: &FullReloadReason,
    ) -> Result<(), SyncError> {
        crate::log_warn!(chat = %request_id, %reason, "full reload of a chat");
        if matches!(reason, FullReloadReason::NoHistoryFetch) {
            // Nothing can be fetched: the cache keeps what it has and live delivery goes on.
            return Ok(());
        }
        let facts = self.facts(request_id).await?;
        let limit = self.engine.borrow().planner().config().page_limit;
        let request = reload_request(facts.backend_last, limit);
        let reply =
            locks::with_lock_leased(&self.lock_name(request_id), FETCH_LOCK_LEASE_MS, async {
                self.activity.started(request_id);
                let reply = self.send(request_id, request.query).await;
                self.activity.ended(request_id);
                // The newest page first; the store swaps it for the old copy in one
                // transaction (`Source::replaces_chat`), so a failed fetch or write leaves
                // every message the agent had.
                match reply {
                    Ok(page) => self
                        .runtime
                        .ingest_page(
                            request_id,
                            page,
                            request.accept.start,
                            request.accept.end,
                            Source::FullReload,
                        )
                        .await
                        .map(|_| ()),
                    Err(error) => Err(SyncError::Fetch(error)),
                }
            })
            .await?;
        if let Err(error) = reply {
            crate::log_warn!(chat = %request_id, %error, "the reload's newest page failed; the cached copy stays");
        }
        Ok(())
    }
}

/// Cancels a run when its caller's future ends or is dropped (a finished run is gone already).
struct CancelOnDrop<'a> {
    engine: &'a RefCell<Engine>,
    run: RunId,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Ok(mut engine) = self.engine.try_borrow_mut() {
            engine.cancel(self.run);
        }
    }
}
