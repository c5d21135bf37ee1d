//! The worker's end of the exchange: [`serve`] handles each message of the page.
//!
//! The first valid start opens the agent's cache and runs the live channel for the worker's
//! life, and the start's catch-up. Every other ask of the page is performed with the running
//! context (the catch-ups, the outbox's sending, the sync of the chats the page shows, edits
//! and deletions, clearing what other agents left once the server confirmed this one); an ask that comes while the cache still opens waits for it, in order.
//! For each chat the page shows the worker watches its own writes and hands the page what
//! they add before the commit, and reports how the chat's sync stands whenever a fetch of it
//! starts or ends and when a run the page asked for ends.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::engine::ChatStatus;
use chat_sync::live::worker_wire::{
    CatchUpOutcome, ChatReport, FromLiveWorker, ToLiveWorker, LIVE_WORKER_PROTOCOL,
};
use chat_sync::live::{LiveStatus, LEAD_WAIT_MS};
use chat_sync::vec_map::VecMap;
use chat_sync::RequestId;
use futures::channel::oneshot;
use futures::future::{select, Either};
use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};

use crate::context::ChatContext;
use crate::error::{FetchError, SyncError};
use crate::live::{CatchUpReport, LiveChannel};
use crate::platform;
use crate::store::{Handed, WriteWatch};

/// Back online, the longest the chats the page shows may hold the catch-up back with their
/// own fetch of what arrived (a fetch that hangs on a poor network).
const NEWER_FIRST_MS: i64 = 2_000;

/// Back online, how long the catch-up waits after the chats the page shows were written:
/// about one frame, for the page to show what it was handed.
const HANDED_FRAME_MS: i64 = 16;

/// The worker's channel and the context it writes to.
struct Running {
    /// Kept for the worker's life: its database connection carries the deletion hook.
    context: ChatContext,
    /// Taken (so stopped) when the cache is deleted.
    channel: Option<LiveChannel>,
    /// The watches of this worker's writes to the chats the page shows.
    watches: VecMap<RequestId, WriteWatch>,
}

thread_local! {
    /// What the page asked before the cache opened, in order (performed once it has).
    static EARLY: RefCell<Vec<ToLiveWorker>> = const { RefCell::new(Vec::new()) };
    /// Whether a start was accepted (set before the cache opens, so a second start that
    /// arrives meanwhile is ignored too).
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The running channel.
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Tells the page `message` (the worker's `postMessage`).
fn tell_page(message: &FromLiveWorker) {
    post_to_page(message.encode());
}

/// Posts a message's `text` to the page.
fn post_to_page(text: String) {
    let posted = platform::global_property("postMessage")
        .and_then(|post| post.dyn_into::<Function>().ok())
        .map(|post| post.call1(&platform::global(), &JsValue::from_str(&text)));
    if !matches!(posted, Some(Ok(_))) {
        let message: String = text.chars().take(80).collect();
        crate::log_warn!(%message, "live worker: could not post to the page");
    }
}

/// The context of the running channel; `None` until the cache is open (and the channel
/// started).
fn running_context() -> Option<ChatContext> {
    RUNNING.with(|running| Some(running.borrow().as_ref()?.context.clone()))
}

/// What the page is told of a catch-up that ended with `result`: a refused session (401) is
/// the agent's to renew, any other failure means the server could not be used right now.
pub fn catch_up_outcome(result: &Result<CatchUpReport, SyncError>) -> CatchUpOutcome {
    match result {
        Ok(_) => CatchUpOutcome::Done,
        Err(SyncError::Fetch(FetchError::Refused { status: 401, .. })) => CatchUpOutcome::SignedOut,
        Err(error) => CatchUpOutcome::Unreachable(error.to_string()),
    }
}

/// A chat's status as the page's view shows it.
fn report_of(status: &ChatStatus) -> ChatReport {
    ChatReport::Status {
        fetching: status.fetching,
        done: status.progress.done,
        total: status.progress.total,
        incomplete: status.is_incomplete(),
    }
}

/// Tells the page how a run of `request_id` it asked for ended.
fn report_run(request_id: &RequestId, result: Result<ChatStatus, SyncError>) {
    let report = match result {
        Ok(status) => report_of(&status),
        Err(error) => {
            crate::log_warn!(chat = %request_id, %error, "live worker: a sync the page asked for failed");
            ChatReport::Failed(error.to_string())
        }
    };
    tell_page(&FromLiveWorker::Chat {
        request_id: request_id.clone(),
        report,
    });
}

/// Tells the page how `request_id` stands now, if the page shows it (after a fetch of it
/// started or ended).
async fn report_status(context: ChatContext, request_id: RequestId) {
    if !context.runtime.open_chats().contains(&request_id) {
        return;
    }
    match context.driver.status(&request_id).await {
        Ok(status) => tell_page(&FromLiveWorker::Chat {
            request_id,
            report: report_of(&status),
        }),
        Err(error) => {
            crate::log_warn!(chat = %request_id, %error, "live worker: a chat's status could not be read")
        }
    }
}

/// Runs one catch-up of the running context and tells the page how it ended; back online,
/// the chats the page shows first ask for what arrived in them (at most [`NEWER_FIRST_MS`]):
/// their rows are handed to the page as they are written, and the catch-up's repair of those
/// chats then finds nothing missing. (Side by side, the chat list's write and those chats'
/// ingest waited on each other in IndexedDB.) Nothing runs before the cache is open: the
/// start's own catch-up (or its stream's) is still to come then, and covers it.
async fn catch_up_for_page(back_online: bool) {
    let Some(context) = running_context() else {
        crate::log_debug!("live worker: back online before the cache opened; the start catches up");
        return;
    };
    if back_online {
        let newer = Box::pin(context.driver.fetch_newer_of_open_chats());
        let cap = Box::pin(platform::sleep(NEWER_FIRST_MS));
        select(newer, cap).await;
        // The page lays out and paints the rows it was handed meanwhile: a frame before
        // the chat list's request and write, which would take the cores from it.
        platform::sleep(HANDED_FRAME_MS).await;
    }
    let result = context.catch_up().await;
    if let Err(error) = &result {
        crate::log_warn!(%error, "live worker: catch-up failed");
    }
    tell_page(&FromLiveWorker::CaughtUp(catch_up_outcome(&result)));
}

/// The page shows `request_id` (`open`) or no longer does: its ingest adds no unread to it,
/// and this worker's writes to it are handed to the page before their commit.
fn set_chat_open(request_id: &RequestId, open: bool) {
    RUNNING.with(|running| {
        let mut running = running.borrow_mut();
        let Some(running) = running.as_mut() else {
            return;
        };
        running.context.runtime.set_chat_open(request_id, open);
        if !open {
            running.watches.remove(request_id);
            return;
        }
        let id = request_id.clone();
        let watch = running
            .context
            .runtime
            .watch_writes(request_id, move |handed| match handed {
                Handed::Written(written) => post_to_page(FromLiveWorker::written_text(written)),
                Handed::Unwritten => tell_page(&FromLiveWorker::Unwritten(id.clone())),
            });
        running.watches.insert(request_id.clone(), watch);
    });
}

/// Performs one ask of the page with the running context.
async fn perform(context: ChatContext, ask: ToLiveWorker) {
    match ask {
        ToLiveWorker::BackOnline => catch_up_for_page(true).await,
        ToLiveWorker::SendOutbox { wake } => crate::outbox_sender::pump(
            context.runtime.clone(),
            wake,
            Rc::new(|| tell_page(&FromLiveWorker::OutboxSignedOut)),
        ),
        ToLiveWorker::ChatOpen { request_id, open } => set_chat_open(&request_id, open),
        ToLiveWorker::ClearOtherAgents => {
            let report = crate::leftovers::clear_other_agents(&context.user_id).await;
            if !report.removed.is_empty() || !report.kept.is_empty() {
                crate::log_info!(
                    removed = ?report.removed,
                    kept = ?report.kept,
                    "other agents' caches cleared"
                );
            }
        }
        ToLiveWorker::Sync { request_id, manual } => {
            let result = if manual {
                context.driver.resync(&request_id).await
            } else {
                context.driver.sync(&request_id).await
            };
            report_run(&request_id, result);
        }
        ToLiveWorker::Older { request_id } => {
            // The engine asks again after failures while the page shows the chat; each
            // retry tells the page a retry is on offer.
            let runtime = context.runtime.clone();
            let id = request_id.clone();
            let reading = move || {
                let open = runtime.open_chats().contains(&id);
                if open {
                    tell_page(&FromLiveWorker::Chat {
                        request_id: id.clone(),
                        report: ChatReport::Status {
                            fetching: false,
                            done: 0,
                            total: 0,
                            incomplete: true,
                        },
                    });
                }
                open
            };
            let result = context
                .driver
                .load_older_while_reading(&request_id, reading)
                .await;
            report_run(&request_id, result);
        }
        ToLiveWorker::Viewport {
            request_id,
            visible,
        } => context.driver.set_viewport(&request_id, visible),
        ToLiveWorker::Edit {
            ticket,
            request_id,
            seq,
            body,
        } => {
            let result = crate::edits::edit(&context.runtime, &request_id, seq, body).await;
            answer(ticket, result.map(|_| ()));
        }
        ToLiveWorker::Redact {
            ticket,
            request_id,
            seq,
        } => {
            let result = crate::edits::redact(&context.runtime, &request_id, seq).await;
            answer(ticket, result.map(|_| ()));
        }
        ToLiveWorker::Start { .. } => {
            crate::log_warn!("live worker: already started; a second start is ignored");
        }
    }
}

/// Answers the page's ask `ticket` with how it ended, in words for the agent.
fn answer(ticket: u32, result: Result<(), SyncError>) {
    let outcome = result.map_err(|error| {
        crate::log_warn!(ticket, %error, "live worker: a change the page asked for failed");
        crate::edits::explain(&error)
    });
    tell_page(&FromLiveWorker::Answer { ticket, outcome });
}

/// The start's catch-up: none when the channel's first decisive status says its stream
/// opened within [`LEAD_WAIT_MS`] (the stream catches up as soon as it opens, reading the
/// chat list after it, so nothing between the two is missed); otherwise (a follower, whose
/// leader may be another tab that caught up long ago, a stream that failed or did not open
/// in time) one of the worker's own.
async fn start_catch_up(settled: oneshot::Receiver<bool>) {
    let wait = Box::pin(platform::sleep(LEAD_WAIT_MS));
    if let Either::Left((Ok(true), _)) = select(settled, wait).await {
        crate::log_debug!("live worker: the stream is open; its catch-up applies the chat list");
        return;
    }
    catch_up_for_page(false).await;
}

/// The worker's side: handles one message `data` from the page. The first valid start opens
/// the agent's cache and runs the live channel for as long as the worker lives, and the
/// start's catch-up; the page learns every status and how each catch-up ended, or why nothing
/// runs. Every other ask is performed once the cache is open. A start in another protocol, a
/// malformed message or a second start changes nothing (the first two are answered as
/// failures).
pub async fn serve(data: JsValue) {
    let text = data.as_string().unwrap_or_default();
    let user_id = match ToLiveWorker::decode(&text) {
        Ok(ToLiveWorker::Start { protocol, user_id }) if protocol == LIVE_WORKER_PROTOCOL => {
            user_id
        }
        Ok(ToLiveWorker::Start { protocol, .. }) => {
            tell_page(&FromLiveWorker::Failed(format!(
                "the page speaks protocol {protocol}, this worker {LIVE_WORKER_PROTOCOL}"
            )));
            return;
        }
        Ok(ask) => {
            match running_context() {
                Some(context) => perform(context, ask).await,
                None => EARLY.with(|early| early.borrow_mut().push(ask)),
            }
            return;
        }
        Err(error) => {
            tell_page(&FromLiveWorker::Failed(error.to_string()));
            return;
        }
    };
    if STARTED.with(|started| started.replace(true)) {
        crate::log_warn!("live worker: already started; a second start is ignored");
        return;
    }
    let context = match ChatContext::open(&user_id).await {
        Ok(context) => context,
        Err(error) => {
            tell_page(&FromLiveWorker::Failed(format!(
                "the cache could not be opened: {error}"
            )));
            return;
        }
    };
    // Another context deleted the cache (a sign-out): the channel stops writing to it; the
    // page, told by its own connection, leaves the desk and ends this worker.
    context.runtime.store().set_on_deleted(Some(Rc::new(|| {
        crate::log_info!("live worker: the cache was deleted; the channel stops");
        // Only the channel: the context's connection is the one running this hook.
        let channel = RUNNING.with(|running| running.borrow_mut().as_mut()?.channel.take());
        drop(channel);
    })));
    // Each fetch of a chat the page shows that starts or ends: the page's view shows the
    // progress in its gaps.
    let observed = context.clone();
    context
        .driver
        .set_fetch_observer(Some(Rc::new(move |request_id: &RequestId, _on| {
            wasm_bindgen_futures::spawn_local(report_status(observed.clone(), request_id.clone()));
        })));
    // Settled by the first status that says whether the stream's catch-up covers the
    // start's (the core's `covers_start_catch_up`).
    let (settle, settled) = oneshot::channel::<bool>();
    let settle = RefCell::new(Some(settle));
    let status = move |status: LiveStatus| {
        if let Some(covered) = status.covers_start_catch_up() {
            if let Some(settle) = settle.borrow_mut().take() {
                let _ = settle.send(covered);
            }
        }
        tell_page(&FromLiveWorker::Status(status));
    };
    match LiveChannel::start(context.driver.clone(), "", status) {
        Ok(channel) => {
            RUNNING.with(|running| {
                *running.borrow_mut() = Some(Running {
                    context: context.clone(),
                    channel: Some(channel),
                    watches: VecMap::new(),
                })
            });
            // What the page asked while the cache opened, in order; from here on its
            // messages find the context. Each runs as a task of its own, as it would have.
            for ask in EARLY.with(|early| std::mem::take(&mut *early.borrow_mut())) {
                match ask {
                    // The chats the page shows are known before anything else runs.
                    ToLiveWorker::ChatOpen { request_id, open } => set_chat_open(&request_id, open),
                    ask => wasm_bindgen_futures::spawn_local(perform(context.clone(), ask)),
                }
            }
            start_catch_up(settled).await;
        }
        Err(error) => tell_page(&FromLiveWorker::Failed(error.to_string())),
    }
}
