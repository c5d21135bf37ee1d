//! Which chats this context has a history request on the network for, told to the views of
//! this context (the [`FetchObserver`]) and announced to the other contexts of the agent (a
//! [`FetchNotice`] on the fetch channel), so every tab shows its sync indicator exactly while
//! messages of that chat are being fetched, whichever context fetches them.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::vec_map::VecMap;
use chat_sync::RequestId;

use crate::broadcast::{fetch_channel_name, Broadcaster, FetchNotice};
use crate::platform;

/// Told when a chat's history requests of this context start (`true`: the first one went on
/// the network) and end (`false`: none is left), so a view shows its sync indicator exactly
/// while messages are being fetched.
pub type FetchObserver = Rc<dyn Fn(&RequestId, bool)>;

/// The requests on the network per chat, the observer, and the channel to the others.
pub(super) struct FetchActivity {
    fetching: RefCell<VecMap<RequestId, u32>>,
    observer: RefCell<Option<FetchObserver>>,
    /// Where this context announces its fetches to the others.
    channel: Option<Broadcaster>,
    /// This context's id in those notices.
    context: String,
}

impl FetchActivity {
    /// The activity of a context whose cache database is `database`.
    pub(super) fn new(database: &str) -> Self {
        let channel = match Broadcaster::new(&fetch_channel_name(database)) {
            Ok(channel) => Some(channel),
            Err(error) => {
                crate::log_warn!(%error, "no fetch channel: other contexts show no indicator for this one's fetches");
                None
            }
        };
        Self {
            fetching: RefCell::new(VecMap::new()),
            observer: RefCell::new(None),
            channel,
            context: platform::random_id(),
        }
    }

    /// Sets the one observer.
    pub(super) fn set_observer(&self, observer: Option<FetchObserver>) {
        *self.observer.borrow_mut() = observer;
    }

    /// Whether a request of this context is on the network for the chat.
    pub(super) fn is_fetching(&self, request_id: &RequestId) -> bool {
        self.fetching
            .borrow()
            .get(request_id)
            .is_some_and(|n| *n > 0)
    }

    /// Counts a request going on the network for the chat.
    pub(super) fn started(&self, request_id: &RequestId) {
        let first = {
            let mut fetching = self.fetching.borrow_mut();
            let n = fetching.get_or_default(request_id);
            *n += 1;
            *n == 1
        };
        if first {
            self.notify(request_id, true);
        }
    }

    /// Counts a request coming back.
    pub(super) fn ended(&self, request_id: &RequestId) {
        let last = {
            let mut fetching = self.fetching.borrow_mut();
            match fetching.get_mut(request_id) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => false,
            }
        };
        if last {
            self.notify(request_id, false);
        }
    }

    fn notify(&self, request_id: &RequestId, fetching: bool) {
        if let Some(channel) = &self.channel {
            let notice = FetchNotice {
                request_id: request_id.clone(),
                fetching,
                context: self.context.clone(),
            };
            if let Err(error) = channel.announce(&notice) {
                crate::log_warn!(%error, "could not announce a fetch to the other contexts");
            }
        }
        // Cloned out of the cell first: the observer may call back into the driver.
        let observer = self.observer.borrow().clone();
        if let Some(observer) = observer {
            observer(request_id, fetching);
        }
    }
}
