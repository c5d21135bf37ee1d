//! How often the reader's position is written: scrolling through new rows reports a read
//! position up to once a frame, and each write is an IndexedDB transaction that also wakes
//! every view of every tab. [`ReadMarks`] coalesces them: the first mark is written at once,
//! later ones at most once per interval (the newest seq wins), and whatever is pending is
//! written when the reader leaves the chat ([`ReadMarks::flush`]).

use crate::types::{Millis, Seq};

/// The interval between two writes of the read position while the reader scrolls.
pub const READ_MARK_INTERVAL_MS: Millis = 1_000;

/// The coalescer of one open chat's read marks.
#[derive(Clone, Debug)]
pub struct ReadMarks {
    interval: Millis,
    /// The highest seq noted and not written yet.
    pending: Option<Seq>,
    /// The highest seq handed out for writing.
    written: Seq,
    /// When the last write was handed out.
    last_write: Option<Millis>,
}

impl Default for ReadMarks {
    fn default() -> Self {
        Self::new(READ_MARK_INTERVAL_MS)
    }
}

impl ReadMarks {
    /// A coalescer writing at most once per `interval` milliseconds.
    pub fn new(interval: Millis) -> Self {
        Self {
            interval,
            pending: None,
            written: 0,
            last_write: None,
        }
    }

    /// The reader has seen up to `seq` at `now`: the seq to write now, or `None` when the
    /// mark waits (for [`ReadMarks::due_at`]) or adds nothing to what was written.
    pub fn note(&mut self, seq: Seq, now: Millis) -> Option<Seq> {
        if seq <= self.written {
            return None;
        }
        self.pending = Some(self.pending.map_or(seq, |p| p.max(seq)));
        self.poll(now)
    }

    /// When the pending mark is due, if one waits.
    pub fn due_at(&self) -> Option<Millis> {
        self.pending?;
        Some(
            self.last_write
                .map_or(Millis::MIN, |last| last.saturating_add(self.interval)),
        )
    }

    /// The pending seq to write at `now`, if it is due.
    pub fn poll(&mut self, now: Millis) -> Option<Seq> {
        let due = self.due_at()?;
        if now < due {
            return None;
        }
        self.last_write = Some(now);
        self.take()
    }

    /// The pending seq, due or not (the reader leaves the chat).
    pub fn flush(&mut self) -> Option<Seq> {
        self.take()
    }

    fn take(&mut self) -> Option<Seq> {
        let seq = self.pending.take()?;
        self.written = self.written.max(seq);
        Some(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_by_frame_scroll_writes_about_once_a_second() {
        let mut marks = ReadMarks::default();
        let mut writes = Vec::new();
        // 60 frames a second for three seconds, one new row seen per frame.
        for frame in 0..180u64 {
            let now = (frame as f64 * 1000.0 / 60.0) as Millis;
            if let Some(seq) = marks.note(frame + 1, now) {
                writes.push((now, seq));
            }
            if let Some(seq) = marks.poll(now) {
                writes.push((now, seq));
            }
        }
        assert_eq!(writes.first(), Some(&(0, 1)), "the first mark goes at once");
        assert!(writes.len() <= 4, "{writes:?}");
        for pair in writes.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= READ_MARK_INTERVAL_MS, "{writes:?}");
            assert!(pair[1].1 > pair[0].1, "{writes:?}");
        }
        // Leaving writes the newest position, once.
        assert_eq!(marks.flush(), Some(180));
        assert_eq!(marks.flush(), None);
        assert_eq!(marks.due_at(), None);
    }

    #[test]
    fn older_or_repeated_marks_add_nothing() {
        let mut marks = ReadMarks::new(1_000);
        assert_eq!(marks.note(10, 0), Some(10));
        assert_eq!(marks.note(10, 5_000), None, "already written");
        assert_eq!(marks.note(7, 5_000), None, "older than what was written");
        assert_eq!(marks.note(12, 5_000), Some(12), "the interval has passed");
        assert_eq!(marks.note(13, 5_100), None);
        assert_eq!(marks.due_at(), Some(6_000));
        assert_eq!(marks.poll(5_999), None);
        assert_eq!(marks.poll(6_000), Some(13));
    }
}
