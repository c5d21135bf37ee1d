//! The model of a chat's virtualized message list: every decision the list makes, without
//! the DOM.
//!
//! The list in the app shows a few dozen rows of a chat that may hold 100,000 messages. Which
//! rows exist (the [`Timeline`]), how tall they are ([`RowHeights`]), which messages are in
//! memory, which to read next, which row stays fixed on screen when rows above it change,
//! whether the reader follows new messages at the bottom, and what a change notice means for
//! the messages already read are all decided here, so they are tested natively. The app's
//! DOM layer creates the row elements, measures them, listens to the browser and applies what
//! this model decided.
//!
//! The model never reads the scroll position itself: the DOM layer passes it in as a
//! [`Viewport`] and applies the positions the model returns.

use std::collections::HashMap;
use std::ops::Range;

use crate::outbox::OutboxEntry;
use crate::ranges::SeqRange;
use crate::row_heights::RowHeights;
use crate::timeline::{local_day, starts_group, Row, RowKey, Timeline};
use crate::types::{ChatRecord, Message, Millis, Seq};

mod anchor;
mod reads;
#[cfg(test)]
mod tests;

pub use anchor::{Anchor, Applied};
pub use reads::{first_unread, opening_window, AfterRender, NotedChanges, ReadMark, RefreshReads};

/// Pixels of rows kept above and below the viewport, so a fast scroll never shows blank
/// space before the next frame mounts the rows it reaches.
pub const OVERSCAN_PX: f64 = 800.0;
/// Messages read around the viewport per store read, each side. Small reads, often, keep a
/// fast scroll inside its frame budget (measured: 150 dropped one frame in twenty at
/// 1,200 px a frame, 60 drops none at p95).
pub const READ_MARGIN: u64 = 60;
/// Pixels beyond the overscan, each side, whose messages are read before they are needed.
/// A fast scroll (1,200 px a frame) reaches the overscan's edge on the next frame, so a read
/// started only for rows already in the overscan finishes after they are mounted: each row
/// was built twice (a placeholder, then the message) and measured twice. Two frames of
/// that scroll ahead, the read (one store read of about a hundred messages) is done before
/// its rows are mounted.
pub const READ_AHEAD_PX: f64 = 2_400.0;
/// Messages read at the bottom of a chat (its newest) or around the first unread one, so the
/// screen a reader lands on is read in one go.
pub const NEWEST_READ: u64 = 40;
/// Loaded messages kept in memory before the ones far from the viewport are dropped.
pub const KEEP_MESSAGES: usize = 3_000;
/// How close to the bottom (pixels) still counts as "at the latest message".
pub const BOTTOM_SLACK_PX: f64 = 24.0;
/// How far below the top of the viewport a row scrolled to stands, so the reader sees a
/// little of what came before it.
pub const SCROLL_TO_MARGIN_PX: f64 = 48.0;
/// The height given to a row whose content is not known yet (a message not read, an unsent
/// message before it is measured).
pub const UNKNOWN_ROW_PX: f64 = 64.0;

/// A row's identity in the list: a timeline row, or an unsent message by its
/// `client_temp_id` (unsent messages follow the timeline, in the order they were written).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKey {
    /// A row of the timeline (a cached message or a skeleton).
    Row(RowKey),
    /// An unsent message, by its idempotency key.
    Pending(String),
}

/// What stands at an index of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListRow {
    /// A timeline row.
    Timeline(Row),
    /// The unsent message at this position of [`ListModel::pending`].
    Pending(usize),
}

/// The part of the list the reader sees: the scroll position and the viewport's height, in
/// pixels, as the DOM layer read them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Viewport {
    /// The scroll position (the offset of the viewport's top in the list).
    pub top: f64,
    /// The viewport's height.
    pub height: f64,
}

impl Viewport {
    /// The offset of the viewport's bottom in the list.
    pub fn bottom(&self) -> f64 {
        self.top + self.height
    }
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

/// How a message row joins its neighbours and what it offers, decided from the messages in
/// memory; the DOM layer adds what needs the browser (the day's label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    /// Whether it starts a sender group (shows the sender and time).
    pub group_start: bool,
    /// Whether it starts a day (a day divider stands above it).
    pub new_day: bool,
    /// Whether the "unread" divider stands above it.
    pub first_unread: bool,
    /// Whether the viewer sent it.
    pub own: bool,
    /// Whether the row offers "Edit" (their own message, not deleted, request open).
    pub can_edit: bool,
    /// Whether the row offers "Delete" (not deleted yet, and theirs or in their chat).
    pub can_delete: bool,
}

/// The state of one chat's list: its rows, their heights, the messages in memory and where
/// the reader is.
#[derive(Clone, Debug)]
pub struct ListModel {
    timeline: Timeline,
    heights: RowHeights,
    /// Heights the browser measured, by row identity, so a row keeps its height when rows
    /// are added around it and the list is laid out again. A hash table, unlike the app's
    /// other maps (sorted `VecMap`s): it gains a row per row scrolled past, so a sorted
    /// vector's inserts would shift up to the whole chat's entries each.
    measured: HashMap<ListKey, f64>,
    messages: HashMap<Seq, Message>,
    record: Option<ChatRecord>,
    pending: Vec<OutboxEntry>,
    first_unread: Option<Seq>,
    progress: Option<(u64, u64)>,
    stick_to_bottom: bool,
    newest_seen: Seq,
    older_asked: bool,
    last_viewport: Option<SeqRange>,
    /// The scroll position the last render left; a different one means the reader scrolled.
    last_top: f64,
    /// How many writes were handed over before their commit ([`ListModel::keep_written`]).
    writes_kept: u64,
}

impl Default for ListModel {
    fn default() -> Self {
        Self::new()
    }
}

impl ListModel {
    /// An empty list that follows the bottom (a chat opens at its newest message unless it
    /// has unread ones, see [`ListModel::start_at`]).
    pub fn new() -> Self {
        Self {
            timeline: Timeline::default(),
            heights: RowHeights::default(),
            measured: HashMap::new(),
            messages: HashMap::new(),
            record: None,
            pending: Vec::new(),
            first_unread: None,
            progress: None,
            stick_to_bottom: true,
            newest_seen: 0,
            older_asked: false,
            last_viewport: None,
            last_top: 0.0,
            writes_kept: 0,
        }
    }

    /// Where the chat opens: at its first unread message (the reader then scrolls down
    /// through the new ones), or at the bottom, following new messages, when nothing is
    /// unread.
    pub fn start_at(&mut self, first_unread: Option<Seq>) {
        self.first_unread = first_unread;
        self.stick_to_bottom = first_unread.is_none();
    }

    /// The timeline rows (cached messages and skeletons).
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The heights of every row of the list, timeline and unsent messages.
    pub fn heights(&self) -> &RowHeights {
        &self.heights
    }

    /// The chat record the rows were built from.
    pub fn record(&self) -> Option<&ChatRecord> {
        self.record.as_ref()
    }

    /// The chat's unsent messages, in writing order.
    pub fn pending(&self) -> &[OutboxEntry] {
        &self.pending
    }

    /// The message `seq`, if it is in memory.
    pub fn message(&self, seq: Seq) -> Option<&Message> {
        self.messages.get(&seq)
    }

    /// How many messages are in memory.
    pub fn loaded(&self) -> usize {
        self.messages.len()
    }

    /// The repair progress (done, total) the gaps show while a fetch runs.
    pub fn progress(&self) -> Option<(u64, u64)> {
        self.progress
    }

    /// Whether the reader follows the newest message at the bottom.
    pub fn stick_to_bottom(&self) -> bool {
        self.stick_to_bottom
    }

    /// Rows in the list: the timeline, then the unsent messages.
    pub fn len(&self) -> usize {
        self.timeline.len() + self.pending.len()
    }

    /// Whether the list has no row at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What stands at `index`, if anything.
    pub fn row_at(&self, index: usize) -> Option<ListRow> {
        match self.timeline.row(index) {
            Some(row) => Some(ListRow::Timeline(row)),
            None => {
                let k = index.checked_sub(self.timeline.len())?;
                (k < self.pending.len()).then_some(ListRow::Pending(k))
            }
        }
    }

    /// The identity of the row at `index` (past the end, an empty unsent key no row has).
    pub fn key_at(&self, index: usize) -> ListKey {
        match self.row_at(index) {
            Some(ListRow::Timeline(row)) => ListKey::Row(row.key()),
            Some(ListRow::Pending(k)) => ListKey::Pending(self.pending[k].client_temp_id.clone()),
            None => ListKey::Pending(String::new()),
        }
    }

    /// Where the row with `key` stands now, if it is still in the list.
    pub fn index_of_key(&self, key: &ListKey) -> Option<usize> {
        match key {
            ListKey::Row(key) => self.timeline.index_of_key(*key),
            ListKey::Pending(id) => self
                .pending
                .iter()
                .position(|e| &e.client_temp_id == id)
                .map(|k| self.timeline.len() + k),
        }
    }

    /// The newest seq the timeline shows, as a message or inside a skeleton (0 when empty):
    /// a newer one after a change means messages arrived below.
    pub fn timeline_newest(&self) -> Seq {
        self.timeline
            .row(self.timeline.len().saturating_sub(1))
            .map_or(0, |row| match row {
                Row::Message(seq) => seq,
                Row::Gap(range) | Row::Older(range) => range.end,
            })
    }

    /// The rows to mount for `viewport`: those on screen and, unless `lean`, those within
    /// [`OVERSCAN_PX`] of it. A lean render shows new messages at the bottom sooner and
    /// leaves the rows off screen to the next frame.
    pub fn visible_indices(&self, viewport: Viewport, lean: bool) -> Range<usize> {
        let overscan = if lean { 0.0 } else { OVERSCAN_PX };
        self.heights
            .visible(viewport.top, viewport.height, overscan)
    }

    /// How the cached message `seq` joins the one above it and what the viewer may do with
    /// it, or `None` while it is not in memory. `utc_offset` gives the browser's offset from
    /// UTC (minutes east) at a time: groups and days break at local midnight.
    pub fn message_facts(
        &self,
        seq: Seq,
        viewer: &Viewer,
        utc_offset: impl FnOnce(Millis) -> i32,
    ) -> Option<(&Message, MessageFacts)> {
        let message = self.messages.get(&seq)?;
        // The message above joins this one only when it is shown right above it (not
        // hidden in a skeleton).
        let previous = seq
            .checked_sub(1)
            .and_then(|p| self.messages.get(&p))
            .filter(|p| self.timeline.index_of_seq(p.seq).is_some());
        let offset = utc_offset(message.created_at);
        let group_start = starts_group(
            previous.map(|p| (p.sender.id.as_str(), p.created_at)),
            (message.sender.id.as_str(), message.created_at),
            offset,
        );
        let new_day = previous.is_none_or(|p| {
            local_day(p.created_at, offset) != local_day(message.created_at, offset)
        });
        let own = message.sender.id == viewer.id;
        let closed = self.record.as_ref().is_some_and(|r| r.closed);
        let facts = MessageFacts {
            group_start,
            new_day,
            first_unread: self.first_unread == Some(seq),
            own,
            can_edit: own && !message.deleted && !closed,
            can_delete: (own || viewer.agent) && !message.deleted,
        };
        Some((message, facts))
    }

    /// Shows the repair progress in the gaps; whether it changed (an unchanged progress
    /// changes no row, so it needs no render).
    pub fn set_progress(&mut self, progress: Option<(u64, u64)>) -> bool {
        std::mem::replace(&mut self.progress, progress) != progress
    }

    /// Records the height the browser measured for the row `key` at `index`; `remember`
    /// keeps it for when the list is laid out again (a placeholder's height is not the
    /// row's). Returns whether the row's height changed, so the rows below move.
    pub fn measured(&mut self, index: usize, key: &ListKey, height: f64, remember: bool) -> bool {
        // A row not laid out (detached, hidden) measures 0: its estimate is better.
        if height <= 0.0 {
            return false;
        }
        if remember {
            self.measured.insert(key.clone(), height);
        }
        self.heights.set(index, height) != 0.0
    }

    /// Forgets every measured height: a resized window wraps the rows anew.
    pub fn forget_measurements(&mut self) {
        self.measured.clear();
    }
}
