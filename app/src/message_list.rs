//! The virtualized message list of the open chat: its DOM half.
//!
//! Only the rows near the viewport exist in the DOM (a few dozen, whether the chat holds ten
//! messages or 100,000). Rows come from the core's [`Timeline`](chat_sync::timeline::Timeline)
//! (cached messages, skeletons exactly where messages are missing), their heights from
//! [`RowHeights`](chat_sync::row_heights::RowHeights) (estimated, then measured), and their
//! messages from IndexedDB, read a window at a time and never the whole chat.
//!
//! Every decision (which rows, which messages to read, which row stays fixed on screen,
//! whether the reader follows the bottom, what a change notice means) is the core's
//! [`ListModel`], tested natively. This module and its children create the row elements,
//! measure them, listen to the browser and apply what the model decided: `render` places and
//! measures rows, `reads` reads messages and unsent ones, `listen` holds the listeners,
//! `content` turns the model's facts into what a row shows.
//!
//! It is written against the DOM directly rather than as reactive components: a scroll frame
//! must place rows, measure the new ones and correct the scroll position in one synchronous
//! pass, before the browser paints, so nothing jumps when rows are measured, when older
//! history is prepended, or when a gap above the reader is filled.

mod content;
mod listen;
mod reads;
mod render;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chat_sync::list_model::{self, ListKey, ListModel, NotedChanges, RefreshReads, Viewport};
use chat_sync::outbox::OutboxEntry;
use chat_sync::store::Store;
use chat_sync::vec_map::VecMap;
use chat_sync::{ChatRecord, RequestId, Seq, SeqRange, SeqRanges};
use chat_sync_idb::broadcast::ChangeNotice;
use chat_sync_idb::runtime::{Handed, Runtime, WriteWatch};
use chat_sync_idb::SyncError;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement};

use crate::row_dom::RowContent;

/// Who reads the list (defined in the core, which decides what a row offers them).
pub use chat_sync::list_model::Viewer;

/// What the list reports to its chat view.
pub struct ListEvents {
    /// The older-history row is on screen: fetch a page of older history.
    pub on_older: Box<dyn Fn()>,
    /// The newest message seq the reader has had on screen.
    pub on_read: Box<dyn Fn(Seq)>,
    /// Whether newer messages arrived below while the reader is scrolled up.
    pub on_new_below: Box<dyn Fn(bool)>,
    /// The seqs on screen changed (gaps there are fetched first).
    pub on_viewport: Box<dyn Fn(Option<SeqRange>)>,
    /// The agent asked to retry (`true`) or delete (`false`) a failed outbox entry.
    pub on_outbox: Box<dyn Fn(String, bool)>,
    /// The agent asked to edit or delete a stored message.
    pub on_message: Box<dyn Fn(Seq, MessageAction)>,
}

/// What the agent may do to a stored message from its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageAction {
    /// Put its text in the composer to edit it (their own messages).
    Edit,
    /// Delete it for everyone (their own, or as the chat's agent any message).
    Delete,
}

/// A row in the DOM.
struct Mounted {
    el: HtmlElement,
    index: usize,
    /// The offset it is placed at (its transform), so an unmoved row is not restyled.
    top: f64,
    /// What it shows; it is rebuilt only when this changes.
    content: RowContent,
}

/// The model and what only the DOM half knows.
struct State {
    model: ListModel,
    mounted: VecMap<ListKey, Mounted>,
    /// Object URLs of the local copies of unsent images, by their local media id.
    previews: VecMap<String, String>,
    /// The canvas height last set, so an unchanged one is not restyled.
    canvas_height: f64,
}

/// The click listener of a list's rows.
type ClickHandler = Closure<dyn FnMut(web_sys::Event)>;

/// The list of one chat.
pub struct MessageList {
    request_id: RequestId,
    runtime: Rc<Runtime>,
    viewer: Viewer,
    document: Document,
    scroller: HtmlElement,
    canvas: HtmlElement,
    events: ListEvents,
    state: RefCell<State>,
    /// Whether [`MessageList::open`] has shown its first read: until then a write handed
    /// over cannot be placed against that read.
    opened: Cell<bool>,
    reading: Cell<bool>,
    read_again: Cell<bool>,
    frame_pending: Cell<bool>,
    /// This render mounts only the rows on screen (no overscan): the first render after new
    /// messages arrived at the bottom, so they show sooner; the next frame adds the rest.
    lean: Cell<bool>,
    /// The changes noted since the last refresh (what they mean for the messages in memory).
    changes: Cell<NotedChanges>,
    on_scroll: RefCell<Option<Closure<dyn FnMut()>>>,
    on_click: RefCell<Option<ClickHandler>>,
    /// The window's resize listener, removed when the list goes (one per opened chat).
    on_resize: RefCell<Option<Closure<dyn FnMut()>>>,
    /// A weak handle on itself, for reads that finish after the call that started them.
    me: RefCell<std::rc::Weak<MessageList>>,
    /// The writes of this context that only add to the chat, handed over before they
    /// commit: the list shows them at once, and the refresh their notice causes reads only
    /// the record.
    writes: RefCell<Option<WriteWatch>>,
}

impl MessageList {
    /// Builds the list of `request_id` inside `scroller` and paints its cached messages: the
    /// first unread message near the top of the viewport, or else the newest at the bottom.
    /// Resolves once the rows are in the DOM; nothing here waits on the network.
    pub async fn open(
        scroller: HtmlElement,
        runtime: Rc<Runtime>,
        request_id: RequestId,
        viewer: Viewer,
        events: ListEvents,
    ) -> Result<Rc<Self>, SyncError> {
        let opened_at = chat_sync_idb::platform::precise_now();
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| SyncError::Platform {
                api: "document",
                cause: chat_sync_idb::DomError::new("NotFound", "no document"),
            })?;
        let canvas: HtmlElement = document
            .create_element("div")
            .map_err(|e| SyncError::platform("createElement", &e))?
            .unchecked_into();
        canvas.set_class_name("messages__canvas");
        let _ = canvas.set_attribute("role", "feed");
        let _ = canvas.set_attribute("aria-busy", "false");
        scroller.replace_children_with_node_1(&canvas);
        let list = Rc::new(Self {
            request_id,
            runtime,
            viewer,
            document,
            scroller,
            canvas,
            events,
            state: RefCell::new(State {
                model: ListModel::new(),
                mounted: VecMap::new(),
                previews: VecMap::new(),
                canvas_height: -1.0,
            }),
            opened: Cell::new(false),
            reading: Cell::new(false),
            read_again: Cell::new(false),
            frame_pending: Cell::new(false),
            lean: Cell::new(false),
            changes: Cell::new(NotedChanges::default()),
            on_scroll: RefCell::new(None),
            on_click: RefCell::new(None),
            on_resize: RefCell::new(None),
            me: RefCell::new(std::rc::Weak::new()),
            writes: RefCell::new(None),
        });
        *list.me.borrow_mut() = Rc::downgrade(&list);
        let weak = Rc::downgrade(&list);
        let watch = list.runtime.watch_writes(&list.request_id, move |handed| {
            if let Some(list) = weak.upgrade() {
                list.on_write(handed);
            }
        });
        *list.writes.borrow_mut() = Some(watch);
        let record = list.runtime.store().chat(&list.request_id).await?;
        let pending = list.read_pending().await;
        let first_unread = record.as_ref().and_then(list_model::first_unread);
        let held = record
            .as_ref()
            .map(ChatRecord::readable_held)
            .unwrap_or_default();
        // Read the messages the first screen shows before building it.
        if let Some(window) = list_model::opening_window(first_unread, &held) {
            list.read_messages(&held, window).await?;
        }
        list.state.borrow_mut().model.start_at(first_unread);
        list.apply_record(record, pending);
        if let Some(seq) = first_unread {
            list.scroll_to_seq(seq);
        }
        list.render();
        // In the performance timeline for the UI benchmark's cold start: the first screen
        // is in the DOM (`view:open` ends), then painted (`view:open-painted`, next frame).
        chat_sync_idb::platform::measure("view:open", opened_at);
        let painted = Closure::once_into_js(move || {
            chat_sync_idb::platform::measure("view:open-painted", opened_at);
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(painted.unchecked_ref());
        }
        list.listen();
        list.opened.set(true);
        Ok(list)
    }

    /// A write of this context handed over before its commit: its record and messages are
    /// laid out and shown now ([`ListModel::keep_written`]); should the commit fail, what it
    /// handed is dropped and the store read again.
    fn on_write(self: &Rc<Self>, handed: Handed<'_>) {
        if !self.opened.get() {
            // The first read of `open` may come before or after this write: it cannot be
            // placed, so everything is read again once the list is open.
            self.note_unknown_change();
            return;
        }
        match handed {
            Handed::Written(written) => {
                let started = chat_sync_idb::platform::precise_now();
                // Busy only inside a render or a read's insert, which never await (nor
                // write): the write's notice then brings the refresh that shows it.
                let Ok(pending) = self
                    .state
                    .try_borrow_mut()
                    .map(|mut state| state.model.keep_written(written))
                else {
                    return;
                };
                self.apply_record(Some(written.record.clone()), pending);
                self.render_new();
                chat_sync_idb::platform::measure("view:handed", started);
            }
            Handed::Unwritten => {
                self.note_unknown_change();
                let list = Rc::clone(self);
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(error) = list.refresh().await {
                        chat_sync_idb::log_warn!(chat = %list.request_id, %error, "could not read the chat again after a failed write");
                    }
                });
            }
        }
    }

    /// Notes a change whose effect on what is in memory is not known (a write that failed
    /// after its hand-over, or a change committed while the list was being opened): the next
    /// refresh reads everything again.
    pub fn note_unknown_change(&self) {
        self.note(NotedChanges::note_unknown);
    }

    /// Whether a change was noted that no refresh has read yet.
    pub fn has_noted_changes(&self) -> bool {
        self.changes.get().any()
    }

    /// Notes a committed change of this chat before the refresh it causes (the core's
    /// [`NotedChanges`] decides what it means for the messages in memory).
    pub fn note_change(&self, notice: &ChangeNotice) {
        self.note(|changes| changes.note(notice));
    }

    /// Adds to the changes noted since the last refresh.
    fn note(&self, add: impl FnOnce(&mut NotedChanges)) {
        let mut changes = self.changes.get();
        add(&mut changes);
        self.changes.set(changes);
    }

    /// Re-reads the chat's record after a change (new messages, a merged gap, older history)
    /// and re-renders, keeping the reader's position; returns the record it read.
    pub async fn refresh(self: &Rc<Self>) -> Result<Option<ChatRecord>, SyncError> {
        // Taken first: a change noted while this refresh reads asks for the next one.
        let noted = self.changes.take();
        let mark = self.state.borrow().model.read_mark();
        let stale = noted.stale();
        let early = noted.early_read();
        let read_early = async {
            match early {
                Some(window) => {
                    self.read_messages(&SeqRanges::from_range(window), window)
                        .await
                }
                None => Ok(()),
            }
        };
        // The chat record and the unsent messages do not depend on each other: read together.
        let (record, pending, read_early) = futures::join!(
            self.runtime.store().chat(&self.request_id),
            self.read_pending_if(noted.reads_outbox()),
            read_early
        );
        read_early?;
        let record = record?;
        let held = record
            .as_ref()
            .map(ChatRecord::readable_held)
            .unwrap_or_default();
        // Messages may have been replaced (the server copy wins, deletions): then what is on
        // screen is read again, the rest is dropped and read when it comes into view.
        // Otherwise what is in memory stays and only the new messages are read.
        let reads = {
            let state = self.state.borrow();
            let visible = state
                .model
                .visible_indices(self.viewport(), self.lean.get());
            state.model.refresh_reads(visible, &held)
        };
        if stale {
            self.state.borrow_mut().model.clear_messages();
        }
        match reads {
            RefreshReads::Joined(window) => self.read_messages(&held, window).await?,
            RefreshReads::Apart { screen, bottom } => {
                let held = &held;
                let read = |window: Option<SeqRange>| async move {
                    match window {
                        Some(window) => self.read_messages(held, window).await,
                        None => Ok(()),
                    }
                };
                let (screen, bottom) = futures::join!(read(screen), read(bottom));
                screen?;
                bottom?;
            }
        }
        // A write handed over meanwhile is newer than what this read may have found; its
        // notice brings the refresh that lays out the record after it, and what this one
        // took (an outbox change above all) is noted again for that refresh.
        if self.state.borrow().model.may_apply_read(mark) {
            let applying_at = chat_sync_idb::platform::precise_now();
            self.apply_record(record.clone(), pending);
            chat_sync_idb::platform::measure("view:apply-record", applying_at);
        } else {
            self.note(|changes| changes.merge(noted));
        }
        let rendering_at = chat_sync_idb::platform::precise_now();
        self.render_new();
        chat_sync_idb::platform::measure("view:render", rendering_at);
        Ok(record)
    }

    /// Renders after new messages may have arrived: a reader at the bottom waits for them,
    /// so the rows on screen come first and the rows around them (off screen) on the next
    /// frame.
    fn render_new(self: &Rc<Self>) {
        let lean = self.state.borrow().model.stick_to_bottom();
        self.lean.set(lean);
        self.render();
        self.lean.set(false);
        if lean {
            self.schedule_frame();
        }
    }

    /// Shows the repair progress (done / total) in the gaps while a fetch runs.
    pub fn set_progress(&self, progress: Option<(u64, u64)>) {
        let changed = self.state.borrow_mut().model.set_progress(progress);
        // Unchanged progress changes no row: no render (each one mounts and measures).
        if changed {
            self.render();
        }
    }

    /// Scrolls to the newest message and keeps following new ones.
    pub fn jump_to_latest(&self) {
        self.state.borrow_mut().model.follow_bottom();
        self.render();
        (self.events.on_new_below)(false);
    }

    /// How many rows are in the DOM (the virtualization at work).
    pub fn mounted_rows(&self) -> usize {
        self.state.borrow().mounted.len()
    }

    /// Lays the rows out for a chat record just read, keeping the reader's place: the model
    /// decides where the reader's row now stands, this puts the scroll position there.
    fn apply_record(&self, record: Option<ChatRecord>, pending: Vec<OutboxEntry>) {
        self.note_reader_scroll();
        let held = record
            .as_ref()
            .map(ChatRecord::readable_held)
            .unwrap_or_default();
        let viewport = self.viewport();
        let applied = self.state.borrow_mut().model.apply_record(
            record,
            &held,
            pending,
            viewport,
            |model, row| content::estimate_row(model, &self.viewer, row),
        );
        if let Some(top) = applied.scroll_to {
            self.set_canvas_height();
            self.scroller.set_scroll_top(top.round() as i32);
        }
        if applied.new_below {
            (self.events.on_new_below)(true);
        }
    }

    /// Scrolls so the row showing `seq` (its message, or the skeleton covering it) is near
    /// the top of the viewport.
    pub fn scroll_to_seq(&self, seq: Seq) {
        let Some(top) = self.state.borrow_mut().model.scroll_to_seq(seq) else {
            return;
        };
        self.set_canvas_height();
        self.scroller.set_scroll_top(top.round() as i32);
    }

    /// The scroll position and the viewport's height, as the model takes them.
    fn viewport(&self) -> Viewport {
        Viewport {
            top: f64::from(self.scroller.scroll_top()),
            height: f64::from(self.scroller.client_height()),
        }
    }

    fn self_rc(&self) -> Option<Rc<Self>> {
        self.me.borrow().upgrade()
    }
}
