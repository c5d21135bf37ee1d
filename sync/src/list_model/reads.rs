//! What the list reads from the store and what it reports: the messages to read for a window
//! (never those already in memory), the windows a refresh reads, which messages memory lets go
//! of, what a change notice means for the copies already read, and after each render what the
//! reader has seen.

use std::ops::Range;

use super::{
    ListModel, Viewport, KEEP_MESSAGES, NEWEST_READ, OVERSCAN_PX, READ_AHEAD_PX, READ_MARGIN,
};
use crate::ingest::Written;
use crate::notice::{ChangeNotice, NoticeSource};
use crate::outbox::OutboxEntry;
use crate::ranges::{SeqRange, SeqRanges};
use crate::store::MAX_READ;
use crate::timeline::Row;
use crate::types::{ChatRecord, Message, Seq};

/// The first unread message when the chat opens: the newest `unread` messages are the unread
/// ones, never at or below the stored read position.
pub fn first_unread(record: &ChatRecord) -> Option<Seq> {
    if record.unread == 0 {
        return None;
    }
    let newest = record.held.max()?;
    let first = (newest + 1)
        .saturating_sub(u64::from(record.unread))
        .max(record.read_seq + 1);
    (first <= newest).then_some(first)
}

/// The messages to read before the first screen is built: around the first unread message,
/// or the newest ones (none in an empty chat).
pub fn opening_window(first_unread: Option<Seq>, held: &SeqRanges) -> Option<SeqRange> {
    let around = first_unread.or(held.max())?;
    Some(SeqRange::new(
        around.saturating_sub(READ_MARGIN).max(1),
        around.saturating_add(NEWEST_READ),
    ))
}

/// The newest messages up to `newest`: what a reader at the bottom waits for.
fn newest_window(newest: Seq) -> SeqRange {
    SeqRange::new(newest.saturating_sub(NEWEST_READ).max(1), newest)
}

/// What the committed changes since the last refresh mean for the list, gathered from their
/// notices until the refresh takes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotedChanges {
    /// A change replaced, erased or reloaded messages that may be in memory.
    stale: bool,
    /// The newest message a change added.
    newest_added: Option<Seq>,
    /// Whether any change was noted at all.
    noted: bool,
    /// A change touched the chat's unsent messages (queued, sent, confirmed, discarded).
    outbox: bool,
}

impl NotedChanges {
    /// Notes a committed change of the chat: messages added keep what is read in memory (the
    /// refresh reads only what is new); messages replaced, erased or reloaded make the next
    /// refresh read what is on screen again.
    pub fn note(&mut self, notice: &ChangeNotice) {
        self.noted = true;
        if notice.source == NoticeSource::Outbox
            || !notice.confirmed_outbox.is_empty()
            || notice.revoked
            || notice.discarded_outbox > 0
        {
            self.outbox = true;
        }
        if !notice.keeps_read_messages() {
            self.stale = true;
        }
        if let Some(newest) = notice.new_seqs.iter().max() {
            self.newest_added = Some(self.newest_added.map_or(*newest, |n| n.max(*newest)));
        }
    }

    /// Whether the refresh reads the chat's unsent messages again: when a change touched
    /// them, and when no change was noted (a refresh for another reason knows nothing).
    pub fn reads_outbox(&self) -> bool {
        !self.noted || self.outbox
    }

    /// Notes a change whose effect on memory is not known: a write handed over before its
    /// commit that then failed ([`ListModel::keep_written`]), or one that came while the
    /// list was being opened, before or after its first read. What was handed is dropped and
    /// everything, the unsent messages too, is read again.
    pub fn note_unknown(&mut self) {
        self.noted = true;
        self.stale = true;
        self.outbox = true;
    }

    /// Adds what `other` noted: the changes a refresh took and then could not lay out (a
    /// write handed over while it read) are noted again for the refresh after it.
    pub fn merge(&mut self, other: NotedChanges) {
        self.noted |= other.noted;
        self.stale |= other.stale;
        self.outbox |= other.outbox;
        self.newest_added = match (self.newest_added, other.newest_added) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Whether any change was noted since the last refresh took them.
    pub fn any(&self) -> bool {
        self.noted
    }

    /// Whether the messages in memory must be dropped and read again.
    pub fn stale(&self) -> bool {
        self.stale
    }

    /// The newest messages the notices named, read beside the chat record rather than after
    /// it (they are what a reader at the bottom waits for); none when memory is stale, since
    /// everything on screen is read again then.
    pub fn early_read(&self) -> Option<SeqRange> {
        self.newest_added.filter(|_| !self.stale).map(newest_window)
    }
}

/// When a refresh began reading, against the writes handed over ([`ListModel::read_mark`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadMark(u64);

/// The windows a refresh reads (beside what is in memory): what is on screen and the newest
/// messages, so a reader at the bottom sees new ones at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshReads {
    /// The screen reaches the newest messages (the reader is at the bottom): one read.
    Joined(SeqRange),
    /// The screen and the newest messages apart: two reads side by side.
    Apart {
        /// The messages on screen, if any.
        screen: Option<SeqRange>,
        /// The newest messages, if the chat holds any.
        bottom: Option<SeqRange>,
    },
}

/// What a render found for the list to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterRender {
    /// Messages among the mounted rows not in memory: read them, then render again.
    pub read: SeqRanges,
    /// The older-history row came into view: fetch a page of older history (asked once per
    /// change of the chat).
    pub ask_older: bool,
    /// The newest message on screen, when newer than any the reader saw before (a read mark).
    pub newly_seen: Option<Seq>,
    /// The seqs on screen, when they changed since the last render (gaps there are fetched
    /// first).
    pub shown_changed: Option<Option<SeqRange>>,
}

impl ListModel {
    /// `seqs` without the messages already read into memory.
    pub fn not_loaded(&self, mut seqs: SeqRanges) -> SeqRanges {
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

    /// The store reads that bring the held messages within `window` into memory: only those
    /// not read yet (a change notice that replaced messages cleared them), in reads of at
    /// most [`MAX_READ`].
    pub fn reads_for(&self, held: &SeqRanges, window: SeqRange) -> Vec<SeqRange> {
        let wanted = self.not_loaded(held.intersection(&SeqRanges::from_range(window)));
        let mut reads = Vec::new();
        for range in wanted.ranges() {
            let mut start = range.start;
            loop {
                let end = range.end.min(start.saturating_add(MAX_READ - 1));
                reads.push(SeqRange::new(start, end));
                if end >= range.end {
                    break;
                }
                start = end + 1;
            }
        }
        reads
    }

    /// The window read for messages a render wanted and memory lacked: them and
    /// [`READ_MARGIN`] on each side, so the next frames of a scroll find theirs in memory.
    pub fn read_window(wanted: &SeqRanges) -> Option<SeqRange> {
        let (min, max) = (wanted.min()?, wanted.max()?);
        Some(SeqRange::new(
            min.saturating_sub(READ_MARGIN).max(1),
            max.saturating_add(READ_MARGIN),
        ))
    }

    /// The windows a refresh reads, given the rows `visible` now and the chat's `held`
    /// messages: what is on screen, and the newest messages, joined when they touch.
    pub fn refresh_reads(&self, visible: Range<usize>, held: &SeqRanges) -> RefreshReads {
        let visible = self.timeline.message_seqs(visible);
        let bottom = held.max().map(newest_window);
        let screen = visible
            .min()
            .zip(visible.max())
            .map(|(min, max)| SeqRange::new(min, max));
        match (screen, bottom) {
            (Some(screen), Some(bottom)) if screen.end.saturating_add(1) >= bottom.start => {
                RefreshReads::Joined(SeqRange::new(
                    screen.start.min(bottom.start),
                    bottom.end.max(screen.end),
                ))
            }
            (screen, bottom) => RefreshReads::Apart { screen, bottom },
        }
    }

    /// Keeps messages read from the store.
    pub fn insert_messages(&mut self, messages: impl IntoIterator<Item = Message>) {
        for message in messages {
            self.messages.insert(message.seq, message);
        }
    }

    /// Keeps messages its context has just stored for the first time, handed over in memory
    /// instead of read back: a seq already in memory keeps its copy (a read that finished
    /// first holds what the store says now).
    pub fn keep_committed(&mut self, messages: &[Message]) {
        for message in messages {
            self.messages
                .entry(message.seq)
                .or_insert_with(|| message.clone());
        }
    }

    /// Keeps what its context is writing ([`Written`]): the new messages in memory, as
    /// [`ListModel::keep_committed`] does; returns the unsent messages still to show once the
    /// write's echoes confirmed theirs, for the caller to lay out with the written record.
    /// Counted, so a refresh whose reads began before it does not lay out the older record it
    /// read ([`ListModel::may_apply_read`]).
    pub fn keep_written(&mut self, written: &Written) -> Vec<OutboxEntry> {
        self.writes_kept += 1;
        self.keep_committed(&written.messages);
        self.pending
            .iter()
            .filter(|e| !written.confirmed_outbox.contains(&e.client_temp_id))
            .cloned()
            .collect()
    }

    /// Taken when a refresh starts reading the chat record.
    pub fn read_mark(&self) -> ReadMark {
        ReadMark(self.writes_kept)
    }

    /// Whether a refresh that started at `mark` may lay out the record it read: not when a
    /// write was handed over since, because its read may predate that write. The write's own
    /// notice (or the report of its failure) brings the refresh that reads after it.
    pub fn may_apply_read(&self, mark: ReadMark) -> bool {
        mark.0 == self.writes_kept
    }

    /// Drops every message in memory: a change replaced or erased some, and a copy kept
    /// could show what the store no longer says.
    pub fn clear_messages(&mut self) {
        self.messages.clear();
    }

    /// When memory holds more than [`KEEP_MESSAGES`], drops the messages far from `window`
    /// (the one just read); they are read again when they come into view.
    pub fn forget_far_messages(&mut self, window: SeqRange) {
        if self.messages.len() > KEEP_MESSAGES {
            let lo = window.start.saturating_sub(KEEP_MESSAGES as u64 / 3);
            let hi = window.end.saturating_add(KEEP_MESSAGES as u64 / 3);
            self.messages.retain(|seq, _| (lo..=hi).contains(seq));
        }
    }

    /// After the rows `overscanned` are placed for `viewport`: what to read (the messages of
    /// those rows and of the rows [`READ_AHEAD_PX`] beyond them, so a scroll finds its rows
    /// read when it mounts them), whether to ask for older history, what the reader has
    /// seen. Notes each as reported, so the next render reports only what changed.
    pub fn after_render(&mut self, viewport: Viewport, overscanned: Range<usize>) -> AfterRender {
        // A wider margin around the same viewport: it holds the overscanned rows too.
        let ahead =
            self.heights
                .visible(viewport.top, viewport.height, OVERSCAN_PX + READ_AHEAD_PX);
        let read = self.not_loaded(self.timeline.message_seqs(ahead));
        let on_screen = self.heights.visible(viewport.top, viewport.height, 0.0);
        let ask_older = !self.older_asked
            && overscanned.start == 0
            && matches!(self.timeline.row(0), Some(Row::Older(_)));
        let seqs = self.timeline.message_seqs(on_screen);
        let shown = seqs.min().zip(seqs.max()).map(|(a, b)| SeqRange::new(a, b));
        if ask_older {
            self.older_asked = true;
        }
        let newly_seen = seqs.max().filter(|&seq| seq > self.newest_seen);
        if let Some(seq) = newly_seen {
            self.newest_seen = seq;
        }
        let shown_changed = (self.last_viewport != shown).then_some(shown);
        self.last_viewport = shown;
        AfterRender {
            read,
            ask_older,
            newly_seen,
            shown_changed,
        }
    }
}
