//! The virtualized message list of the open chat.
//!
//! Only the rows near the viewport exist in the DOM (a few dozen, whether the chat holds ten
//! messages or 100,000). Rows come from the core's [`Timeline`] (cached messages, skeletons
//! exactly where messages are missing), their heights from [`RowHeights`] (estimated, then
//! measured), and their messages from IndexedDB, read a window at a time and never the whole
//! chat.
//!
//! It is written against the DOM directly rather than as reactive components: a scroll frame
//! must place rows, measure the new ones and correct the scroll position in one synchronous
//! pass, before the browser paints, so nothing jumps when rows are measured, when older
//! history is prepended, or when a gap above the reader is filled.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use chat_sync::outbox::OutboxEntry;
use chat_sync::row_heights::RowHeights;
use chat_sync::store::{Store, MAX_READ};
use chat_sync::timeline::{starts_group, Row, RowKey, Timeline};
use chat_sync::{ChatRecord, Message, RequestId, Seq, SeqRange, SeqRanges};
use chat_sync_idb::broadcast::ChangeNotice;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::store::readable_held;
use chat_sync_idb::SyncError;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement};

use crate::format;
use crate::row_dom::{self, MessageRow, RowContent};

/// Pixels of rows kept above and below the viewport.
const OVERSCAN_PX: f64 = 800.0;
/// Messages read around the viewport per store read, each side. Small reads, often, keep a
/// fast scroll inside its frame budget (measured: 150 dropped one frame in twenty at
/// 1,200 px a frame, 60 drops none at p95).
const READ_MARGIN: u64 = 60;
/// Loaded messages kept in memory before the ones far from the viewport are dropped.
const KEEP_MESSAGES: usize = 3_000;
/// How close to the bottom (pixels) still counts as "at the latest message".
const BOTTOM_SLACK_PX: f64 = 24.0;

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

/// Who reads the list: their own messages can be edited, and an agent may delete any
/// message of the chats assigned to them (a password a requester pasted, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The signed-in user's id.
    pub id: String,
    /// Whether they are an agent.
    pub agent: bool,
}

/// A row's identity in the list: a timeline row, or an unsent message by its
/// `client_temp_id` (unsent messages follow the timeline, in the order they were written).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ListKey {
    Row(RowKey),
    Pending(String),
}

/// What stands at an index of the list.
#[derive(Clone, Copy, Debug)]
enum ListRow {
    Timeline(Row),
    Pending(usize),
}

struct Mounted {
    el: HtmlElement,
    index: usize,
    top: f64,
    content: RowContent,
}

struct State {
    timeline: Timeline,
    heights: RowHeights,
    measured: HashMap<ListKey, f64>,
    messages: HashMap<Seq, Message>,
    mounted: HashMap<ListKey, Mounted>,
    record: Option<ChatRecord>,
    pending: Vec<OutboxEntry>,
    /// Object URLs of the local copies of unsent images, by their local media id.
    previews: HashMap<String, String>,
    first_unread: Option<Seq>,
    progress: Option<(u64, u64)>,
    stick_to_bottom: bool,
    newest_seen: Seq,
    older_asked: bool,
    last_viewport: Option<SeqRange>,
    canvas_height: f64,
    /// The scroll position the last render left; a different one means the reader scrolled.
    last_top: f64,
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
    reading: Cell<bool>,
    read_again: Cell<bool>,
    frame_pending: Cell<bool>,
    /// This render mounts only the rows on screen (no overscan): the first render after new
    /// messages arrived at the bottom, so they show sooner; the next frame adds the rest.
    lean: Cell<bool>,
    /// A change since the last refresh replaced or erased messages that may be in memory.
    stale: Cell<bool>,
    /// The newest message a change since the last refresh added, read beside the record.
    newest_added: Cell<Option<Seq>>,
    on_scroll: RefCell<Option<Closure<dyn FnMut()>>>,
    on_click: RefCell<Option<ClickHandler>>,
    /// The window's resize listener, removed when the list goes (one per opened chat).
    on_resize: RefCell<Option<Closure<dyn FnMut()>>>,
    /// A weak handle on itself, for reads that finish after the call that started them.
    me: RefCell<std::rc::Weak<MessageList>>,
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
                timeline: Timeline::default(),
                heights: RowHeights::default(),
                measured: HashMap::new(),
                messages: HashMap::new(),
                mounted: HashMap::new(),
                record: None,
                pending: Vec::new(),
                previews: HashMap::new(),
                first_unread: None,
                progress: None,
                stick_to_bottom: true,
                newest_seen: 0,
                older_asked: false,
                last_viewport: None,
                canvas_height: -1.0,
                last_top: 0.0,
            }),
            reading: Cell::new(false),
            read_again: Cell::new(false),
            frame_pending: Cell::new(false),
            lean: Cell::new(false),
            stale: Cell::new(false),
            newest_added: Cell::new(None),
            on_scroll: RefCell::new(None),
            on_click: RefCell::new(None),
            on_resize: RefCell::new(None),
            me: RefCell::new(std::rc::Weak::new()),
        });
        *list.me.borrow_mut() = Rc::downgrade(&list);
        let record = list.runtime.store().chat(&list.request_id).await?;
        let pending = list.read_pending().await;
        let first_unread = record.as_ref().and_then(first_unread);
        let held = record.as_ref().map(readable_held).unwrap_or_default();
        // Read the messages the first screen shows before building it: around the first
        // unread message, or the newest ones.
        let around = match (first_unread, held.max()) {
            (Some(seq), _) => Some(seq),
            (None, Some(max)) => Some(max),
            (None, None) => None,
        };
        if let Some(seq) = around {
            let window = SeqRange::new(seq.saturating_sub(READ_MARGIN).max(1), seq + 40);
            list.read_messages(&held, window).await?;
        }
        {
            let mut state = list.state.borrow_mut();
            state.first_unread = first_unread;
            state.stick_to_bottom = first_unread.is_none();
        }
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
        Ok(list)
    }

    /// Notes a committed change of this chat before the refresh it causes: messages added
    /// keep what is read in memory (the refresh reads only what is new), messages replaced,
    /// erased or reloaded make the next refresh read what is on screen again.
    pub fn note_change(&self, notice: &ChangeNotice) {
        if !notice.keeps_read_messages() {
            self.stale.set(true);
        }
        if let Some(newest) = notice.new_seqs.iter().max() {
            self.newest_added.set(Some(
                self.newest_added.get().map_or(*newest, |n| n.max(*newest)),
            ));
        }
    }

    /// Re-reads the chat's record after a change (new messages, a merged gap, older history)
    /// and re-renders, keeping the reader's position; returns the record it read.
    pub async fn refresh(self: &Rc<Self>) -> Result<Option<ChatRecord>, SyncError> {
        // Taken first: a change noted while this refresh reads asks for the next one.
        let stale = self.stale.replace(false);
        // The newest messages a notice named are read beside the record, not after it (they
        // are what a reader at the bottom waits for).
        let early = self
            .newest_added
            .take()
            .filter(|_| !stale)
            .map(|newest| SeqRange::new(newest.saturating_sub(40).max(1), newest));
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
            self.read_pending(),
            read_early
        );
        read_early?;
        let record = record?;
        let held = record.as_ref().map(readable_held).unwrap_or_default();
        // Messages may have been replaced (the server copy wins, deletions): then what is on
        // screen is read again, the rest is dropped and read when it comes into view.
        // Otherwise what is in memory stays and only the new messages are read.
        let visible = {
            let state = self.state.borrow();
            let range = self.visible_indices(&state);
            state.timeline.message_seqs(range)
        };
        if stale {
            self.state.borrow_mut().messages.clear();
        }
        // Newly arrived messages at the bottom are read too, so sticking to the bottom shows
        // them at once: one read when they join what is on screen (the reader is at the
        // bottom), two side by side otherwise.
        let bottom = held
            .max()
            .map(|max| SeqRange::new(max.saturating_sub(40).max(1), max));
        let on_screen = visible
            .min()
            .zip(visible.max())
            .map(|(min, max)| SeqRange::new(min, max));
        match (on_screen, bottom) {
            (Some(screen), Some(bottom)) if screen.end.saturating_add(1) >= bottom.start => {
                let joined =
                    SeqRange::new(screen.start.min(bottom.start), bottom.end.max(screen.end));
                self.read_messages(&held, joined).await?;
            }
            (screen, bottom) => {
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
        let applying_at = chat_sync_idb::platform::precise_now();
        self.apply_record(record.clone(), pending);
        chat_sync_idb::platform::measure("view:apply-record", applying_at);
        let rendering_at = chat_sync_idb::platform::precise_now();
        // A reader at the bottom waits for the new messages: the rows on screen first, the
        // rows around them (off screen) on the next frame.
        let lean = self.state.borrow().stick_to_bottom;
        self.lean.set(lean);
        self.render();
        self.lean.set(false);
        chat_sync_idb::platform::measure("view:render", rendering_at);
        if lean {
            self.schedule_frame();
        }
        Ok(record)
    }

    /// Object URLs for the local copies of unsent images not previewed yet.
    async fn load_previews(&self, entries: &[OutboxEntry]) {
        for attachment in entries.iter().flat_map(|e| &e.attachments) {
            let local = attachment
                .media_id
                .starts_with(chat_sync_idb::outbox_sender::LOCAL_MEDIA_PREFIX);
            if !local
                || !attachment.mime.starts_with("image/")
                || self
                    .state
                    .borrow()
                    .previews
                    .contains_key(&attachment.media_id)
            {
                continue;
            }
            match chat_sync_idb::outbox_sender::local_file(&self.runtime, &attachment.media_id)
                .await
            {
                Ok(blob) => {
                    if let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) {
                        self.state
                            .borrow_mut()
                            .previews
                            .insert(attachment.media_id.clone(), url);
                    }
                }
                Err(error) => tracing::warn!(%error, "no local copy of an unsent image"),
            }
        }
    }

    /// This chat's unsent messages, in writing order (none when the outbox cannot be read:
    /// the sent messages still show).
    async fn read_pending(&self) -> Vec<OutboxEntry> {
        match chat_sync_idb::outbox_sender::entries(&self.runtime).await {
            Ok(entries) => {
                let mut mine: Vec<OutboxEntry> = entries
                    .into_iter()
                    .filter(|e| e.request_id == self.request_id)
                    .collect();
                mine.sort_by_key(|e| e.order);
                self.load_previews(&mine).await;
                mine
            }
            Err(error) => {
                tracing::warn!(chat = %self.request_id, %error, "could not read the outbox");
                Vec::new()
            }
        }
    }

    /// Shows the repair progress (done / total) in the gaps while a fetch runs.
    pub fn set_progress(&self, progress: Option<(u64, u64)>) {
        let changed = {
            let mut state = self.state.borrow_mut();
            std::mem::replace(&mut state.progress, progress) != progress
        };
        // Unchanged progress changes no row: no render (each one mounts and measures).
        if changed {
            self.render();
        }
    }

    /// Scrolls to the newest message and keeps following new ones.
    pub fn jump_to_latest(&self) {
        self.state.borrow_mut().stick_to_bottom = true;
        self.render();
        (self.events.on_new_below)(false);
    }

    /// How many rows are in the DOM (the virtualization at work).
    pub fn mounted_rows(&self) -> usize {
        self.state.borrow().mounted.len()
    }

    fn listen(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let handler = Closure::<dyn FnMut()>::new(move || {
            if let Some(list) = weak.upgrade() {
                list.schedule_frame();
            }
        });
        let _ = self
            .scroller
            .add_event_listener_with_callback("scroll", handler.as_ref().unchecked_ref());
        *self.on_scroll.borrow_mut() = Some(handler);
        // Retry and delete on failed messages, edit and delete on stored ones: one listener
        // for every row.
        let weak = Rc::downgrade(self);
        let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(list) = weak.upgrade() else {
                return;
            };
            let Some(button) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|t| t.closest("[data-action]").ok().flatten())
            else {
                return;
            };
            let seq = button
                .get_attribute("data-seq")
                .and_then(|s| s.parse::<Seq>().ok());
            match (button.get_attribute("data-action").as_deref(), seq) {
                (Some("edit"), Some(seq)) => (list.events.on_message)(seq, MessageAction::Edit),
                (Some("redact"), Some(seq)) => (list.events.on_message)(seq, MessageAction::Delete),
                (Some(action @ ("retry" | "delete")), _) => {
                    let id = button
                        .get_attribute("data-client-temp-id")
                        .unwrap_or_default();
                    (list.events.on_outbox)(id, action == "retry");
                }
                _ => {}
            }
        });
        let _ = self
            .canvas
            .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        *self.on_click.borrow_mut() = Some(on_click);
        // Window resizes change the viewport height and the rows' wrapping.
        let weak = Rc::downgrade(self);
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            if let Some(list) = weak.upgrade() {
                list.state.borrow_mut().measured.clear();
                list.schedule_frame();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
        }
        *self.on_resize.borrow_mut() = Some(on_resize);
    }

    /// Coalesces scroll events into one render per animation frame.
    fn schedule_frame(self: &Rc<Self>) {
        if self.frame_pending.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let callback = Closure::once_into_js(move || {
            if let Some(list) = weak.upgrade() {
                list.frame_pending.set(false);
                list.on_scrolled();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }
    }

    fn on_scrolled(self: &Rc<Self>) {
        {
            let mut state = self.state.borrow_mut();
            let top = f64::from(self.scroller.scroll_top());
            let height = f64::from(self.scroller.client_height());
            state.stick_to_bottom = top + height >= state.heights.total() - BOTTOM_SLACK_PX;
        }
        if self.state.borrow().stick_to_bottom {
            (self.events.on_new_below)(false);
        }
        self.render();
    }

    fn apply_record(&self, record: Option<ChatRecord>, pending: Vec<OutboxEntry>) {
        self.note_reader_scroll();
        let mut state = self.state.borrow_mut();
        let held = record.as_ref().map(readable_held).unwrap_or_default();
        let backend_last = record
            .as_ref()
            .filter(|r| r.backend_last_seq_known)
            .map(|r| r.backend_last_seq);
        let timeline = Timeline::new(&held, backend_last);
        if timeline == state.timeline && state.record.is_some() && pending == state.pending {
            state.record = record;
            return;
        }
        let pending_grew = pending.len() > state.pending.len();
        // Keep the reader's place: the first message on screen stays where it is on screen
        // (a skeleton above it may be filled or older history prepended); without a message
        // on screen, the row at the top, found again by key or by the seqs it covered.
        let anchor = if state.stick_to_bottom || state.timeline.is_empty() {
            None
        } else {
            let top = f64::from(self.scroller.scroll_top());
            let bottom = top + f64::from(self.scroller.client_height());
            let first = state.heights.index_at(top);
            let message = (first..state.timeline.len())
                .take_while(|&i| state.heights.offset(i) < bottom)
                .find(|&i| matches!(state.timeline.row(i), Some(Row::Message(_))));
            let index = message.unwrap_or(first);
            state
                .timeline
                .row(index)
                .map(|row| (row, top - state.heights.offset(index)))
        };
        state.pending = pending;
        let previous_newest = state.timeline_newest();
        state.timeline = timeline;
        let heights: Vec<f64> = (0..state.len())
            .map(|i| {
                let key = state.key_at(i);
                state
                    .measured
                    .get(&key)
                    .copied()
                    .unwrap_or_else(|| match state.row_at(i) {
                        Some(ListRow::Timeline(row)) => estimate_row(&state, &self.viewer, &row),
                        _ => 64.0,
                    })
            })
            .collect();
        state.heights = RowHeights::new(heights);
        if pending_grew {
            // The agent just sent: show it.
            state.stick_to_bottom = true;
        }
        state.record = record;
        state.older_asked = false;
        if let Some((row, delta)) = anchor {
            let index = state
                .timeline
                .index_of_key(row.key())
                .or_else(|| match row {
                    Row::Gap(range) | Row::Older(range) => state.timeline.index_of_seq(range.end),
                    Row::Message(seq) => state.timeline.index_of_seq(seq),
                });
            if let Some(index) = index {
                let top = state.heights.offset(index) + delta;
                drop(state);
                self.set_canvas_height();
                self.scroller.set_scroll_top(top.round() as i32);
                state = self.state.borrow_mut();
            }
        }
        let newest = state.timeline_newest();
        if !state.stick_to_bottom && newest > previous_newest && previous_newest > 0 {
            drop(state);
            (self.events.on_new_below)(true);
        }
    }

    /// Scrolls so the row showing `seq` (its message, or the skeleton covering it) is near
    /// the top of the viewport.
    pub fn scroll_to_seq(&self, seq: Seq) {
        let top = {
            let state = self.state.borrow();
            let Some(index) = state.timeline.index_of_seq(seq) else {
                return;
            };
            (state.heights.offset(index) - 48.0).max(0.0)
        };
        self.set_canvas_height();
        self.scroller.set_scroll_top(top.round() as i32);
        self.state.borrow_mut().stick_to_bottom = false;
    }

    /// Screen readers (the canvas is an ARIA feed), find-in-page and copying follow the DOM,
    /// not the transforms that place the rows: the mounted rows stay in the DOM in list
    /// order. Each new row goes in before the first mounted row after it; the rows kept were
    /// already in order, and should they not be (a key whose place changed), all are put back
    /// in order.
    fn keep_dom_order(&self, state: &State, fresh: &mut [(usize, ListKey)]) {
        fresh.sort_by_key(|(index, _)| *index);
        for (index, key) in fresh.iter() {
            let Some(row) = state.mounted.get(key) else {
                continue;
            };
            let next = state
                .mounted
                .values()
                .filter(|m| m.index > *index)
                .min_by_key(|m| m.index)
                .map(|m| m.el.clone());
            let next: Option<&web_sys::Node> = next.as_ref().map(|el| el.as_ref());
            let _ = self.canvas.insert_before(&row.el, next);
        }
        let mut rows: Vec<&Mounted> = state.mounted.values().collect();
        rows.sort_by_key(|m| m.index);
        let in_order = rows
            .windows(2)
            .all(|pair| pair[0].el.next_element_sibling().as_ref() == Some(pair[1].el.as_ref()));
        if !in_order {
            for row in rows {
                let _ = self.canvas.append_child(&row.el);
            }
        }
    }

    fn set_canvas_height(&self) {
        let mut state = self.state.borrow_mut();
        let total = state.heights.total();
        if (total - state.canvas_height).abs() > 0.5 {
            state.canvas_height = total;
            let _ = self
                .canvas
                .style()
                .set_property("height", &format!("{total}px"));
        }
    }

    fn visible_indices(&self, state: &State) -> std::ops::Range<usize> {
        let top = f64::from(self.scroller.scroll_top());
        let height = f64::from(self.scroller.client_height());
        let overscan = if self.lean.get() { 0.0 } else { OVERSCAN_PX };
        state.heights.visible(top, height, overscan)
    }

    /// One synchronous pass: mount the rows in view, unmount the others, measure the new
    /// ones, keep the reader's position, repeat until the rows in view stop changing.
    pub fn render(&self) {
        self.note_reader_scroll();
        for _ in 0..4 {
            let stable = self.render_pass();
            if stable {
                break;
            }
        }
        self.state.borrow_mut().last_top = f64::from(self.scroller.scroll_top());
        self.after_render();
    }

    /// A render can run (after a read or a merge) before the scroll event's frame: if the
    /// reader moved since the last render, follow the bottom only if they are still there.
    fn note_reader_scroll(&self) {
        let top = f64::from(self.scroller.scroll_top());
        let height = f64::from(self.scroller.client_height());
        let mut state = self.state.borrow_mut();
        if (top - state.last_top).abs() > 1.0 {
            state.stick_to_bottom = top + height >= state.heights.total() - BOTTOM_SLACK_PX;
            state.last_top = top;
        }
    }

    fn render_pass(&self) -> bool {
        self.set_canvas_height();
        if self.state.borrow().stick_to_bottom {
            let total = self.state.borrow().heights.total();
            let height = f64::from(self.scroller.client_height());
            self.scroller
                .set_scroll_top((total - height).max(0.0).ceil() as i32);
        }
        let top = f64::from(self.scroller.scroll_top());
        let mut state = self.state.borrow_mut();
        let range = self.visible_indices(&state);
        let bottom = top + f64::from(self.scroller.client_height());
        // The anchor is the topmost row the reader already saw on screen (mounted before this
        // pass with its content, and visible); rows measured around it, placeholders filled
        // above it, must not move it. Without one, the row at the top of the viewport.
        let anchor_index = state
            .mounted
            .iter()
            .filter(|(_, m)| !matches!(m.content, RowContent::Reading(_)))
            .filter_map(|(key, _)| state.index_of_key(key))
            .filter(|&i| {
                let start = state.heights.offset(i);
                start + state.heights.height(i) > top && start < bottom
            })
            .min()
            .unwrap_or_else(|| state.heights.index_at(top));
        let anchor_delta = top - state.heights.offset(anchor_index);

        let mut wanted: Vec<(usize, ListKey, RowContent)> = Vec::with_capacity(range.len());
        for index in range.clone() {
            let content = match state.row_at(index) {
                Some(ListRow::Timeline(row)) => content_of(&state, &self.viewer, &row),
                Some(ListRow::Pending(k)) => {
                    let entry = state.pending[k].clone();
                    let previews = entry
                        .attachments
                        .iter()
                        .map(|a| state.previews.get(&a.media_id).cloned().unwrap_or_default())
                        .collect();
                    RowContent::Pending(entry, previews)
                }
                None => continue,
            };
            wanted.push((index, state.key_at(index), content));
        }
        let keep: std::collections::HashSet<ListKey> = wanted.iter().map(|w| w.1.clone()).collect();
        let gone: Vec<ListKey> = state
            .mounted
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(mounted) = state.mounted.remove(&key) {
                mounted.el.remove();
            }
        }
        let mut fresh: Vec<(usize, ListKey)> = Vec::new();
        for (index, key, content) in wanted {
            let rebuild = state.mounted.get(&key).is_none_or(|m| m.content != content);
            if rebuild {
                let el = row_dom::build(&self.document, &content);
                let _ = el.style().set_property("top", "0px");
                if let Some(old) = state.mounted.remove(&key) {
                    old.el.remove();
                }
                let _ = self.canvas.append_child(&el);
                state.mounted.insert(
                    key.clone(),
                    Mounted {
                        el,
                        index,
                        top: -1.0,
                        content,
                    },
                );
                fresh.push((index, key));
            } else if let Some(mounted) = state.mounted.get_mut(&key) {
                mounted.index = index;
            }
        }
        self.keep_dom_order(&state, &mut fresh);
        // Measure the new rows (one layout for all of them), then correct the estimates.
        let mut changed = false;
        for (index, key) in &fresh {
            let Some(mounted) = state.mounted.get(key) else {
                continue;
            };
            let height = f64::from(mounted.el.offset_height());
            if height <= 0.0 {
                continue;
            }
            let reading = matches!(mounted.content, RowContent::Reading(_));
            if !reading {
                state.measured.insert(key.clone(), height);
            }
            if state.heights.set(*index, height) != 0.0 {
                changed = true;
            }
        }
        // Place every mounted row at its offset.
        let placements: Vec<(ListKey, f64)> = state
            .mounted
            .iter()
            .map(|(key, m)| (key.clone(), state.heights.offset(m.index)))
            .collect();
        for (key, top) in placements {
            if let Some(mounted) = state.mounted.get_mut(&key) {
                if (mounted.top - top).abs() > 0.25 {
                    mounted.top = top;
                    let _ = mounted
                        .el
                        .style()
                        .set_property("transform", &format!("translateY({top}px)"));
                }
            }
        }
        let stick = state.stick_to_bottom;
        let new_top = state.heights.offset(anchor_index) + anchor_delta;
        drop(state);
        if changed {
            self.set_canvas_height();
            if !stick && (new_top - top).abs() > 0.5 {
                self.scroller.set_scroll_top(new_top.round() as i32);
            }
        }
        !changed
    }

    /// After the rows are placed: read missing messages, ask for older history when its row
    /// is on screen, report what the reader has seen.
    fn after_render(&self) {
        let (unread, older_visible, seen, viewport) = {
            let state = self.state.borrow();
            let top = f64::from(self.scroller.scroll_top());
            let height = f64::from(self.scroller.client_height());
            let overscanned = self.visible_indices(&state);
            let unread = state.not_loaded(state.timeline.message_seqs(overscanned.clone()));
            let on_screen = state.heights.visible(top, height, 0.0);
            let older_visible = !state.older_asked
                && overscanned.start == 0
                && matches!(state.timeline.row(0), Some(Row::Older(_)));
            let seqs = state.timeline.message_seqs(on_screen);
            let viewport = match (seqs.min(), seqs.max()) {
                (Some(a), Some(b)) => Some(SeqRange::new(a, b)),
                _ => None,
            };
            (unread, older_visible, seqs.max(), viewport)
        };
        if !unread.is_empty() {
            self.schedule_read(unread);
        }
        if older_visible {
            self.state.borrow_mut().older_asked = true;
            (self.events.on_older)();
        }
        if let Some(seq) = seen {
            let newer = {
                let mut state = self.state.borrow_mut();
                let newer = seq > state.newest_seen;
                state.newest_seen = state.newest_seen.max(seq);
                newer
            };
            if newer {
                (self.events.on_read)(seq);
            }
        }
        let changed_viewport = {
            let mut state = self.state.borrow_mut();
            let changed = state.last_viewport != viewport;
            state.last_viewport = viewport;
            changed
        };
        if changed_viewport {
            (self.events.on_viewport)(viewport);
        }
    }

    /// Reads messages not in memory yet, one read at a time, then renders again.
    fn schedule_read(&self, wanted: SeqRanges) {
        if self.reading.replace(true) {
            self.read_again.set(true);
            return;
        }
        let (Some(min), Some(max)) = (wanted.min(), wanted.max()) else {
            self.reading.set(false);
            return;
        };
        let held = {
            let state = self.state.borrow();
            state.record.as_ref().map(readable_held).unwrap_or_default()
        };
        let window = SeqRange::new(min.saturating_sub(READ_MARGIN).max(1), max + READ_MARGIN);
        // The list is owned by its view; a read finishing after the view closed keeps it
        // alive only until the read ends.
        let Some(list) = self.self_rc() else {
            self.reading.set(false);
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(error) = list.read_messages(&held, window).await {
                tracing::warn!(chat = %list.request_id, %error, "could not read cached messages");
            }
            list.reading.set(false);
            list.render();
            if list.read_again.replace(false) {
                list.render();
            }
        });
    }

    fn self_rc(&self) -> Option<Rc<Self>> {
        self.me.borrow().upgrade()
    }

    /// Reads the held messages within `window` into memory, in reads of at most
    /// [`MAX_READ`], and drops loaded messages far from it when memory holds too many.
    async fn read_messages(&self, held: &SeqRanges, window: SeqRange) -> Result<(), SyncError> {
        // What is read already stays (a change notice that replaced messages cleared it).
        let wanted = self
            .state
            .borrow()
            .not_loaded(held.intersection(&SeqRanges::from_range(window)));
        for range in wanted.ranges() {
            let mut start = range.start;
            while start <= range.end {
                let end = range.end.min(start + MAX_READ - 1);
                let read = self
                    .runtime
                    .store()
                    .range(&self.request_id, SeqRange::new(start, end))
                    .await?;
                let mut state = self.state.borrow_mut();
                for message in read.messages {
                    state.messages.insert(message.seq, message);
                }
                start = end + 1;
            }
        }
        let mut state = self.state.borrow_mut();
        if state.messages.len() > KEEP_MESSAGES {
            let lo = window.start.saturating_sub(KEEP_MESSAGES as u64 / 3);
            let hi = window.end + KEEP_MESSAGES as u64 / 3;
            state.messages.retain(|seq, _| (lo..=hi).contains(seq));
        }
        Ok(())
    }
}

impl Drop for MessageList {
    fn drop(&mut self) {
        for url in self.state.borrow().previews.values() {
            let _ = web_sys::Url::revoke_object_url(url);
        }
        if let Some(handler) = self.on_scroll.borrow_mut().take() {
            let _ = self
                .scroller
                .remove_event_listener_with_callback("scroll", handler.as_ref().unchecked_ref());
        }
        if let Some(handler) = self.on_click.borrow_mut().take() {
            let _ = self
                .canvas
                .remove_event_listener_with_callback("click", handler.as_ref().unchecked_ref());
        }
        // The window outlives every chat view: without this, each opened chat would leave a
        // listener (and its closure) behind.
        if let (Some(handler), Some(window)) =
            (self.on_resize.borrow_mut().take(), web_sys::window())
        {
            let _ = window
                .remove_event_listener_with_callback("resize", handler.as_ref().unchecked_ref());
        }
    }
}

impl State {
    /// `seqs` without the messages already read into memory.
    fn not_loaded(&self, mut seqs: SeqRanges) -> SeqRanges {
        let loaded: Vec<Seq> = seqs
            .ranges()
            .iter()
            .flat_map(|r| r.start..=r.end)
            .filter(|seq| self.messages.contains_key(seq))
            .collect();
        for seq in loaded {
            seqs.remove_range(SeqRange::new(seq, seq));
        }
        seqs
    }

    /// Rows in the list: the timeline, then the unsent messages.
    fn len(&self) -> usize {
        self.timeline.len() + self.pending.len()
    }

    fn row_at(&self, index: usize) -> Option<ListRow> {
        match self.timeline.row(index) {
            Some(row) => Some(ListRow::Timeline(row)),
            None => {
                let k = index.checked_sub(self.timeline.len())?;
                (k < self.pending.len()).then_some(ListRow::Pending(k))
            }
        }
    }

    fn key_at(&self, index: usize) -> ListKey {
        match self.row_at(index) {
            Some(ListRow::Timeline(row)) => ListKey::Row(row.key()),
            Some(ListRow::Pending(k)) => ListKey::Pending(self.pending[k].client_temp_id.clone()),
            None => ListKey::Pending(String::new()),
        }
    }

    fn index_of_key(&self, key: &ListKey) -> Option<usize> {
        match key {
            ListKey::Row(key) => self.timeline.index_of_key(*key),
            ListKey::Pending(id) => self
                .pending
                .iter()
                .position(|e| &e.client_temp_id == id)
                .map(|k| self.timeline.len() + k),
        }
    }

    fn timeline_newest(&self) -> Seq {
        self.timeline
            .row(self.timeline.len().saturating_sub(1))
            .map_or(0, |row| match row {
                Row::Message(seq) => seq,
                Row::Gap(range) | Row::Older(range) => range.end,
            })
    }
}

/// The first unread message when the chat opens: the newest `unread` messages are the unread
/// ones, never at or below the stored read position.
fn first_unread(record: &ChatRecord) -> Option<Seq> {
    if record.unread == 0 {
        return None;
    }
    let newest = record.held.max()?;
    let first = (newest + 1)
        .saturating_sub(u64::from(record.unread))
        .max(record.read_seq + 1);
    (first <= newest).then_some(first)
}

fn estimate_row(state: &State, viewer: &Viewer, row: &Row) -> f64 {
    match row {
        // The row as it will be built (its group header, day separator and actions), so a
        // run of new messages from one sender is not estimated a header each: estimates that
        // match let one render pass place the new bottom instead of several.
        Row::Message(seq) if state.messages.contains_key(seq) => {
            row_dom::estimate(&content_of(state, viewer, row))
        }
        Row::Message(_) => 64.0,
        other => row_dom::estimate_skeleton(other),
    }
}

fn content_of(state: &State, viewer: &Viewer, row: &Row) -> RowContent {
    match *row {
        Row::Message(seq) => match state.messages.get(&seq) {
            Some(message) => {
                let previous = seq
                    .checked_sub(1)
                    .and_then(|p| state.messages.get(&p))
                    .filter(|p| state.timeline.index_of_seq(p.seq).is_some());
                let offset = format::utc_offset_minutes(message.created_at);
                let group_start = starts_group(
                    previous.map(|p| (p.sender.id.as_str(), p.created_at)),
                    (message.sender.id.as_str(), message.created_at),
                    offset,
                );
                let new_day = previous.is_none_or(|p| {
                    chat_sync::timeline::local_day(p.created_at, offset)
                        != chat_sync::timeline::local_day(message.created_at, offset)
                });
                let own = message.sender.id == viewer.id;
                let closed = state.record.as_ref().is_some_and(|r| r.closed);
                RowContent::Message(MessageRow {
                    message: message.clone(),
                    group_start,
                    day: new_day
                        .then(|| format::day(message.created_at, js_sys::Date::now() as i64)),
                    first_unread: state.first_unread == Some(seq),
                    own,
                    can_edit: own && !message.deleted && !closed,
                    can_delete: (own || viewer.agent) && !message.deleted,
                })
            }
            None => RowContent::Reading(seq),
        },
        Row::Gap(_) => RowContent::Skeleton {
            row: *row,
            progress: state.progress,
        },
        Row::Older(_) => RowContent::Skeleton {
            row: *row,
            progress: None,
        },
    }
}
