//! Keeping the reader's place: which row stays fixed on screen while rows above it are
//! measured, filled or prepended, the scroll position that keeps it there, and whether the
//! reader follows the newest message at the bottom.
//!
//! Two moments move rows under the reader. A new chat record (older history prepended, a gap
//! filled, messages arrived) lays the list out anew: the first message on screen keeps its
//! place on screen. A render measures rows whose heights were estimates: the topmost row the
//! reader already saw keeps its place. Either way the DOM layer sets the scroll position the
//! model returns, in the same frame, so nothing jumps.

use super::{
    ListKey, ListModel, ListRow, Viewport, BOTTOM_SLACK_PX, SCROLL_TO_MARGIN_PX, UNKNOWN_ROW_PX,
};
use crate::outbox::OutboxEntry;
use crate::ranges::SeqRanges;
use crate::row_heights::RowHeights;
use crate::timeline::{Row, Timeline};
use crate::types::{ChatRecord, Seq};

/// The row a render keeps in place, and how far the viewport's top was below its start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    /// The row's index.
    pub index: usize,
    /// The viewport's top minus the row's offset when the anchor was taken.
    pub delta: f64,
}

/// What applying a chat record asks of the DOM layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Applied {
    /// Scroll here (after sizing the list) so the reader's row stays where it was on screen.
    pub scroll_to: Option<f64>,
    /// Newer messages arrived below a reader scrolled up: say so.
    pub new_below: bool,
}

impl ListModel {
    /// Whether `viewport` reaches the bottom of the list (within [`BOTTOM_SLACK_PX`]).
    pub fn at_bottom(&self, viewport: Viewport) -> bool {
        viewport.bottom() >= self.heights.total() - BOTTOM_SLACK_PX
    }

    /// The reader scrolled: they follow new messages exactly when they are at the bottom.
    /// Returns whether they do.
    pub fn note_scroll(&mut self, viewport: Viewport) -> bool {
        self.stick_to_bottom = self.at_bottom(viewport);
        self.stick_to_bottom
    }

    /// Before a render or a new record: a render can run (after a read or a merge) before the
    /// scroll event's frame, so if the reader moved since the last render, they follow the
    /// bottom only if they are still there.
    pub fn note_reader_scroll(&mut self, viewport: Viewport) {
        if (viewport.top - self.last_top).abs() > 1.0 {
            self.stick_to_bottom = self.at_bottom(viewport);
            self.last_top = viewport.top;
        }
    }

    /// After a render: the scroll position it left, to tell the reader's own scrolling from
    /// the list's.
    pub fn rendered_at(&mut self, top: f64) {
        self.last_top = top;
    }

    /// Follows the newest message from now on (the reader asked to jump to it).
    pub fn follow_bottom(&mut self) {
        self.stick_to_bottom = true;
    }

    /// The scroll position that shows the bottom of the list in a viewport `height` tall,
    /// when the reader follows the bottom.
    pub fn stuck_top(&self, height: f64) -> Option<f64> {
        self.stick_to_bottom
            .then(|| (self.heights.total() - height).max(0.0).ceil())
    }

    /// The scroll position that puts the row showing `seq` (its message, or the skeleton
    /// covering it) near the top of the viewport; the reader then stops following the
    /// bottom. `None`, changing nothing, when no row shows it.
    pub fn scroll_to_seq(&mut self, seq: Seq) -> Option<f64> {
        let index = self.timeline.index_of_seq(seq)?;
        self.stick_to_bottom = false;
        Some((self.heights.offset(index) - SCROLL_TO_MARGIN_PX).max(0.0))
    }

    /// The row a render keeps in place: the topmost row the reader already saw on screen
    /// (one of `seen`, the rows mounted with their content), since rows measured around it
    /// and placeholders filled above it must not move it; without one, the row at the top
    /// of the viewport.
    pub fn anchor<'k>(
        &self,
        viewport: Viewport,
        seen: impl IntoIterator<Item = &'k ListKey>,
    ) -> Anchor {
        let index = seen
            .into_iter()
            .filter_map(|key| self.index_of_key(key))
            .filter(|&i| {
                let start = self.heights.offset(i);
                start + self.heights.height(i) > viewport.top && start < viewport.bottom()
            })
            .min()
            .unwrap_or_else(|| self.heights.index_at(viewport.top));
        Anchor {
            index,
            delta: viewport.top - self.heights.offset(index),
        }
    }

    /// After rows were measured with the viewport's top at `top`: the scroll position that
    /// puts `anchor` back where it was, when it moved by more than half a pixel. A reader
    /// following the bottom is kept at the bottom instead.
    pub fn anchor_correction(&self, anchor: Anchor, top: f64) -> Option<f64> {
        if self.stick_to_bottom {
            return None;
        }
        let new_top = self.heights.offset(anchor.index) + anchor.delta;
        ((new_top - top).abs() > 0.5).then_some(new_top)
    }

    /// Lays the list out for a new chat `record` (its readable messages `held`) and the
    /// chat's unsent messages, keeping the reader's place. Rows keep their measured heights;
    /// the others get `estimate` (given the model with the new rows and the previous record).
    pub fn apply_record(
        &mut self,
        record: Option<ChatRecord>,
        held: &SeqRanges,
        pending: Vec<OutboxEntry>,
        viewport: Viewport,
        estimate: impl Fn(&ListModel, &Row) -> f64,
    ) -> Applied {
        let backend_last = record
            .as_ref()
            .filter(|r| r.backend_last_seq_known)
            .map(|r| r.backend_last_seq);
        let timeline = Timeline::new(held, backend_last);
        if timeline == self.timeline && self.record.is_some() && pending == self.pending {
            self.record = record;
            return Applied::default();
        }
        let pending_grew = pending.len() > self.pending.len();
        let anchor = self.reading_anchor(viewport);
        self.pending = pending;
        let previous_newest = self.timeline_newest();
        self.timeline = timeline;
        let heights: Vec<f64> = (0..self.len())
            .map(|i| {
                self.measured
                    .get(&self.key_at(i))
                    .copied()
                    .unwrap_or_else(|| match self.row_at(i) {
                        Some(ListRow::Timeline(row)) => estimate(self, &row),
                        _ => UNKNOWN_ROW_PX,
                    })
            })
            .collect();
        self.heights = RowHeights::new(heights);
        if pending_grew {
            // The agent just sent: show it.
            self.stick_to_bottom = true;
        }
        self.record = record;
        // A new record may bring a new older-history row: it is asked for again when seen.
        self.older_asked = false;
        let scroll_to = anchor.and_then(|(row, delta)| {
            // Found again by key, or else (a skeleton partly filled) by the seqs it covered.
            let index = self
                .timeline
                .index_of_key(row.key())
                .or_else(|| match row {
                    Row::Gap(range) | Row::Older(range) => self.timeline.index_of_seq(range.end),
                    Row::Message(seq) => self.timeline.index_of_seq(seq),
                })?;
            Some(self.heights.offset(index) + delta)
        });
        let newest = self.timeline_newest();
        let new_below = !self.stick_to_bottom && newest > previous_newest && previous_newest > 0;
        Applied {
            scroll_to,
            new_below,
        }
    }

    /// The reader's place before the rows change: the first message on screen (a skeleton
    /// above it may be filled, or older history prepended), or without a message on screen,
    /// the row at the top; with how far the viewport's top is below it. None when the reader
    /// follows the bottom (the bottom is their place) or the list is empty.
    fn reading_anchor(&self, viewport: Viewport) -> Option<(Row, f64)> {
        if self.stick_to_bottom || self.timeline.is_empty() {
            return None;
        }
        let first = self.heights.index_at(viewport.top);
        let message = (first..self.timeline.len())
            .take_while(|&i| self.heights.offset(i) < viewport.bottom())
            .find(|&i| matches!(self.timeline.row(i), Some(Row::Message(_))));
        let index = message.unwrap_or(first);
        self.timeline
            .row(index)
            .map(|row| (row, viewport.top - self.heights.offset(index)))
    }
}
