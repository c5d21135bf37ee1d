//! The live channel in a dedicated worker of its own: both ends of the exchange.
//!
//! The page starts the worker ([`LiveWorker::start`]) once the agent's cache is open and says
//! whose cache to follow; the worker ([`serve`], called by `www/live.js` with each message)
//! opens that cache as every context does ([`ChatContext`]) and runs the [`LiveChannel`]
//! there, posting each status back. So the stream, its leadership, its events' decoding and
//! ingest and its catch-ups run off the page's thread, and their code is not in the page's
//! wasm. The page's own catch-ups run there too: the start's, unless the worker's stream
//! opened within [`LEAD_WAIT_MS`] and caught up already, and one whenever the page hears the
//! network come back ([`LiveWorker::tell_back_online`]; the page's own driver asks at once
//! for what arrived in the chats it shows); each ends in a [`FromLiveWorker::CaughtUp`].
//! And the outbox's sending runs there ([`LiveWorker::tell_send_outbox`]): uploads, sends,
//! backoffs and their re-runs ([`crate::outbox_sender::pump`]); the page only queues. The
//! worker's commits reach the page's views on the agent's `BroadcastChannel`, as another
//! tab's or the service worker's do. Dropping the page's [`LiveWorker`] terminates
//! the worker, which releases its Web Locks, so leadership passes to the next tab at once.
//!
//! What the two say is decided in the core ([`chat_sync::live::worker_wire`]); this module
//! only posts and reads it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::live::worker_wire::{
    CatchUpOutcome, FromLiveWorker, ToLiveWorker, LIVE_WORKER_PROTOCOL,
};
use chat_sync::live::{LiveStatus, LEAD_WAIT_MS};
use chat_sync::RequestId;
use futures::channel::oneshot;
use futures::future::{select, Either};
use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::context::ChatContext;
use crate::error::{FetchError, SyncError};
use crate::live::{CatchUpReport, LiveChannel};
use crate::platform;

/// The worker's script: the shim that loads the live worker's wasm (`www/live.js`).
pub const LIVE_WORKER_SCRIPT: &str = "/live.js";

/// The page's handle on its live worker. Dropping it terminates the worker.
pub struct LiveWorker {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl std::fmt::Debug for LiveWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWorker").finish_non_exhaustive()
    }
}

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

impl LiveWorker {
    /// Starts the worker at `script` (normally [`LIVE_WORKER_SCRIPT`]) and has it follow
    /// `user_id`'s cache, with `open_chats` shown in this page (see
    /// [`LiveWorker::tell_chat_open`]). `on_message` gets every status of its channel, the first being
    /// [`LiveStatus::Follower`], or [`FromLiveWorker::Failed`] once when the worker runs none
    /// (it could not load, open the cache, or has no `EventSource`); a message that is not
    /// of the exchange is logged and dropped.
    pub fn start(
        script: &str,
        user_id: &str,
        open_chats: &[RequestId],
        on_message: impl Fn(FromLiveWorker) + 'static,
    ) -> Result<Self, SyncError> {
        let worker =
            web_sys::Worker::new(script).map_err(|e| SyncError::platform("new Worker", &e))?;
        let on_message: Rc<dyn Fn(FromLiveWorker)> = Rc::new(on_message);
        let deliver = on_message.clone();
        let on_text = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let text = event.data().as_string().unwrap_or_default();
                match FromLiveWorker::decode(&text) {
                    Ok(message) => deliver(message),
                    Err(error) => crate::log_warn!(%error, "live worker: message dropped"),
                }
            },
        );
        // A script that fails to load or throws before the wasm's own handler runs: the
        // worker will say nothing more.
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let reason = crate::service_worker::property(&event, "message")
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "the worker's script failed".to_owned());
            on_message(FromLiveWorker::Failed(reason));
        });
        worker.set_onmessage(Some(on_text.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let live = Self {
            worker,
            _on_message: on_text,
            _on_error: on_error,
        };
        live.post(&ToLiveWorker::start(user_id))?;
        for request_id in open_chats {
            live.tell_chat_open(request_id, true);
        }
        Ok(live)
    }

    /// Tells the worker that this page now shows `request_id` in a visible view (`open`), or
    /// no longer does: its ingest adds no unread to a chat the agent is looking at. (Posts
    /// keep their order, so the worker sees these after the start.)
    pub fn tell_chat_open(&self, request_id: &RequestId, open: bool) {
        let message = ToLiveWorker::ChatOpen {
            request_id: request_id.clone(),
            open,
        };
        if let Err(error) = self.post(&message) {
            crate::log_warn!(%error, chat = %request_id, "live worker: open chat not told");
        }
    }

    /// Asks the worker to send the outbox now (`wake`: backoffs end first, as on the page's
    /// start and when the network is back). A 401 while sending comes back as
    /// [`FromLiveWorker::OutboxSignedOut`].
    pub fn tell_send_outbox(&self, wake: bool) {
        if let Err(error) = self.post(&ToLiveWorker::SendOutbox { wake }) {
            crate::log_warn!(%error, "live worker: send not asked");
        }
    }

    /// Tells the worker that the network is back: it catches up and answers with a
    /// [`FromLiveWorker::CaughtUp`]. (The chats the page shows ask for what arrived in them
    /// through the page's own driver, [`crate::driver::Driver::fetch_newer`].)
    pub fn tell_back_online(&self) {
        if let Err(error) = self.post(&ToLiveWorker::BackOnline) {
            crate::log_warn!(%error, "live worker: back online not told");
        }
    }

    fn post(&self, message: &ToLiveWorker) -> Result<(), SyncError> {
        self.worker
            .post_message(&JsValue::from_str(&message.encode()))
            .map_err(|e| SyncError::platform("Worker.postMessage", &e))
    }
}

/// The worker's channel and the context it writes to.
struct Running {
    /// Kept for the worker's life: its database connection carries the deletion hook.
    context: ChatContext,
    /// Taken (so stopped) when the cache is deleted.
    channel: Option<LiveChannel>,
}

thread_local! {
    /// The chats the page shows, told before the cache opened (applied once it has).
    static OPEN_EARLY: RefCell<Vec<(RequestId, bool)>> = const { RefCell::new(Vec::new()) };
    /// A send the page asked for before the cache opened (`Some(wake)`, run once it has).
    static SEND_EARLY: Cell<Option<bool>> = const { Cell::new(None) };
    /// Whether a start was accepted (set before the cache opens, so a second start that
    /// arrives meanwhile is ignored too).
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The running channel.
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Tells the page `message` (the worker's `postMessage`).
fn tell_page(message: &FromLiveWorker) {
    let posted = platform::global_property("postMessage")
        .and_then(|post| post.dyn_into::<Function>().ok())
        .map(|post| post.call1(&platform::global(), &JsValue::from_str(&message.encode())));
    if !matches!(posted, Some(Ok(_))) {
        crate::log_warn!(message = %message.encode(), "live worker: could not post to the page");
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

/// Runs one catch-up of the running context and tells the page how it ended. Nothing runs
/// before the cache is open: the start's own catch-up (or its stream's) is still to come
/// then, and covers it. Back online, the page's own driver has already asked for what
/// arrived in the chats it shows (it renders the rows it wrote without reading them back);
/// this catch-up's repair of those chats waits for that fetch under the chat's Web Lock and
/// then finds nothing missing.
async fn catch_up_for_page() {
    let Some(context) = running_context() else {
        crate::log_debug!("live worker: back online before the cache opened; the start catches up");
        return;
    };
    let result = context.catch_up().await;
    if let Err(error) = &result {
        crate::log_warn!(%error, "live worker: catch-up failed");
    }
    tell_page(&FromLiveWorker::CaughtUp(catch_up_outcome(&result)));
}

/// Sends the outbox of the running context for the page (`wake`: backoffs end first), or
/// once the cache is open when it is not yet.
fn send_for_page(wake: bool) {
    let Some(context) = running_context() else {
        SEND_EARLY.with(|early| early.set(Some(early.get().unwrap_or(false) || wake)));
        return;
    };
    crate::outbox_sender::pump(
        context.runtime.clone(),
        wake,
        Rc::new(|| tell_page(&FromLiveWorker::OutboxSignedOut)),
    );
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
    catch_up_for_page().await;
}

/// The worker's side: handles one message `data` from the page. The first valid start opens
/// the agent's cache and runs the live channel for as long as the worker lives, and the
/// start's catch-up; the page learns every status and how each catch-up ended, or why nothing
/// runs. A start in another protocol, a malformed message or a second start changes nothing
/// (the first two are answered as failures).
pub async fn serve(data: JsValue) {
    let text = data.as_string().unwrap_or_default();
    let user_id = match ToLiveWorker::decode(&text) {
        Ok(ToLiveWorker::BackOnline) => {
            catch_up_for_page().await;
            return;
        }
        Ok(ToLiveWorker::SendOutbox { wake }) => {
            send_for_page(wake);
            return;
        }
        Ok(ToLiveWorker::ChatOpen { request_id, open }) => {
            match running_context() {
                Some(context) => context.runtime.set_chat_open(&request_id, open),
                None => OPEN_EARLY.with(|early| early.borrow_mut().push((request_id, open))),
            }
            return;
        }
        Ok(ToLiveWorker::Start { protocol, user_id }) if protocol == LIVE_WORKER_PROTOCOL => {
            user_id
        }
        Ok(ToLiveWorker::Start { protocol, .. }) => {
            tell_page(&FromLiveWorker::Failed(format!(
                "the page speaks protocol {protocol}, this worker {LIVE_WORKER_PROTOCOL}"
            )));
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
    // What the page opened and closed while the cache opened, in order; from here on its
    // messages find the context (nothing awaits between this and `RUNNING` being set).
    for (request_id, open) in OPEN_EARLY.with(|early| std::mem::take(&mut *early.borrow_mut())) {
        context.runtime.set_chat_open(&request_id, open);
    }
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
                    context,
                    channel: Some(channel),
                })
            });
            if let Some(wake) = SEND_EARLY.with(Cell::take) {
                send_for_page(wake);
            }
            start_catch_up(settled).await;
        }
        Err(error) => tell_page(&FromLiveWorker::Failed(error.to_string())),
    }
}
