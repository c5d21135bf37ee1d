//! The live channel for open tabs: one tab per browser (per user database) holds the
//! Server-Sent Events connection to `GET /api/chat/events`; the others follow.
//!
//! Leadership is the Web Lock `<database>:live` ([`live_lock_name`]), held for as long as the
//! leader's [`LiveChannel`] lives. Other tabs queue on the same lock, so when the leader tab
//! closes (the browser releases a dead context's locks) or drops its channel, the next tab in
//! the queue is granted the lock at once and connects. Followers need no stream of their own:
//! every message the leader ingests through [`Runtime::ingest`](crate::runtime::Runtime::ingest)
//! is announced on the user's `BroadcastChannel`. A leader the browser froze (it keeps its
//! lock and runs nothing) stops answering the waiting tabs' probes, and the first of them to
//! notice steals the lock ([`crate::live_lease`]); the frozen leader, when it thaws, finds its
//! lock gone, drops its stream and queues again as a follower.
//!
//! The leader ingests each event with `Source::Live`; an ingest that reveals a gap records
//! the event's seq as the backend's last seq and has the driver repair the chat beside the
//! stream (never blocking it). Malformed events are logged and dropped. The browser's
//! `EventSource` reconnects by itself with `Last-Event-ID`; when it gives up, a new one is
//! opened after the core's capped, jittered backoff ([`chat_sync::live`]). After every
//! (re)connect [`catch_up`] compares each cached chat with the backend's chat list and fetches
//! only the missing ranges.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use chat_sync::backoff::SplitMix64;
use chat_sync::decode::StreamEvent;
use chat_sync::ingest::Source;
use chat_sync::live::{
    catch_up_missing, catch_up_retry, CatchUpTurns, LiveAction, LiveConnection, StreamSignal,
    LIVE_BACKOFF,
};
use chat_sync::store::Store;
use chat_sync::{ChatSummary, RequestId};
use futures::channel::{mpsc, oneshot};
use futures::future::join_all;
use futures::future::{select, Either, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, EventSourceInit, MessageEvent};

pub use chat_sync::live::LiveStatus;

use crate::driver::Driver;
use crate::error::{DomError, SyncError};
use crate::http::{HistoryClient, HttpHistoryClient};
use crate::store::readable_held;
use crate::task::beside;
use crate::{locks, platform};

/// The Web Lock whose holder is the live channel's leader for the cache database `database`.
pub fn live_lock_name(database: &str) -> String {
    format!("{database}:live")
}

/// The live channel of one tab. Dropping it stops everything: the stream closes, repairs it
/// started are abandoned (the driver's locks are released with them), and leadership passes
/// to the next tab waiting.
pub struct LiveChannel {
    stop: Option<oneshot::Sender<()>>,
    lock_name: String,
}

impl std::fmt::Debug for LiveChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveChannel")
            .field("lock", &self.lock_name)
            .finish()
    }
}

impl Drop for LiveChannel {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl LiveChannel {
    /// Starts competing for leadership of `driver`'s database and, once leader, follows
    /// `base_url` + `/api/chat/events` (an empty `base_url` is the page's own origin).
    /// `on_status` is called at once with [`LiveStatus::Follower`] and on every change.
    ///
    /// Fails only when the context has no `EventSource` (a service worker, or a very old
    /// browser); without Web Locks every tab leads on its own (logged).
    pub fn start(
        driver: Rc<Driver<HttpHistoryClient>>,
        base_url: &str,
        on_status: impl Fn(LiveStatus) + 'static,
    ) -> Result<LiveChannel, SyncError> {
        if platform::global_property("EventSource").is_none() {
            return Err(SyncError::Platform {
                api: "EventSource",
                cause: DomError::new(
                    "NotSupportedError",
                    "this context has no EventSource (live updates need a window or worker)",
                ),
            });
        }
        let base_url = base_url.trim_end_matches('/').to_owned();
        let lock_name = live_lock_name(driver.runtime().store().name());
        let on_status: Rc<dyn Fn(LiveStatus)> = Rc::new(on_status);
        on_status(LiveStatus::Follower);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let name = lock_name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let leader = Leader {
                driver,
                client: HttpHistoryClient::new(base_url.clone()),
                events_url: format!("{base_url}/api/chat/events"),
                me_url: format!("{base_url}/api/auth/me"),
                on_status,
            };
            let lease = crate::live_lease::lease_channel_name(&name);
            loop {
                let round = leader.clone();
                let lease_channel = lease.clone();
                let lead = async move {
                    let _answering = crate::live_lease::Answering::start(&lease_channel);
                    round.run().await;
                };
                // Dropping the lock future (when `stop` fires) releases the lock, or
                // withdraws the queued request, and drops the stream with everything it
                // started.
                let compete = Box::pin(locks::with_lock_or_take_over(
                    &name,
                    crate::live_lease::leader_silent(&lease),
                    lead,
                ));
                match select(&mut stopped, compete).await {
                    Either::Left(_) => {
                        tracing::debug!(lock = %name, "live channel stopped");
                        return;
                    }
                    Either::Right((Ok(locks::Tenure::Stolen), _)) => {
                        tracing::warn!(lock = %name, "another tab took the live channel over; following again");
                        (leader.on_status)(LiveStatus::Follower);
                    }
                    Either::Right((Ok(locks::Tenure::Finished(())), _)) => return,
                    Either::Right((Err(error), _)) => {
                        tracing::warn!(lock = %name, %error, "could not compete for the live channel");
                        return;
                    }
                }
            }
        });
        Ok(LiveChannel {
            stop: Some(stop),
            lock_name,
        })
    }

    /// The Web Lock this channel holds while it leads.
    pub fn lock_name(&self) -> &str {
        &self.lock_name
    }
}

/// What the stream's callbacks report, tagged with the stream's generation so a late event
/// of a stream already replaced is ignored.
enum Signal {
    Open(u32),
    /// An event of the stream: its generation, its SSE event name and its data.
    Message(u32, &'static str, String),
    Error(u32, bool),
    ReconnectDue,
    SessionEnded,
}

/// An open `EventSource` with its callbacks; dropping it closes the stream.
struct Stream {
    source: EventSource,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Listeners of the named events (`change`, `revoked`, `chat`), which `onmessage` never
    /// sees.
    named: Vec<(&'static str, EventListener)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

/// A listener of stream events.
type EventListener = Closure<dyn FnMut(MessageEvent)>;

/// The named SSE events of the contract besides `message` (see `chat_sync::change_wire`).
const NAMED_EVENTS: [&str; 3] = ["change", "revoked", "chat"];

/// A listener that forwards an event's text data as a [`Signal::Message`] named `kind`.
fn forward(
    kind: &'static str,
    generation: u32,
    signals: &mpsc::UnboundedSender<Signal>,
) -> EventListener {
    let tx = signals.clone();
    Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match event.data().as_string() {
            Some(data) => {
                let _ = tx.unbounded_send(Signal::Message(generation, kind, data));
            }
            None => tracing::warn!(kind, "dropped a live event without text data"),
        }
    })
}

impl Stream {
    fn open(
        url: &str,
        generation: u32,
        signals: &mpsc::UnboundedSender<Signal>,
    ) -> Result<Self, SyncError> {
        let init = EventSourceInit::new();
        init.set_with_credentials(true);
        let source = EventSource::new_with_event_source_init_dict(url, &init)
            .map_err(|e| SyncError::platform("new EventSource", &e))?;
        let tx = signals.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
            let _ = tx.unbounded_send(Signal::Open(generation));
        });
        let on_message = forward("message", generation, signals);
        let mut named = Vec::with_capacity(NAMED_EVENTS.len());
        for kind in NAMED_EVENTS {
            let listener = forward(kind, generation, signals);
            source
                .add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())
                .map_err(|e| SyncError::platform("EventSource.addEventListener", &e))?;
            named.push((kind, listener));
        }
        let tx = signals.clone();
        let reader = source.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
            let closed = reader.ready_state() == EventSource::CLOSED;
            let _ = tx.unbounded_send(Signal::Error(generation, closed));
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            source,
            _on_open: on_open,
            _on_message: on_message,
            named,
            _on_error: on_error,
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.set_onopen(None);
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        for (kind, listener) in &self.named {
            let _ = self
                .source
                .remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
        self.source.close();
    }
}

/// The leader's work, run while it holds the lock.
#[derive(Clone)]
struct Leader {
    driver: Rc<Driver<HttpHistoryClient>>,
    client: HttpHistoryClient,
    events_url: String,
    me_url: String,
    on_status: Rc<dyn Fn(LiveStatus)>,
}

impl Leader {
    /// Follows the stream until the future is dropped: ingests events in order, runs
    /// catch-ups and gap repairs beside it, reconnects when the browser gives up.
    async fn run(self) {
        let seed = (platform::now_ms() as u64) ^ ((js_sys::Math::random() * 1e15) as u64);
        let mut connection = LiveConnection::new(LIVE_BACKOFF, seed);
        (self.on_status)(connection.lead());
        let (signals, mut incoming) = mpsc::unbounded::<Signal>();
        // Catch-ups, repairs and reconnect timers run beside the stream, each as its own task
        // (`task::beside`: the loop awaits each ingest inline, and work polled from the loop
        // itself would lose its IndexedDB transaction meanwhile); this set holds their
        // handles, so they end when the leader's future is dropped.
        let mut tasks: FuturesUnordered<LocalBoxFuture<'static, ()>> = FuturesUnordered::new();
        let repairing: Rc<RefCell<HashSet<RequestId>>> = Rc::default();
        let catch_up: Rc<RefCell<CatchUpTurns>> = Rc::default();
        // Whether a stream of this channel opened before (the next open is a reconnect).
        let opened_before = std::cell::Cell::new(false);
        let mut generation = 0u32;
        let mut stream = self.open(generation, &signals, &mut connection, &mut tasks);
        loop {
            let signal = futures::select! {
                signal = incoming.select_next_some() => signal,
                () = tasks.select_next_some() => continue,
            };
            match signal {
                Signal::Open(g) if g == generation => {
                    connection.on_signal(StreamSignal::Opened);
                    (self.on_status)(connection.status());
                    // One catch-up at a time: a connect during a catch-up asks for one more
                    // round after it, since the running one may have read the chat list
                    // before the latest disconnect. A reconnect also asks at once for what
                    // arrived in the chats on screen.
                    let reconnect = opened_before.replace(true);
                    if catch_up.borrow_mut().request() {
                        tasks.push(beside(run_catch_up(
                            self.driver.clone(),
                            self.client.clone(),
                            catch_up.clone(),
                            reconnect,
                        )));
                    }
                }
                Signal::Message(g, kind, data) if g == generation => {
                    self.ingest(kind, &data, &repairing, &mut tasks).await;
                }
                Signal::Error(g, closed) if g == generation => {
                    let signal = if closed {
                        StreamSignal::Closed
                    } else {
                        StreamSignal::Retrying
                    };
                    let action = connection.on_signal(signal);
                    (self.on_status)(connection.status());
                    if let LiveAction::Reconnect { after_ms } = action {
                        tracing::info!(after_ms, "the live stream closed; reconnecting later");
                        stream = None;
                        tasks.push(self.reconnect_later(after_ms, &signals));
                    }
                }
                Signal::SessionEnded => {
                    connection.on_signal(StreamSignal::SessionEnded);
                    tracing::info!("the session ended: the live stream stays closed");
                    stream = None;
                    (self.on_status)(connection.status());
                }
                Signal::ReconnectDue if connection.status() != LiveStatus::SignedOut => {
                    generation = generation.wrapping_add(1);
                    drop(stream.take());
                    stream = self.open(generation, &signals, &mut connection, &mut tasks);
                }
                // A late event of a stream already replaced, or of a channel whose session
                // ended.
                Signal::Open(_)
                | Signal::Message(..)
                | Signal::Error(..)
                | Signal::ReconnectDue => {}
            }
        }
    }

    /// Waits `after_ms`, then asks the server whether the session still stands: a stream
    /// the server refused (401 after a sign-out elsewhere, or an expired session) looks to
    /// the `EventSource` like any other failure. The answer comes back as a signal, so no
    /// wait of the loop itself holds up the tasks beside it.
    fn reconnect_later(
        &self,
        after_ms: i64,
        signals: &mpsc::UnboundedSender<Signal>,
    ) -> LocalBoxFuture<'static, ()> {
        let due = signals.clone();
        let me_url = self.me_url.clone();
        beside(async move {
            platform::sleep(after_ms).await;
            let answer: Result<serde::de::IgnoredAny, _> =
                crate::http::get_json(&me_url, "current user").await;
            let signal = match answer {
                Err(crate::FetchError::Refused {
                    status: 401 | 403, ..
                }) => Signal::SessionEnded,
                // Signed in, or the server is unreachable: try the stream again.
                _ => Signal::ReconnectDue,
            };
            let _ = due.unbounded_send(signal);
        })
    }

    /// Opens a stream; a failure to construct one counts as a closed stream (backoff).
    fn open(
        &self,
        generation: u32,
        signals: &mpsc::UnboundedSender<Signal>,
        connection: &mut LiveConnection,
        tasks: &mut FuturesUnordered<LocalBoxFuture<'static, ()>>,
    ) -> Option<Stream> {
        match Stream::open(&self.events_url, generation, signals) {
            Ok(stream) => Some(stream),
            Err(error) => {
                tracing::warn!(%error, "could not open the live stream");
                if let LiveAction::Reconnect { after_ms } =
                    connection.on_signal(StreamSignal::Closed)
                {
                    (self.on_status)(connection.status());
                    tasks.push(self.reconnect_later(after_ms, signals));
                }
                None
            }
        }
    }

    /// Ingests one event through the one ingest path; a gap it reveals is repaired beside
    /// the stream.
    async fn ingest(
        &self,
        kind: &str,
        data: &str,
        repairing: &Rc<RefCell<HashSet<RequestId>>>,
        tasks: &mut FuturesUnordered<LocalBoxFuture<'static, ()>>,
    ) {
        let message = match chat_sync::decode::stream_event(kind, data.as_bytes()) {
            Ok(StreamEvent::Message(message)) => message,
            Ok(other) => {
                // Changes, revocations and chat summaries may fetch (a changes catch-up):
                // beside the stream, like a repair. Their order does not matter: the newer
                // version wins whichever lands first.
                let driver = self.driver.clone();
                tasks.push(beside(async move {
                    if let Err(error) = crate::changes::handle_stream_event(&driver, other).await {
                        tracing::warn!(%error, "could not apply a live change");
                    }
                }));
                return;
            }
            Err(error) => {
                tracing::warn!(%error, kind, len = data.len(), "dropped a malformed live event");
                return;
            }
        };
        let request_id = message.request_id.clone();
        let seq = message.seq;
        let runtime = self.driver.runtime();
        let report = match runtime
            .ingest(&request_id, vec![message], Source::Live)
            .await
        {
            Ok(report) => report,
            Err(error) => {
                // The cache refused the write: the catch-up after the next reconnect, or the
                // next push, fetches the message again; nothing else can be done here.
                tracing::warn!(chat = %request_id, seq, %error, "could not ingest a live event");
                return;
            }
        };
        // The event is the backend's word that `seq` exists: the core's ingest made the
        // backend's last seq known, and what lies between is missing.
        if !report.reveals_gap || !report.rejected.is_empty() {
            return;
        }
        if !repairing.borrow_mut().insert(request_id.clone()) {
            // A repair of this chat is running; it re-reads the chat each round and will
            // include the new gap.
            return;
        }
        let driver = self.driver.clone();
        let repairing = repairing.clone();
        tasks.push(beside(async move {
            match driver.after_ingest(&request_id, Source::Live, true).await {
                Ok(status) => tracing::info!(chat = %request_id, missing = ?status.missing, "gap repair after a live event"),
                Err(error) => tracing::warn!(chat = %request_id, %error, "gap repair after a live event failed"),
            }
            repairing.borrow_mut().remove(&request_id);
        }));
    }
}

async fn run_catch_up(
    driver: Rc<Driver<HttpHistoryClient>>,
    client: HttpHistoryClient,
    turns: Rc<RefCell<CatchUpTurns>>,
    reconnect: bool,
) {
    let mut rng = SplitMix64::new((platform::now_ms() as u64) ^ 0x9e37_79b9_7f4a_7c15);
    loop {
        let mut failures = 0;
        loop {
            match catch_up_probing(&driver, &client, reconnect).await {
                Ok(report) => {
                    tracing::info!(?report, "live catch-up done");
                    break;
                }
                Err(error) => {
                    failures += 1;
                    let ended = matches!(
                        error,
                        SyncError::Fetch(crate::FetchError::Refused {
                            status: 401 | 403,
                            ..
                        })
                    );
                    match catch_up_retry(failures, ended, &mut rng) {
                        Some(after_ms) => {
                            tracing::warn!(%error, failures, after_ms, "live catch-up failed; trying again");
                            platform::sleep(after_ms).await;
                        }
                        None => {
                            tracing::warn!(%error, failures, "live catch-up failed; waiting for the next reconnect");
                            break;
                        }
                    }
                }
            }
        }
        if !turns.borrow_mut().finished() {
            break;
        }
    }
}

/// What a [`catch_up`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Chats in the backend's list.
    pub chats_listed: usize,
    /// Listed chats with cached messages (the others are loaded when opened).
    pub chats_cached: usize,
    /// Chats that were missing sequences and were repaired.
    pub chats_repaired: usize,
    /// Sequences missing before the repair (interior and trailing gaps only).
    pub seqs_missing: u64,
    /// Sequences still missing after it (the repair of those chats failed or backed off).
    pub seqs_still_missing: u64,
    /// Chats whose edits and redactions were caught up.
    pub chats_changed: usize,
    /// Cached chats the server no longer lets the agent see, let go of.
    pub chats_revoked: usize,
    /// Chats whose repair failed, with the error.
    pub failed: Vec<(RequestId, SyncError)>,
}

/// After a connect: fetches the chat list, applies it to the store (the backend's last seq
/// of every chat), then for each chat with cached messages that now misses sequences, has the
/// driver fetch only the interior and trailing gaps. Older history (the leading gap) is
/// fetched here only when the reader asked for it and it is still owed (a page that failed
/// while the network was gone); nothing is reloaded.
pub async fn catch_up(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
) -> Result<CatchUpReport, SyncError> {
    catch_up_probing(driver, client, false).await
}

/// [`catch_up`] after the context was offline or its stream dropped: what arrived meanwhile
/// in the chats open on screen is asked for at once, the page after each one's newest cached
/// message (the core's `Planner::request_newer`), beside the chat list rather than after it,
/// so the reader sees it one round trip sooner.
pub async fn catch_up_back_online(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
) -> Result<CatchUpReport, SyncError> {
    catch_up_probing(driver, client, true).await
}

async fn catch_up_probing(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
    probe_open_chats: bool,
) -> Result<CatchUpReport, SyncError> {
    // A chat revoked after this moment is not brought back by this (then stale) list.
    let listed_at = platform::now_ms();
    let open = if probe_open_chats {
        driver.runtime().open_chats()
    } else {
        Vec::new()
    };
    let newer = join_all(open.iter().map(|request_id| async move {
        if let Err(error) = driver.fetch_newer(request_id).await {
            tracing::warn!(chat = %request_id, %error, "fetching the newest messages of an open chat failed");
        }
    }));
    let list = platform::timed("sync:chat-list", client.fetch_chat_list());
    let (summaries, _) = futures::join!(list, newer);
    catch_up_with_list(driver, &summaries?, listed_at).await
}

/// [`catch_up`] with the chat list already fetched, over any history client.
pub async fn catch_up_with_list<C: HistoryClient>(
    driver: &Driver<C>,
    summaries: &[ChatSummary],
    listed_at: chat_sync::Millis,
) -> Result<CatchUpReport, SyncError> {
    let store = driver.runtime().store();
    let apply = store.apply_summaries(summaries, listed_at);
    platform::timed("sync:apply-list", apply).await?;
    let mut report = CatchUpReport {
        chats_listed: summaries.len(),
        ..CatchUpReport::default()
    };
    // Every chat record in one read, instead of one transaction per listed chat.
    let mut records: std::collections::HashMap<RequestId, chat_sync::ChatRecord> = store
        .chats()
        .await?
        .into_iter()
        .map(|record| (record.request_id.clone(), record))
        .collect();
    for summary in summaries {
        let request_id = &summary.request_id;
        let Some(record) = records.remove(request_id) else {
            continue;
        };
        if chat_sync::changes::changes_since(&record).is_some() {
            report.chats_changed += 1;
            if let Err(error) = crate::changes::catch_up_changes(driver, request_id).await {
                tracing::warn!(chat = %request_id, %error, "catch-up of changes failed");
                report.failed.push((request_id.clone(), error));
            }
        }
        let held = readable_held(&record);
        if held.is_empty() {
            continue;
        }
        report.chats_cached += 1;
        let backend_last = record
            .backend_last_seq_known
            .then_some(record.backend_last_seq);
        let missing = catch_up_missing(&held, backend_last);
        if missing == 0 {
            // A page of older history the reader waits for, which failed while the network
            // was gone (its bounded retries may be spent): coming back online asks again.
            if driver.wants_older(request_id) {
                if let Err(error) = driver.sync(request_id).await {
                    tracing::warn!(chat = %request_id, %error, "older history after reconnect failed");
                    report.failed.push((request_id.clone(), error));
                }
            }
            continue;
        }
        report.chats_repaired += 1;
        report.seqs_missing += missing;
        match platform::timed("sync:repair", driver.resync(request_id)).await {
            Ok(status) => {
                report.seqs_still_missing += status.missing.iter().map(|r| r.len()).sum::<u64>();
            }
            Err(error) => {
                tracing::warn!(chat = %request_id, %error, "catch-up repair failed");
                report.seqs_still_missing += missing;
                report.failed.push((request_id.clone(), error));
            }
        }
    }
    // Cached chats the list no longer names: the server confirms each (a 403 revokes it).
    for request_id in records.into_keys() {
        match crate::changes::confirm_access(driver, &request_id).await {
            Ok(changes) if changes.revoked => report.chats_revoked += 1,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(chat = %request_id, %error, "could not confirm access to an unlisted chat");
                report.failed.push((request_id, error));
            }
        }
    }
    Ok(report)
}
