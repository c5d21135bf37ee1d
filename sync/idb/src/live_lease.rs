//! The browser side of live leadership's lease (the decisions are the core's
//! [`chat_sync::leadership`]): a waiting tab probes the leader on a broadcast channel and
//! resolves [`leader_silent`] when a probe goes unanswered, and the leader answers every probe
//! for as long as [`Answering`] lives. A page the browser froze answers nothing, so its lock
//! is taken over within seconds instead of when it thaws.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::leadership::{answer, LeaderWatch, LeaseMessage, WatchAction, ANNOUNCEMENT};
use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::StreamExt;

use crate::broadcast::{subscribe_to, Broadcaster, Subscription};
use crate::platform;

/// The lease channel of the live lock `lock_name`.
pub fn lease_channel_name(lock_name: &str) -> String {
    format!("{lock_name}:lease")
}

/// Resolves when the holder of the live lock stops answering probes on `channel`. Never
/// resolves where broadcast channels cannot be opened (logged): the tab then waits for the
/// lock like before.
pub async fn leader_silent(channel: &str) {
    let nonce = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    let watch = Rc::new(RefCell::new(LeaderWatch::new(platform::now_ms(), nonce)));
    let (heard, mut messages) = mpsc::unbounded::<()>();
    let listener = Rc::clone(&watch);
    let subscription = subscribe_to(channel, "live lease message", move |message| {
        listener
            .borrow_mut()
            .on_message(&message, platform::now_ms());
        let _ = heard.unbounded_send(());
    });
    let (poster, _subscription) = match (Broadcaster::new(channel), subscription) {
        (Ok(poster), Ok(subscription)) => (poster, subscription),
        (Err(error), _) | (_, Err(error)) => {
            crate::log_warn!(%error, "no lease channel: a frozen live leader cannot be taken over");
            return std::future::pending().await;
        }
    };
    loop {
        let action = watch.borrow_mut().poll(platform::now_ms());
        match action {
            WatchAction::Wait { until } => {
                let sleep = Box::pin(platform::sleep(until.saturating_sub(platform::now_ms())));
                if let Either::Right((None, _)) = select(sleep, messages.next()).await {
                    // The subscription is gone; keep to the timer alone.
                    platform::sleep(until.saturating_sub(platform::now_ms())).await;
                }
            }
            WatchAction::Probe { nonce } => {
                if let Err(error) = poster.announce(&LeaseMessage::Probe { nonce }) {
                    crate::log_warn!(%error, "could not probe the live leader");
                }
            }
            WatchAction::TakeOver => return,
        }
    }
}

/// The leader's side: announces the new leader on creation and answers every probe until
/// dropped.
pub struct Answering {
    _subscription: Option<Subscription>,
}

impl Answering {
    /// Starts answering on `channel`; a channel that cannot be opened is logged (followers
    /// will then take the lock over after their probe times out, and this leader stops).
    pub fn start(channel: &str) -> Self {
        let poster = match Broadcaster::new(channel) {
            Ok(poster) => Rc::new(poster),
            Err(error) => {
                crate::log_warn!(%error, "no lease channel: cannot answer followers' probes");
                return Self {
                    _subscription: None,
                };
            }
        };
        if let Err(error) = poster.announce(&ANNOUNCEMENT) {
            crate::log_warn!(%error, "could not announce the new live leader");
        }
        let replies = Rc::clone(&poster);
        let subscription = subscribe_to(channel, "live lease message", move |message| {
            if let Some(reply) = answer(&message) {
                if let Err(error) = replies.announce(&reply) {
                    crate::log_warn!(%error, "could not answer a live leader probe");
                }
            }
        });
        match subscription {
            Ok(subscription) => Self {
                _subscription: Some(subscription),
            },
            Err(error) => {
                crate::log_warn!(%error, "no lease channel: cannot answer followers' probes");
                Self {
                    _subscription: None,
                }
            }
        }
    }
}
