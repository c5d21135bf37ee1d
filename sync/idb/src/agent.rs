//! The agent this context acts for, named on every request it makes so the server refuses
//! the request when the browser's session has become someone else's.
//!
//! The session cookie belongs to the browser, not to a tab: when an agent's session ends
//! without this tab seeing it (the tab was offline, asleep or frozen) and another agent
//! signs in elsewhere in the browser, this tab's next requests carry the new agent's cookie.
//! Answered, they would fill the previous agent's cache with the new agent's chats, let go of
//! hers because his chat list lacks them, and send her queued replies as him. So a desk (and
//! the service worker, for the agent whose state it uses) says whom it acts for
//! ([`act_for`]); every request then names that agent ([`EXPECT_USER_HEADER`], or
//! [`EXPECT_USER_PARAM`] on the event stream, whose `EventSource` cannot set headers), and
//! the server answers a mismatch `401` before doing anything, which every caller already
//! takes for "the session ended".
//!
//! Asking who is signed in and signing in never carry it: they must work whoever this
//! context acted for. Signing out does: a tab of an agent whose session this no longer is
//! must not end the next agent's.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The request header naming the agent a request is made for.
pub const EXPECT_USER_HEADER: &str = "X-Expect-User";

/// The same, as a query parameter (the event stream's).
pub const EXPECT_USER_PARAM: &str = "expect_user";

thread_local! {
    static AGENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// From now on this context acts for `user_id` (`None`: for nobody, and requests name no
/// one).
pub fn act_for(user_id: Option<&str>) {
    AGENT.with(|agent| *agent.borrow_mut() = user_id.map(str::to_owned));
}

/// Runs `work` acting for `user_id`: every request it makes names that agent, whatever the
/// context acts for meanwhile. In the service worker one event's work can wait while
/// another event (the next agent's push, after a session change) takes the context over;
/// the first must go on naming its own agent, so a flush begun for alice can never finish
/// as bob.
pub async fn acting_as<F: Future>(user_id: &str, work: F) -> F::Output {
    ActingAs {
        user: user_id.to_owned(),
        work: Box::pin(work),
    }
    .await
}

/// The future of [`acting_as`]: it names its agent while it is polled (requests take their
/// headers when they are made, within a poll) and puts back the context's own after.
struct ActingAs<F> {
    user: String,
    work: Pin<Box<F>>,
}

impl<F: Future> Future for ActingAs<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let outside = AGENT.with(|agent| agent.replace(Some(this.user.clone())));
        let polled = this.work.as_mut().poll(cx);
        AGENT.with(|agent| *agent.borrow_mut() = outside);
        polled
    }
}

/// The agent this context acts for.
pub fn acting_for() -> Option<String> {
    AGENT.with(|agent| agent.borrow().clone())
}

/// The agent a request to `url` must name, if any: the one this context acts for, except
/// when it asks who is signed in or signs in.
pub fn expected_for(url: &str) -> Option<String> {
    if url.contains("/api/auth/me") || url.contains("/api/auth/login") {
        return None;
    }
    acting_for()
}

/// `url` with [`EXPECT_USER_PARAM`] added when a request to it must name an agent.
pub fn with_expectation(url: &str) -> String {
    match expected_for(url) {
        Some(user) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let user = String::from(js_sys::encode_uri_component(&user));
            format!("{url}{separator}{EXPECT_USER_PARAM}={user}")
        }
        None => url.to_owned(),
    }
}
