//! The per-user context the worker keeps while it is warm: the user's
//! [`ChatContext`] (cache, driver and client), opened exactly as a tab opens it. A push for
//! another user (a different answer from the session lookup) replaces it; a cold start opens
//! it again.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync_idb::context::ChatContext;

use crate::error::WorkerError;

/// One user's context in this worker.
pub type UserState = ChatContext;

thread_local! {
    static CURRENT: RefCell<Option<Rc<UserState>>> = const { RefCell::new(None) };
}

/// The state of `user_id`, opening the user's cache when it is not open yet.
pub async fn for_user(user_id: &str) -> Result<Rc<UserState>, WorkerError> {
    let cached = CURRENT.with(|c| c.borrow().clone());
    if let Some(state) = cached.filter(|s| s.user_id == user_id) {
        // The worker acts for whichever agent it last used (see `chat_sync_idb::agent`).
        chat_sync_idb::agent::act_for(Some(user_id));
        return Ok(state);
    }
    let state = Rc::new(ChatContext::open(user_id).await?);
    CURRENT.with(|c| *c.borrow_mut() = Some(state.clone()));
    Ok(state)
}

/// The state of `user_id` when this worker already has it open (it is warm), without
/// opening anything.
pub fn open_for(user_id: &str) -> Option<Rc<UserState>> {
    CURRENT
        .with(|c| c.borrow().clone())
        .filter(|s| s.user_id == user_id)
}

/// Drops the cached state (sign-out or a session change): the next push opens it again.
pub fn forget() {
    // A push still running keeps its own `Rc`; the connection closes when the last one goes.
    CURRENT.with(|c| c.borrow_mut().take());
    chat_sync_idb::agent::act_for(None);
}
