//! The signed-in agent's cache as the views use it: the runtime (the store and its change
//! channel), reactive signals that change when any context (this tab's live worker, another
//! tab, the service worker) commits to the cache, and the tab's live worker, which writes for
//! the page: the catch-ups, the outbox's sending, the sync of the chats the page shows (each
//! chat's report lands in [`AppCache::chat_reports`]) and the agent's edits and deletions. For
//! a tab whose live worker could not start, the service worker catches up and sends, and
//! edits and older history say they need the worker.
//!
//! Views never poll: the runtime announces every commit on the user's `BroadcastChannel`,
//! this module turns each notice into a bump of [`AppCache::changes`], and views re-read what
//! they show from IndexedDB.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::live::worker_wire::ChatReport;
use chat_sync::protocol::CurrentUser;
use chat_sync::vec_map::VecMap;
use chat_sync::{RequestId, Seq, SeqRange};
use chat_sync_idb::broadcast::{self, fetch_channel_name, ChangeNotice, FetchNotice, Subscription};
use chat_sync_idb::live_worker::LiveWorker;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::SyncError;
use leptos::prelude::*;

/// What an edit or a deletion says in a tab whose live worker could not start.
const NO_WORKER: &str =
    "This tab's worker could not start, and it makes the changes: reload the page to try again.";

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
    /// The store and its change channel.
    pub runtime: Rc<Runtime>,
    /// How the sync of each chat this tab shows stands, as the live worker last reported it.
    pub chat_reports: RwSignal<VecMap<RequestId, ChatReport>>,
    /// Every committed change, from any context.
    pub changes: RwSignal<Changes>,
    /// Chats with a history request on the network right now, of any context of the agent
    /// (this tab's live worker, the service worker, another tab), in id order.
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
        // This page's requests name the agent (`chat_sync_idb::agent`), as every context's do.
        chat_sync_idb::agent::act_for(Some(&user.id));
        let runtime = Rc::new(Runtime::open(&user.id).await?);
        let changes = RwSignal::new(Changes::default());
        let fetching = RwSignal::new(Vec::new());
        let remote = Rc::new(RefCell::new(InFlight::default()));
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
            chat_reports: RwSignal::new(VecMap::new()),
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

    /// The network is back: the live worker fetches what arrived in the chats this tab
    /// shows, then catches up (the service worker catches up, without one).
    pub fn catch_up_back_online(&self) {
        match &*self.live_worker.borrow() {
            Some(worker) => worker.tell_back_online(),
            None => ask_service_worker("catch up", chat_sync_idb::service_worker::ask_catch_up()),
        }
    }

    /// Keeps the live worker's report on `request_id` for its view.
    pub fn note_chat_report(&self, request_id: RequestId, report: ChatReport) {
        self.chat_reports.try_update(|reports| {
            reports.insert(request_id, report);
        });
    }

    /// Drops the report on `request_id` (a view of it opens: an earlier view's report is not
    /// its own).
    pub fn forget_chat_report(&self, request_id: &RequestId) {
        self.chat_reports.try_update(|reports| {
            reports.remove(request_id);
        });
    }

    /// Fills what is missing in `request_id`, a chat this tab shows, in the live worker
    /// (`manual`: the agent asked). Without one, the service worker's catch-ups (at the
    /// start and back online) repair it.
    pub fn sync_chat(&self, request_id: &RequestId, manual: bool) {
        match &*self.live_worker.borrow() {
            Some(worker) => worker.ask_sync(request_id, manual),
            None if manual => {
                ask_service_worker("catch up", chat_sync_idb::service_worker::ask_catch_up())
            }
            None => {}
        }
    }

    /// Loads older history of `request_id` while the reader waits at its oldest cached
    /// message, in the live worker.
    pub fn load_older(&self, request_id: &RequestId) {
        match &*self.live_worker.borrow() {
            Some(worker) => worker.ask_older(request_id),
            None => {
                let request_id = request_id.clone();
                ask_service_worker("older history", async move {
                    chat_sync_idb::service_worker::ask_load_older(&request_id).await
                });
            }
        }
    }

    /// The seqs of `request_id` on screen: the live worker fetches gaps there first.
    pub fn set_viewport(&self, request_id: &RequestId, visible: Option<SeqRange>) {
        if let Some(worker) = &*self.live_worker.borrow() {
            worker.tell_viewport(request_id, visible);
        }
    }

    /// Edits the agent's message `seq` to `body`, in the live worker; `Err` is a sentence
    /// for the agent.
    pub fn edit(
        &self,
        request_id: &RequestId,
        seq: Seq,
        body: &str,
    ) -> futures::future::LocalBoxFuture<'static, Result<(), String>> {
        match &*self.live_worker.borrow() {
            Some(worker) => Box::pin(worker.edit(request_id, seq, body)),
            None => Box::pin(std::future::ready(Err(NO_WORKER.to_owned()))),
        }
    }

    /// Deletes the agent's message `seq` for everyone, in the live worker (see
    /// [`AppCache::edit`]).
    pub fn redact(
        &self,
        request_id: &RequestId,
        seq: Seq,
    ) -> futures::future::LocalBoxFuture<'static, Result<(), String>> {
        match &*self.live_worker.borrow() {
            Some(worker) => Box::pin(worker.redact(request_id, seq)),
            None => Box::pin(std::future::ready(Err(NO_WORKER.to_owned()))),
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
