//! The live channel for open tabs: one tab per browser (per user database) holds the
//! Server-Sent Events connection to `GET /api/chat/events`; the others follow.
//!
//! Leadership is the Web Lock `<database>:live` ([`live_lock_name`]), held for as long as the
//! leader's [`LiveChannel`] lives. Other tabs queue on the same lock, so when the leader tab
//! closes (the browser releases a dead context's locks) or drops its channel, the next tab in
//! the queue is granted the lock at once and connects. Followers need no stream of their own:
//! every message the leader ingests through [`Runtime::ingest`](crate::runtime::Runtime::ingest)
//! is announced on the user's `BroadcastChannel`. A leader the browser froze (it keeps its
//! lock and runs nothing) stops answering the waiting tabs' probes, and the first of them to
//! notice steals the lock ([`crate::live_lease`]); the frozen leader, when it thaws, finds its
//! lock gone, drops its stream and queues again as a follower.
//!
//! The leader ingests each event with `Source::Live`; an ingest that reveals a gap records
//! the event's seq as the backend's last seq and has the driver repair the chat beside the
//! stream (never blocking it). Malformed events are logged and dropped. The browser's
//! `EventSource` reconnects by itself with `Last-Event-ID`; when it gives up, a new one is
//! opened after the core's capped, jittered backoff ([`chat_sync::live`]). After every
//! (re)connect [`catch_up`] compares each cached chat with the backend's chat list and fetches
//! only the missing ranges.
//!
//! This module keeps the channel and its leadership; the `EventSource` connection is in
//! `stream`, the leader's loop in `leader`, its handling of each event in `events`, and the
//! catch-up in `catchup`.

use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{select, Either};

pub use chat_sync::live::LiveStatus;

use crate::driver::Driver;
use crate::error::{DomError, SyncError};
use crate::http::HttpHistoryClient;
use crate::{locks, platform};

mod catchup;
mod events;
mod leader;
mod stream;

pub use catchup::{catch_up, catch_up_back_online, catch_up_with_list, CatchUpReport};
use leader::Leader;

/// The Web Lock whose holder is the live channel's leader for the cache database `database`.
pub fn live_lock_name(database: &str) -> String {
    format!("{database}:live")
}

/// The live channel of one tab. Dropping it stops everything: the stream closes, repairs it
/// started are abandoned (the driver's locks are released with them), and leadership passes
/// to the next tab waiting.
pub struct LiveChannel {
    stop: Option<oneshot::Sender<()>>,
    lock_name: String,
}

impl std::fmt::Debug for LiveChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveChannel")
            .field("lock", &self.lock_name)
            .finish()
    }
}

impl Drop for LiveChannel {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl LiveChannel {
    /// Starts competing for leadership of `driver`'s database and, once leader, follows
    /// `base_url` + `/api/chat/events` (an empty `base_url` is the page's own origin).
    /// `on_status` is called at once with [`LiveStatus::Follower`] and on every change.
    ///
    /// Fails only when the context has no `EventSource` (a service worker, or a very old
    /// browser); without Web Locks every tab leads on its own (logged).
    pub fn start(
        driver: Rc<Driver<HttpHistoryClient>>,
        base_url: &str,
        on_status: impl Fn(LiveStatus) + 'static,
    ) -> Result<LiveChannel, SyncError> {
        if platform::global_property("EventSource").is_none() {
            return Err(SyncError::Platform {
                api: "EventSource",
                cause: DomError::new(
                    "NotSupportedError",
                    "this context has no EventSource (live updates need a window or worker)",
                ),
            });
        }
        let base_url = base_url.trim_end_matches('/').to_owned();
        let lock_name = live_lock_name(driver.runtime().store().name());
        let on_status: Rc<dyn Fn(LiveStatus)> = Rc::new(on_status);
        on_status(LiveStatus::Follower);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let name = lock_name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let leader = Leader {
                driver,
                client: HttpHistoryClient::new(base_url.clone()),
                events_url: format!("{base_url}/api/chat/events"),
                me_url: format!("{base_url}/api/auth/me"),
                on_status,
            };
            let lease = crate::live_lease::lease_channel_name(&name);
            loop {
                let round = leader.clone();
                let lease_channel = lease.clone();
                let lead = async move {
                    let _answering = crate::live_lease::Answering::start(&lease_channel);
                    round.run().await;
                };
                // Dropping the lock future (when `stop` fires) releases the lock, or
                // withdraws the queued request, and drops the stream with everything it
                // started.
                let compete = Box::pin(locks::with_lock_or_take_over(
                    &name,
                    crate::live_lease::leader_silent(&lease),
                    lead,
                ));
                match select(&mut stopped, compete).await {
                    Either::Left(_) => {
                        crate::log_debug!(lock = %name, "live channel stopped");
                        return;
                    }
                    Either::Right((Ok(locks::Tenure::Stolen), _)) => {
                        crate::log_warn!(lock = %name, "another tab took the live channel over; following again");
                        (leader.on_status)(LiveStatus::Follower);
                    }
                    Either::Right((Ok(locks::Tenure::Finished(())), _)) => return,
                    Either::Right((Err(error), _)) => {
                        crate::log_warn!(lock = %name, %error, "could not compete for the live channel");
                        return;
                    }
                }
            }
        });
        Ok(LiveChannel {
            stop: Some(stop),
            lock_name,
        })
    }

    /// The Web Lock this channel holds while it leads.
    pub fn lock_name(&self) -> &str {
        &self.lock_name
    }
}
