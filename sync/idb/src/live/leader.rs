//! The leader's loop, run while it holds the live lock: it opens the stream, reacts to each
//! [`Signal`] (catch-up after a connect, ingest of events, backoff and reopen after the
//! browser gives up, stop for good when the session ended), and keeps the work it started
//! beside the stream.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::live::{CatchUpTurns, LiveAction, LiveConnection, StreamSignal, LIVE_BACKOFF};
use chat_sync::vec_map::VecMap;
use chat_sync::RequestId;
use futures::channel::mpsc;
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::catchup::run_catch_up;
use super::stream::{Signal, Stream};
use super::LiveStatus;
use crate::driver::Driver;
use crate::http::HttpHistoryClient;
use crate::platform;
use crate::task::beside;

/// The leader's work, run while it holds the lock.
#[derive(Clone)]
pub(super) struct Leader {
    pub(super) driver: Rc<Driver<HttpHistoryClient>>,
    pub(super) client: HttpHistoryClient,
    pub(super) events_url: String,
    pub(super) me_url: String,
    pub(super) on_status: Rc<dyn Fn(LiveStatus)>,
}

impl Leader {
    /// Follows the stream until the future is dropped: ingests events in order, runs
    /// catch-ups and gap repairs beside it, reconnects when the browser gives up.
    pub(super) async fn run(self) {
        let seed = (platform::now_ms() as u64) ^ ((js_sys::Math::random() * 1e15) as u64);
        let mut connection = LiveConnection::new(LIVE_BACKOFF, seed);
        (self.on_status)(connection.lead());
        let (signals, mut incoming) = mpsc::unbounded::<Signal>();
        // Catch-ups, repairs and reconnect timers run beside the stream, each as its own task
        // (`task::beside`: the loop awaits each ingest inline, and work polled from the loop
        // itself would lose its IndexedDB transaction meanwhile); this set holds their
        // handles, so they end when the leader's future is dropped.
        let mut tasks: FuturesUnordered<LocalBoxFuture<'static, ()>> = FuturesUnordered::new();
        let repairing: Rc<RefCell<VecMap<RequestId, ()>>> = Rc::default();
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
                        crate::log_info!(after_ms, "the live stream closed; reconnecting later");
                        stream = None;
                        tasks.push(self.reconnect_later(after_ms, &signals));
                    }
                }
                Signal::SessionEnded => {
                    connection.on_signal(StreamSignal::SessionEnded);
                    crate::log_info!("the session ended: the live stream stays closed");
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

    /// Waits `after_ms`, then asks the server whether the session still stands, and still is
    /// the agent this context acts for ([`crate::agent`]): a stream the server refused (401
    /// after a sign-out elsewhere, an expired session, or a session that became another
    /// agent's) looks to the `EventSource` like any other failure. The answer comes back as
    /// a signal, so no wait of the loop itself holds up the tasks beside it.
    fn reconnect_later(
        &self,
        after_ms: i64,
        signals: &mpsc::UnboundedSender<Signal>,
    ) -> LocalBoxFuture<'static, ()> {
        let due = signals.clone();
        let me_url = self.me_url.clone();
        beside(async move {
            platform::sleep(after_ms).await;
            let answer: Result<chat_sync::protocol::CurrentUser, _> =
                crate::http::get_json(&me_url, "current user").await;
            let signal = match answer {
                Err(crate::FetchError::Refused {
                    status: 401 | 403, ..
                }) => Signal::SessionEnded,
                Ok(user) if crate::agent::acting_for().is_some_and(|agent| agent != user.id) => {
                    crate::log_warn!(now = %user.id, "the browser's session is another agent's now");
                    Signal::SessionEnded
                }
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
        let url = crate::agent::with_expectation(&self.events_url);
        match Stream::open(&url, generation, signals) {
            Ok(stream) => Some(stream),
            Err(error) => {
                crate::log_warn!(%error, "could not open the live stream");
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
}
