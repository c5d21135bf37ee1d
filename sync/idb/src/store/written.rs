//! Writes handed, in memory, to the views of the context that makes them, before they commit.
//!
//! Every view learns of a change from its notice on the change channel, after the commit,
//! then reads what it needs from IndexedDB. The open chat's list in the context that writes
//! need not wait for the commit nor read the messages back: once an ingest has issued its
//! writes (and asked the browser to commit them), the store hands the list what the core
//! says it may show at once ([`chat_sync::ingest::Written`]: the record the write leaves and
//! the messages it adds). Should the commit then fail, the list is told, drops what it was
//! handed and reads the store again. Writes that replace, erase, reload or may be taken back
//! are never handed over; the list reads them after their notice, as every context does.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::ingest::Written;
use chat_sync::RequestId;

/// What a watcher of a chat's writes is told.
#[derive(Clone, Copy, Debug)]
pub enum Handed<'a> {
    /// A write's additions, issued and being committed.
    Written(&'a Written),
    /// The commit of a write handed over failed: nothing of it is stored.
    Unwritten,
}

type Watcher = Rc<dyn Fn(Handed<'_>)>;

/// The watchers of one store.
#[derive(Default)]
pub(crate) struct Watchers {
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

/// A watch of a chat's writes; dropping it ends the watch.
#[must_use = "the watch ends when this is dropped"]
pub struct WriteWatch {
    id: u64,
    watchers: std::rc::Weak<Watchers>,
}

impl Drop for WriteWatch {
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
    pub(crate) fn watch(
        self: &Rc<Self>,
        request_id: &RequestId,
        on_write: impl Fn(Handed<'_>) + 'static,
    ) -> WriteWatch {
        let id = self.next.get();
        self.next.set(id + 1);
        self.by_chat
            .borrow_mut()
            .push((id, request_id.clone(), Rc::new(on_write)));
        WriteWatch {
            id,
            watchers: Rc::downgrade(self),
        }
    }

    /// Whether anyone watches `request_id` (only then is a hand-over prepared).
    pub(crate) fn watched(&self, request_id: &RequestId) -> bool {
        self.by_chat
            .borrow()
            .iter()
            .any(|(_, chat, _)| chat == request_id)
    }

    /// Tells the watchers of `request_id`.
    pub(crate) fn tell(&self, request_id: &RequestId, handed: Handed<'_>) {
        // Called outside the borrow: a watcher may end its own watch.
        let watchers: Vec<Watcher> = self
            .by_chat
            .borrow()
            .iter()
            .filter(|(_, chat, _)| chat == request_id)
            .map(|(.., watcher)| Rc::clone(watcher))
            .collect();
        for watcher in watchers {
            watcher(handed);
        }
    }
}
