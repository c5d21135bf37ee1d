//! The tab's live worker, a dedicated worker of its own: the page's end of the exchange here,
//! the worker's in [`serve`].
//!
//! The page starts the worker ([`LiveWorker::start`]) once the agent's cache is open and says
//! whose cache to follow; the worker ([`serve`], called by `www/live.js` with each message)
//! opens that cache as every context does ([`crate::context::ChatContext`]) and runs the
//! live channel there, posting each status back. So the stream, its leadership, its events'
//! decoding and ingest and its catch-ups run off the page's thread, and their code is not in
//! the page's wasm. The page's catch-ups run there too: the start's, unless the worker's
//! stream opened within `LEAD_WAIT_MS` and caught up already, and one whenever the page hears
//! the network come back ([`LiveWorker::tell_back_online`]: the chats the page shows ask for
//! what arrived in them first); each ends in a [`FromLiveWorker::CaughtUp`]. The outbox's
//! sending runs there ([`LiveWorker::tell_send_outbox`]): uploads, sends, backoffs and their
//! re-runs ([`crate::outbox_sender::pump`]); the page only queues. The sync of the chats the
//! page shows runs there ([`LiveWorker::ask_sync`], [`LiveWorker::ask_older`],
//! [`LiveWorker::tell_viewport`]), reported by [`FromLiveWorker::Chat`]; and the agent's
//! edits and deletions ([`LiveWorker::edit`], [`LiveWorker::redact`]), each answered. So the
//! page writes nothing to the cache but its outbox queue and its read marks.
//!
//! The worker's commits reach the page's views on the agent's `BroadcastChannel`, as another
//! tab's or the service worker's do; what a write of the worker adds to a chat the page shows
//! is handed to the page before the commit ([`FromLiveWorker::Written`]), which gives it to
//! its views as its own ([`crate::runtime::Runtime::hand_over`]). Dropping the page's
//! [`LiveWorker`] terminates the worker, which releases its Web Locks, so leadership passes to
//! the next tab at once.
//!
//! What the two say is decided in the core ([`chat_sync::live::worker_wire`]); this module
//! only posts and reads it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use chat_sync::live::worker_wire::{FromLiveWorker, ToLiveWorker};
use chat_sync::{RequestId, Seq, SeqRange};
use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::SyncError;

mod serve;

pub use serve::{catch_up_outcome, serve};

/// The worker's script: the shim that loads the live worker's wasm (`www/live.js`).
pub const LIVE_WORKER_SCRIPT: &str = "/live.js";

/// The asks waiting for the worker's answer, by ticket.
type Pending = Rc<RefCell<Vec<(u32, oneshot::Sender<Result<(), String>>)>>>;

/// What an ask that will never be answered (the worker is gone) says.
const WORKER_GONE: &str = "This tab's worker stopped before it answered: reload the page.";

/// The page's handle on its live worker. Dropping it terminates the worker.
pub struct LiveWorker {
    worker: web_sys::Worker,
    pending: Pending,
    next_ticket: Cell<u32>,
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
        // Every ask still waiting ends with `WORKER_GONE`.
        self.pending.borrow_mut().clear();
    }
}

impl LiveWorker {
    /// Starts the worker at `script` (normally [`LIVE_WORKER_SCRIPT`]) and has it follow
    /// `user_id`'s cache, with `open_chats` shown in this page (see
    /// [`LiveWorker::tell_chat_open`]). `on_message` gets every status of its channel, the first being
    /// `LiveStatus::Follower`, or [`FromLiveWorker::Failed`] once when the worker runs none
    /// (it could not load, open the cache, or has no `EventSource`), and every other message
    /// of the worker's but the answers to this page's asks, which their callers get; a
    /// message that is not of the exchange is logged and dropped.
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
        let pending = Pending::default();
        let answers = pending.clone();
        let on_text = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let text = event.data().as_string().unwrap_or_default();
                match FromLiveWorker::decode(&text) {
                    Ok(FromLiveWorker::Answer { ticket, outcome }) => {
                        let waiting = {
                            let mut answers = answers.borrow_mut();
                            let at = answers.iter().position(|(t, _)| *t == ticket);
                            at.map(|at| answers.swap_remove(at).1)
                        };
                        match waiting {
                            Some(answer) => {
                                let _ = answer.send(outcome);
                            }
                            None => {
                                crate::log_warn!(ticket, "live worker: an answer nobody asked for")
                            }
                        }
                    }
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
            pending,
            next_ticket: Cell::new(0),
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
        self.tell(message);
    }

    /// Asks the worker to send the outbox now (`wake`: backoffs end first, as on the page's
    /// start and when the network is back). A 401 while sending comes back as
    /// [`FromLiveWorker::OutboxSignedOut`].
    pub fn tell_send_outbox(&self, wake: bool) {
        self.tell(ToLiveWorker::SendOutbox { wake });
    }

    /// Tells the worker that the network is back: the chats the page shows ask at once for
    /// what arrived in them, then the worker catches up and answers with a
    /// [`FromLiveWorker::CaughtUp`].
    pub fn tell_back_online(&self) {
        self.tell(ToLiveWorker::BackOnline);
    }

    /// Tells the worker that the server confirmed the agent: it clears what other agents left
    /// in this browser ([`crate::leftovers::clear_other_agents`]).
    pub fn tell_clear_other_agents(&self) {
        self.tell(ToLiveWorker::ClearOtherAgents);
    }

    /// Asks the worker to fill what is missing in `request_id`, a chat this page shows
    /// (`manual`: the agent asked, so the grace period and backoff are skipped); the run's
    /// end comes back as a [`FromLiveWorker::Chat`] report.
    pub fn ask_sync(&self, request_id: &RequestId, manual: bool) {
        let message = ToLiveWorker::Sync {
            request_id: request_id.clone(),
            manual,
        };
        self.tell(message);
    }

    /// Asks the worker for older history of `request_id`, which the reader waits for at the
    /// oldest cached message: it keeps asking the server after failures while the chat is
    /// open here, and reports each retry and the end ([`FromLiveWorker::Chat`]).
    pub fn ask_older(&self, request_id: &RequestId) {
        let message = ToLiveWorker::Older {
            request_id: request_id.clone(),
        };
        self.tell(message);
    }

    /// Tells the worker which seqs of `request_id` are on screen: gaps there come first.
    pub fn tell_viewport(&self, request_id: &RequestId, visible: Option<SeqRange>) {
        let message = ToLiveWorker::Viewport {
            request_id: request_id.clone(),
            visible,
        };
        self.tell(message);
    }

    /// Has the worker edit the agent's message `seq` to `body`; resolves to `Err` with a
    /// sentence for the agent when it could not. The future does not borrow this handle.
    pub fn edit(
        &self,
        request_id: &RequestId,
        seq: Seq,
        body: &str,
    ) -> impl Future<Output = Result<(), String>> + 'static {
        let ticket = self.ticket();
        self.ask(
            ticket,
            &ToLiveWorker::Edit {
                ticket,
                request_id: request_id.clone(),
                seq,
                body: body.to_owned(),
            },
        )
    }

    /// Has the worker delete the agent's message `seq` for everyone (see
    /// [`LiveWorker::edit`]).
    pub fn redact(
        &self,
        request_id: &RequestId,
        seq: Seq,
    ) -> impl Future<Output = Result<(), String>> + 'static {
        let ticket = self.ticket();
        self.ask(
            ticket,
            &ToLiveWorker::Redact {
                ticket,
                request_id: request_id.clone(),
                seq,
            },
        )
    }

    /// A fresh ticket for an ask.
    fn ticket(&self) -> u32 {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket.wrapping_add(1));
        ticket
    }

    /// Posts the ask `message`, numbered `ticket`; its answer, or [`WORKER_GONE`] if the
    /// worker ends first.
    fn ask(
        &self,
        ticket: u32,
        message: &ToLiveWorker,
    ) -> impl Future<Output = Result<(), String>> + 'static {
        let (answer, answered) = oneshot::channel();
        let posted = self.post(message);
        if posted.is_ok() {
            self.pending.borrow_mut().push((ticket, answer));
        }
        async move {
            posted.map_err(|error| format!("This tab's worker could not be asked: {error}"))?;
            answered
                .await
                .unwrap_or_else(|_| Err(WORKER_GONE.to_owned()))
        }
    }

    /// Posts `message`, which nothing awaits: a failure is logged with its text.
    fn tell(&self, message: ToLiveWorker) {
        if let Err(error) = self.post(&message) {
            crate::log_warn!(%error, message = %message.encode(), "live worker: not told");
        }
    }

    fn post(&self, message: &ToLiveWorker) -> Result<(), SyncError> {
        self.worker
            .post_message(&JsValue::from_str(&message.encode()))
            .map_err(|e| SyncError::platform("Worker.postMessage", &e))
    }
}
