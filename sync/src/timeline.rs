//! The rows a chat view shows, computed from what the cache holds (SPEC invariants 2, 3 and 7):
//! one row per cached message, one skeleton row per missing range, and one "older history"
//! row above the oldest cached message while older history exists.
//!
//! The timeline is built from the chat's held ranges alone, so a chat of 100,000 cached
//! messages with three holes is a handful of segments: no message is read to lay the view out,
//! and finding the row at an index is a binary search over segments.

use crate::ranges::{SeqRange, SeqRanges};
use crate::types::Seq;

/// One row of the chat view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Row {
    /// Older history not cached yet (`1 ..= local_min - 1`): loaded page by page when the
    /// reader scrolls up to it.
    Older(SeqRange),
    /// A cached message.
    Message(Seq),
    /// An interior or trailing gap: messages the backend has and the cache does not.
    Gap(SeqRange),
}

impl Row {
    /// A key that stays the same for the same content while rows are added around it, for
    /// keyed rendering and for remembering measured heights.
    pub fn key(&self) -> RowKey {
        match *self {
            Row::Older(range) => RowKey::Older(range.end),
            Row::Message(seq) => RowKey::Message(seq),
            Row::Gap(range) => RowKey::Gap(range.start, range.end),
        }
    }

    /// How many messages a skeleton row stands for (0 for a message row).
    pub fn missing(&self) -> u64 {
        match self {
            Row::Older(range) | Row::Gap(range) => range.len(),
            Row::Message(_) => 0,
        }
    }
}

/// A row's identity (see [`Row::key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    /// The older-history row, by the newest seq it covers.
    Older(Seq),
    /// A message row, by seq.
    Message(Seq),
    /// A gap row, by its range.
    Gap(Seq, Seq),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment {
    Single(Row),
    Messages(SeqRange),
}

impl Segment {
    fn len(&self) -> usize {
        match self {
            Segment::Single(_) => 1,
            Segment::Messages(range) => range.len() as usize,
        }
    }
}

/// The rows of one chat, in display order (oldest at index 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Segments with the index of their first row.
    segments: Vec<(usize, Segment)>,
    len: usize,
}

impl Timeline {
    /// The timeline of a chat holding `held` (readable messages) whose backend has
    /// `backend_last` (when known). Without a known backend last sequence no trailing gap is
    /// shown: nothing is known to be missing yet.
    pub fn new(held: &SeqRanges, backend_last: Option<Seq>) -> Self {
        let mut segments = Vec::with_capacity(held.ranges().len() * 2 + 2);
        let gaps = held.gaps(backend_last.unwrap_or(0));
        if let Some(leading) = gaps.leading {
            segments.push(Segment::Single(Row::Older(leading)));
        }
        let mut interior = gaps.interior.iter();
        for (i, range) in held.ranges().iter().enumerate() {
            if i > 0 {
                if let Some(gap) = interior.next() {
                    segments.push(Segment::Single(Row::Gap(*gap)));
                }
            }
            segments.push(Segment::Messages(*range));
        }
        if let Some(trailing) = gaps.trailing {
            segments.push(Segment::Single(Row::Gap(trailing)));
        }
        let mut index = 0;
        let segments = segments
            .into_iter()
            .map(|segment| {
                let start = index;
                index += segment.len();
                (start, segment)
            })
            .collect();
        Self {
            segments,
            len: index,
        }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no row at all (an empty chat).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The row at `index`, if any.
    pub fn row(&self, index: usize) -> Option<Row> {
        if index >= self.len {
            return None;
        }
        let at = self.segments.partition_point(|(start, _)| *start <= index) - 1;
        let (start, segment) = self.segments[at];
        Some(match segment {
            Segment::Single(row) => row,
            Segment::Messages(range) => Row::Message(range.start + (index - start) as Seq),
        })
    }

    /// The rows in `indices`, in order.
    pub fn rows(&self, indices: std::ops::Range<usize>) -> impl Iterator<Item = (usize, Row)> + '_ {
        indices.filter_map(move |i| self.row(i).map(|row| (i, row)))
    }

    /// The index of the row showing `seq`: its message row, or the skeleton row covering it.
    pub fn index_of_seq(&self, seq: Seq) -> Option<usize> {
        self.segments
            .iter()
            .find_map(|(start, segment)| match segment {
                Segment::Single(Row::Older(range) | Row::Gap(range)) if range.contains(seq) => {
                    Some(*start)
                }
                Segment::Single(Row::Message(s)) if *s == seq => Some(*start),
                Segment::Messages(range) if range.contains(seq) => {
                    Some(start + (seq - range.start) as usize)
                }
                _ => None,
            })
    }

    /// The index of the row with `key`, if it is still in the timeline.
    pub fn index_of_key(&self, key: RowKey) -> Option<usize> {
        match key {
            RowKey::Message(seq) => self
                .index_of_seq(seq)
                .filter(|&i| self.row(i) == Some(Row::Message(seq))),
            RowKey::Older(_) | RowKey::Gap(..) => self
                .segments
                .iter()
                .find(|(_, segment)| matches!(segment, Segment::Single(row) if row.key() == key))
                .map(|(start, _)| *start),
        }
    }

    /// The seqs of the cached messages among `indices` (what to read from the store to show
    /// them), as ranges.
    pub fn message_seqs(&self, indices: std::ops::Range<usize>) -> SeqRanges {
        let mut seqs = SeqRanges::new();
        for (start, segment) in &self.segments {
            let Segment::Messages(range) = segment else {
                continue;
            };
            let seg = *start..*start + range.len() as usize;
            let lo = seg.start.max(indices.start);
            let hi = seg.end.min(indices.end);
            if lo < hi {
                seqs.insert_range(SeqRange::new(
                    range.start + (lo - seg.start) as Seq,
                    range.start + (hi - 1 - seg.start) as Seq,
                ));
            }
        }
        seqs
    }

    /// The skeleton rows (older history and gaps), in order.
    pub fn skeletons(&self) -> impl Iterator<Item = (usize, Row)> + '_ {
        self.segments
            .iter()
            .filter_map(|(start, segment)| match segment {
                Segment::Single(row) if row.missing() > 0 => Some((*start, *row)),
                _ => None,
            })
    }
}

/// How long a pause between two messages of the same sender starts a new group.
pub const GROUP_PAUSE_MS: i64 = 5 * 60 * 1000;

/// The local calendar day of `at_ms`, given the offset of local time from UTC in minutes
/// (east positive), as a day number: equal numbers are the same local day.
///
/// Saturating: a timestamp is data from outside (a push may carry any `i64`), and a day
/// number at the far end of time is still a day number, where an overflow would panic.
pub fn local_day(at_ms: i64, utc_offset_minutes: i32) -> i64 {
    at_ms
        .saturating_add(i64::from(utc_offset_minutes) * 60_000)
        .div_euclid(86_400_000)
}

/// Whether a message starts a new sender group: a different sender, a different local day,
/// or a pause longer than [`GROUP_PAUSE_MS`] since the previous shown message.
pub fn starts_group(
    previous: Option<(&str, i64)>,
    current: (&str, i64),
    utc_offset_minutes: i32,
) -> bool {
    match previous {
        None => true,
        Some((sender, at)) => {
            sender != current.0
                || local_day(at, utc_offset_minutes) != local_day(current.1, utc_offset_minutes)
                || current.1.saturating_sub(at) > GROUP_PAUSE_MS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranges::set;

    fn all_rows(timeline: &Timeline) -> Vec<Row> {
        (0..timeline.len())
            .map(|i| timeline.row(i).unwrap())
            .collect()
    }

    #[test]
    fn a_full_history_is_only_message_rows() {
        let timeline = Timeline::new(&set(&[(1, 5)]), Some(5));
        assert_eq!(
            all_rows(&timeline),
            (1..=5).map(Row::Message).collect::<Vec<_>>()
        );
        assert_eq!(timeline.skeletons().count(), 0);
    }

    #[test]
    fn gaps_stand_exactly_where_messages_are_missing() {
        let timeline = Timeline::new(&set(&[(3, 4), (7, 8)]), Some(10));
        assert_eq!(
            all_rows(&timeline),
            vec![
                Row::Older(SeqRange::new(1, 2)),
                Row::Message(3),
                Row::Message(4),
                Row::Gap(SeqRange::new(5, 6)),
                Row::Message(7),
                Row::Message(8),
                Row::Gap(SeqRange::new(9, 10)),
            ]
        );
        assert_eq!(timeline.index_of_seq(6), Some(3));
        assert_eq!(timeline.index_of_seq(8), Some(5));
        assert_eq!(timeline.index_of_seq(10), Some(6));
        assert_eq!(timeline.index_of_seq(11), None);
        assert_eq!(
            timeline.index_of_key(RowKey::Gap(5, 6)),
            Some(3),
            "a gap is found by its key"
        );
        assert_eq!(timeline.index_of_key(RowKey::Message(5)), None);
    }

    #[test]
    fn without_a_known_backend_last_there_is_no_trailing_gap() {
        let timeline = Timeline::new(&set(&[(1, 3)]), None);
        assert_eq!(timeline.len(), 3);
    }

    #[test]
    fn an_empty_cache_is_one_older_history_row() {
        let timeline = Timeline::new(&SeqRanges::new(), Some(40));
        assert_eq!(all_rows(&timeline), vec![Row::Older(SeqRange::new(1, 40))]);
        assert!(Timeline::new(&SeqRanges::new(), Some(0)).is_empty());
    }

    #[test]
    fn message_seqs_cover_only_the_cached_rows_in_the_window() {
        let timeline = Timeline::new(&set(&[(3, 4), (7, 9)]), Some(9));
        // Rows: Older(1..=2), 3, 4, Gap(5..=6), 7, 8, 9.
        assert_eq!(timeline.message_seqs(0..7), set(&[(3, 4), (7, 9)]));
        assert_eq!(timeline.message_seqs(2..5), set(&[(4, 4), (7, 7)]));
        assert_eq!(timeline.message_seqs(3..4), SeqRanges::new());
    }

    #[test]
    fn a_hundred_thousand_messages_with_holes_are_a_few_segments() {
        let held = set(&[(1, 40_000), (40_101, 100_000)]);
        let timeline = Timeline::new(&held, Some(100_050));
        assert_eq!(timeline.segments.len(), 4);
        assert_eq!(timeline.len(), 99_900 + 2);
        assert_eq!(
            timeline.row(40_000),
            Some(Row::Gap(SeqRange::new(40_001, 40_100)))
        );
        assert_eq!(timeline.row(40_001), Some(Row::Message(40_101)));
        assert_eq!(
            timeline.row(timeline.len() - 1),
            Some(Row::Gap(SeqRange::new(100_001, 100_050)))
        );
    }

    #[test]
    fn groups_break_on_sender_day_and_long_pauses() {
        let minute = 60_000;
        assert!(starts_group(None, ("a", 0), 0));
        assert!(!starts_group(Some(("a", 0)), ("a", minute), 0));
        assert!(starts_group(Some(("a", 0)), ("b", minute), 0));
        assert!(starts_group(Some(("a", 0)), ("a", 6 * minute), 0));
        // 23:59 and 00:01 local time are different days even a minute apart.
        let day = 86_400_000;
        assert!(starts_group(
            Some(("a", day - minute)),
            ("a", day + minute),
            0
        ));
        // The same instants are one local day two hours west of UTC.
        assert!(!starts_group(
            Some(("a", day - minute)),
            ("a", day + minute),
            -120
        ));
    }

    #[test]
    fn hostile_timestamps_group_without_overflowing() {
        // `created_at` comes from outside unchecked: the far ends of `i64` overflowed the
        // day arithmetic and the pause subtraction before both saturated.
        assert!(starts_group(Some(("a", i64::MIN)), ("a", i64::MAX), 840));
        assert!(starts_group(Some(("a", i64::MAX)), ("a", i64::MIN), -720));
        assert!(!starts_group(Some(("a", i64::MAX)), ("a", i64::MAX), 840));
        assert_eq!(local_day(i64::MAX, 840), i64::MAX.div_euclid(86_400_000));
        assert_eq!(local_day(i64::MIN, -720), i64::MIN.div_euclid(86_400_000));
    }
}
