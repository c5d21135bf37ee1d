//! The signed-in agent's cache as the views use it: the runtime (one ingest path), the
//! driver (missing-only sync), and reactive signals that change when any context (this tab,
//! another tab, the service worker) commits to the cache.
//!
//! Views never poll: the runtime announces every commit on the user's `BroadcastChannel`,
//! this module turns each notice into a bump of [`AppCache::changes`], and views re-read what
//! they show from IndexedDB.

use std::collections::HashSet;
use std::rc::Rc;

use chat_sync::planner::PlannerConfig;
use chat_sync::protocol::CurrentUser;
use chat_sync::RequestId;
use chat_sync_idb::broadcast::{self, ChangeNotice, Subscription};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::HttpHistoryClient;
use chat_sync_idb::live::{self, CatchUpReport};
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
    /// Chats with a history request of this tab on the network right now.
    pub fetching: RwSignal<HashSet<RequestId>>,
    _subscription: Option<Subscription>,
}

impl std::fmt::Debug for AppCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCache")
            .field("user", &self.user.id)
            .finish_non_exhaustive()
    }
}

impl AppCache {
    /// Opens the agent's own cache database and starts listening for changes.
    pub async fn open(user: CurrentUser) -> Result<Rc<Self>, SyncError> {
        let runtime = Rc::new(Runtime::open(&user.id).await?);
        let client = HttpHistoryClient::new("");
        let driver = Rc::new(Driver::new(
            runtime.clone(),
            client.clone(),
            PlannerConfig::default(),
        ));
        let changes = RwSignal::new(Changes::default());
        let fetching = RwSignal::new(HashSet::new());
        driver.set_fetch_observer(Some(Rc::new(move |request_id: &RequestId, on| {
            fetching.try_update(|set| {
                if on {
                    set.insert(request_id.clone());
                } else {
                    set.remove(request_id);
                }
            });
        })));
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
                tracing::warn!(%error, "no change notices: views update on their next read");
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
            _subscription: subscription,
        }))
    }

    /// Bumps the change counter without a notice (after applying the chat list).
    pub fn touch(&self) {
        self.changes.try_update(|c| c.version += 1);
    }

    /// Fetches the chat list and applies it to the cache (titles, requesters and each chat's
    /// backend last sequence, which lets validation run), then repairs the interior and
    /// trailing gaps of every cached chat (never older history, never a reload).
    pub async fn catch_up(&self) -> Result<CatchUpReport, SyncError> {
        let report = live::catch_up(&self.driver, &self.client).await?;
        self.touch();
        Ok(report)
    }
}
