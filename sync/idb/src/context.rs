//! One signed-in agent's chat context, the same in a tab and in the service worker: their
//! cache ([`Runtime`]: the one ingest path and the store), the [`Driver`] that runs the core's
//! planner over the real `fetch()` client, and that client. The app's `AppCache` and the
//! worker's per-user state are both opened here, so the two contexts cannot drift apart in
//! how they open the cache or which client and planner settings they sync with.

use std::rc::Rc;

use chat_sync::planner::PlannerConfig;

use crate::driver::Driver;
use crate::error::SyncError;
use crate::http::HttpHistoryClient;
use crate::live::{self, CatchUpReport};
use crate::runtime::Runtime;

/// The agent's cache, driver and history client in this context.
#[derive(Clone)]
pub struct ChatContext {
    /// The signed-in agent's id (whose database this is).
    pub user_id: String,
    /// The one ingest path and the store.
    pub runtime: Rc<Runtime>,
    /// Missing-only sync of chats.
    pub driver: Rc<Driver<HttpHistoryClient>>,
    /// The HTTP client of the contract (same origin).
    pub client: HttpHistoryClient,
}

impl std::fmt::Debug for ChatContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatContext")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl ChatContext {
    /// Opens `user_id`'s cache and the driver over the page's (or worker's) own origin. From
    /// now on the context's requests name `user_id` ([`crate::agent`]), so none is answered
    /// with another agent's session.
    pub async fn open(user_id: &str) -> Result<Self, SyncError> {
        crate::agent::act_for(Some(user_id));
        let runtime = Rc::new(Runtime::open(user_id).await?);
        let client = HttpHistoryClient::new("");
        let driver = Rc::new(Driver::new(
            runtime.clone(),
            client.clone(),
            PlannerConfig::default(),
        ));
        Ok(Self {
            user_id: user_id.to_owned(),
            runtime,
            driver,
            client,
        })
    }

    /// After a (re)connect or a Background Sync: the chat list, then only what is missing
    /// ([`live::catch_up`]).
    pub async fn catch_up(&self) -> Result<CatchUpReport, SyncError> {
        live::catch_up(&self.driver, &self.client).await
    }

    /// [`ChatContext::catch_up`] when the network came back: the chats on screen ask at once
    /// for what arrived meanwhile, beside the chat list ([`live::catch_up_back_online`]).
    pub async fn catch_up_back_online(&self) -> Result<CatchUpReport, SyncError> {
        live::catch_up_back_online(&self.driver, &self.client).await
    }
}
