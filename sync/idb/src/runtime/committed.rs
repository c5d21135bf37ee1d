//! Messages just committed, handed to the views of the same context that watch their chat.
//!
//! Every view learns of a change from its notice on the change channel, then reads what it
//! needs from IndexedDB. The open chat's list in the context that wrote the messages need not
//! read them back: the runtime hands it the copies it has just committed (the same values the
//! read would return), before the notice goes out, so the refresh that follows reads only
//! the chat record. Only messages stored for the first time are handed over; anything
//! replaced, erased or reloaded is read from the store as before.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::{Message, RequestId, Seq};

type Watcher = Rc<dyn Fn(&[Message])>;

/// The watchers of one runtime.
#[derive(Default)]
pub(super) struct Watchers {
    next: Cell<u64>,
    by_chat: RefCell<Vec<(u64, RequestId, Watcher)>>,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers")
            .field("count", &self.by_chat.borrow().len())
            .finish()
    }
}

/// A watch of a chat's committed messages; dropping it ends the watch.
#[must_use = "the watch ends when this is dropped"]
pub struct CommittedWatch {
    id: u64,
    watchers: std::rc::Weak<Watchers>,
}

impl Drop for CommittedWatch {
    fn drop(&mut self) {
        if let Some(watchers) = self.watchers.upgrade() {
            watchers
                .by_chat
                .borrow_mut()
                .retain(|(id, ..)| *id != self.id);
        }
    }
}

impl Watchers {
    pub(super) fn watch(
        self: &Rc<Self>,
        request_id: &RequestId,
        on_committed: impl Fn(&[Message]) + 'static,
    ) -> CommittedWatch {
        let id = self.next.get();
        self.next.set(id + 1);
        self.by_chat
            .borrow_mut()
            .push((id, request_id.clone(), Rc::new(on_committed)));
        CommittedWatch {
            id,
            watchers: Rc::downgrade(self),
        }
    }

    /// Whether anyone watches `request_id` (the batch is then kept for them).
    pub(super) fn watched(&self, request_id: &RequestId) -> bool {
        self.by_chat
            .borrow()
            .iter()
            .any(|(_, chat, _)| chat == request_id)
    }

    /// Hands the watchers of `request_id` the messages of `batch` stored for the first time
    /// (`new_seqs`; a seq twice in the batch was stored from its first copy).
    pub(super) fn committed(&self, request_id: &RequestId, batch: Vec<Message>, new_seqs: &[Seq]) {
        if new_seqs.is_empty() {
            return;
        }
        let mut stored: Vec<Message> = Vec::with_capacity(new_seqs.len());
        for message in batch {
            if new_seqs.contains(&message.seq) && !stored.iter().any(|m| m.seq == message.seq) {
                stored.push(message);
            }
        }
        // Called outside the borrow: a watcher may end its own watch.
        let watchers: Vec<Watcher> = self
            .by_chat
            .borrow()
            .iter()
            .filter(|(_, chat, _)| chat == request_id)
            .map(|(.., watcher)| Rc::clone(watcher))
            .collect();
        for watcher in watchers {
            watcher(&stored);
        }
    }
}
