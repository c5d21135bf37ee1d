//! The signed-in agent's cache as the views use it: the runtime (one ingest path), the
//! driver (missing-only sync), reactive signals that change when any context (this tab,
//! another tab, the service worker) commits to the cache, and the tab's live worker, which
//! runs the catch-ups and the outbox's sending for it (the service worker does, for a tab
//! whose live worker could not start).
//!
//! Views never poll: the runtime announces every commit on the user's `BroadcastChannel`,
//! this module turns each notice into a bump of [`AppCache::changes`], and views re-read what
//! they show from IndexedDB.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::protocol::CurrentUser;
use chat_sync::vec_map::VecMap;
use chat_sync::RequestId;
use chat_sync_idb::broadcast::{self, fetch_channel_name, ChangeNotice, FetchNotice, Subscription};
use chat_sync_idb::context::ChatContext;
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::HttpHistoryClient;
use chat_sync_idb::live_worker::LiveWorker;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::SyncError;
use leptos::prelude::*;

/// The last change notice and a counter bumped with every notice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Bumped once per commit announced by any context.
    pub version: u64,
    /// The newest notice.
    pub last: Option<ChangeNotice>,
}

/// The agent's cache and sync, shared by every view of this tab.
pub struct AppCache {
    /// The signed-in agent.
    pub user: CurrentUser,
    /// The one ingest path and the store.
    pub runtime: Rc<Runtime>,
    /// Missing-only sync of chats.
    pub driver: Rc<Driver<HttpHistoryClient>>,
    /// The HTTP client of the contract (same origin).
    pub client: HttpHistoryClient,
    /// Every committed change, from any context.
    pub changes: RwSignal<Changes>,
    /// Chats with a history request on the network right now, of this tab or of any other
    /// context of the agent (the service worker, another tab), in id order.
    pub fetching: RwSignal<Vec<RequestId>>,
    /// This tab's listener for change notices (`None` when the channel could not be opened).
    subscription: Option<Subscription>,
    _fetch_subscription: Option<Subscription>,
    /// The tab's live worker (the live channel, the catch-ups, the outbox's sending), once
    /// started; `None` before, after it failed, and once the desk stopped.
    live_worker: RefCell<Option<LiveWorker>>,
}

impl std::fmt::Debug for AppCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCache")
            .field("user", &self.user.id)
            .finish_non_exhaustive()
    }
}

/// The context key of this tab's own fetches in [`InFlight`].
const LOCAL: &str = "";

/// How long another context's fetch counts as running without its end notice.
const REMOTE_FETCH_LAPSE_MS: i64 = 30_000;

/// Which contexts fetch which chats right now, with when each said it started.
#[derive(Default)]
struct InFlight {
    chats: VecMap<RequestId, VecMap<String, i64>>,
}

impl InFlight {
    fn set(&mut self, request_id: &RequestId, context: &str, on: bool, since: i64) {
        if on {
            self.chats
                .get_or_default(request_id)
                .insert(context.to_owned(), since);
        } else if let Some(contexts) = self.chats.get_mut(request_id) {
            contexts.remove(context);
            if contexts.is_empty() {
                self.chats.remove(request_id);
            }
        }
    }

    /// Drops `context`'s fetch of `request_id` if it is still the one started at `since`;
    /// whether it was.
    fn lapse(&mut self, request_id: &RequestId, context: &str, since: i64) -> bool {
        let stale = self
            .chats
            .get(request_id)
            .and_then(|contexts| contexts.get(context))
            == Some(&since);
        if stale {
            self.set(request_id, context, false, since);
        }
        stale
    }

    fn chats(&self) -> Vec<RequestId> {
        self.chats.keys().cloned().collect()
    }
}

/// Sets the views' fetching set when it changed: every set re-arms the indicator's delay, so
/// notices that change nothing must not reach it.
fn publish(fetching: RwSignal<Vec<RequestId>>, in_flight: &InFlight) {
    let chats = in_flight.chats();
    if fetching.try_with_untracked(|current| *current != chats) == Some(true) {
        fetching.try_set(chats);
    }
}

impl AppCache {
    /// Opens the agent's own cache database and starts listening for changes.
    pub async fn open(user: CurrentUser) -> Result<Rc<Self>, SyncError> {
        // Opened exactly as the service worker opens its own (`ChatContext`).
        let context = ChatContext::open(&user.id).await?;
        let ChatContext {
            runtime,
            driver,
            client,
            ..
        } = context;
        let changes = RwSignal::new(Changes::default());
        let fetching = RwSignal::new(Vec::new());
        let in_flight = Rc::new(RefCell::new(InFlight::default()));
        let local = in_flight.clone();
        driver.set_fetch_observer(Some(Rc::new(move |request_id: &RequestId, on| {
            local.borrow_mut().set(request_id, LOCAL, on, 0);
            publish(fetching, &local.borrow());
        })));
        let remote = in_flight.clone();
        let fetch_subscription = match broadcast::subscribe_to(
            &fetch_channel_name(runtime.store().name()),
            "fetch notice",
            move |notice: FetchNotice| {
                let since = chat_sync_idb::platform::now_ms();
                remote.borrow_mut().set(
                    &notice.request_id,
                    &notice.context,
                    notice.fetching,
                    since,
                );
                publish(fetching, &remote.borrow());
                if notice.fetching {
                    // A context that died mid-fetch never says it ended: its entry lapses.
                    let remote = remote.clone();
                    leptos::task::spawn_local(async move {
                        chat_sync_idb::platform::sleep(REMOTE_FETCH_LAPSE_MS).await;
                        if remote
                            .borrow_mut()
                            .lapse(&notice.request_id, &notice.context, since)
                        {
                            publish(fetching, &remote.borrow());
                        }
                    });
                }
            },
        ) {
            Ok(subscription) => Some(subscription),
            Err(error) => {
                chat_sync_idb::log_warn!(%error, "no fetch notices: the indicator shows this tab's fetches only");
                None
            }
        };
        let subscription = match broadcast::subscribe(runtime.channel(), move |notice| {
            changes.try_update(|c| {
                c.version += 1;
                c.last = Some(notice);
            });
        }) {
            Ok(subscription) => Some(subscription),
            Err(error) => {
                // Views still update after this tab's own fetches (bumped below), only
                // changes made by other contexts wait for the next read.
                chat_sync_idb::log_warn!(%error, "no change notices: views update on their next read");
                None
            }
        };
        Ok(Rc::new(Self {
            user,
            runtime,
            driver,
            client,
            changes,
            fetching,
            subscription,
            _fetch_subscription: fetch_subscription,
            live_worker: RefCell::new(None),
        }))
    }

    /// Whether a chat is shown in a visible view of this tab: no unread is added to it
    /// ([`Runtime::set_chat_open`]), here and in the live worker.
    pub fn set_chat_open(&self, request_id: &RequestId, open: bool) {
        self.runtime.set_chat_open(request_id, open);
        if let Some(worker) = &*self.live_worker.borrow() {
            worker.tell_chat_open(request_id, open);
        }
    }

    /// Keeps the tab's live worker, or lets it go (`None`: it terminates, releasing its
    /// locks).
    pub fn set_live_worker(&self, worker: Option<LiveWorker>) {
        let previous = self.live_worker.replace(worker);
        drop(previous);
    }

    /// The live worker said it cannot run: it is let go, and the service worker catches up
    /// and sends the outbox for this tab instead (what the worker's start would have done).
    pub fn live_worker_failed(&self) {
        self.set_live_worker(None);
        ask_service_worker("catch up", chat_sync_idb::service_worker::ask_catch_up());
        ask_service_worker("send", chat_sync_idb::service_worker::ask_send_outbox());
    }

    /// Sends the outbox now, in the live worker (`wake`: backoffs end first, on start and
    /// when the network is back); without one, the service worker sends it.
    pub fn send_outbox(&self, wake: bool) {
        match &*self.live_worker.borrow() {
            Some(worker) => worker.tell_send_outbox(wake),
            None => ask_service_worker("send", chat_sync_idb::service_worker::ask_send_outbox()),
        }
    }

    /// The network is back: the live worker catches up (the service worker, without one).
    /// Call it after the open chats' own fetches (`Driver::fetch_newer_of_open_chats`).
    pub fn catch_up_back_online(&self) {
        match &*self.live_worker.borrow() {
            Some(worker) => worker.tell_back_online(),
            None => ask_service_worker("catch up", chat_sync_idb::service_worker::ask_catch_up()),
        }
    }

    /// Tells every view, this tab's and every other context's, that a chat's summary changed
    /// (its unread count, after the agent read it here): another tab's chat list must not
    /// keep the old badge. This tab's views hear it through their own subscription.
    pub fn announce_summary(&self, request_id: &RequestId) {
        self.runtime.announce_summary(request_id);
        self.touch_unsubscribed();
    }

    /// Bumps the change counter without a notice: what the views here go by when this tab
    /// has no subscription (the channel could not be opened), after a change it made itself.
    /// With one, every change it made is announced, and its own notices reach it.
    fn touch_unsubscribed(&self) {
        if self.subscription.is_none() {
            self.touch();
        }
    }

    /// Bumps the change counter without a notice (views re-read what they show).
    fn touch(&self) {
        self.changes.try_update(|c| c.version += 1);
    }
}

/// Runs an ask of the service worker (`what` names it in the log): what a tab without a live
/// worker does instead of running the engine's code itself. A tab with neither has its
/// open chat's own repairs, pushes and other tabs.
fn ask_service_worker(
    what: &'static str,
    ask: impl std::future::Future<Output = Result<bool, SyncError>> + 'static,
) {
    leptos::task::spawn_local(async move {
        match ask.await {
            Ok(true) => {}
            Ok(false) => chat_sync_idb::log_warn!(
                what,
                "no live worker and no active service worker: nobody to ask"
            ),
            Err(error) => {
                chat_sync_idb::log_warn!(what, %error, "could not ask the service worker")
            }
        }
    });
}
