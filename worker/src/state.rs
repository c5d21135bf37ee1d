//! The per-user runtime the worker keeps while it is warm: the user's cache
//! ([`chat_sync_idb::runtime::Runtime`]) and the gap-repair [`Driver`] over the real
//! `fetch()` client. A push for another user (a different answer from the session lookup)
//! replaces it; a cold start opens it again.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::planner::PlannerConfig;
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::HttpHistoryClient;
use chat_sync_idb::runtime::Runtime;

use crate::error::WorkerError;

/// One user's cache and driver in this worker.
pub struct UserState {
    /// The signed-in user's id.
    pub user_id: String,
    /// The driver (which holds the runtime).
    pub driver: Driver<HttpHistoryClient>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<UserState>>> = const { RefCell::new(None) };
}

/// The state of `user_id`, opening the user's cache when it is not open yet.
pub async fn for_user(user_id: &str) -> Result<Rc<UserState>, WorkerError> {
    let cached = CURRENT.with(|c| c.borrow().clone());
    if let Some(state) = cached.filter(|s| s.user_id == user_id) {
        return Ok(state);
    }
    let runtime = Rc::new(Runtime::open(user_id).await?);
    let state = Rc::new(UserState {
        user_id: user_id.to_owned(),
        driver: Driver::new(
            runtime,
            HttpHistoryClient::new(""),
            PlannerConfig::default(),
        ),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(state.clone()));
    Ok(state)
}

/// Drops the cached state (sign-out or a session change): the next push opens it again.
pub fn forget() {
    // A push still running keeps its own `Rc`; the connection closes when the last one goes.
    CURRENT.with(|c| c.borrow_mut().take());
}
