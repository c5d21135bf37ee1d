//! Sets of sequence numbers kept as sorted, merged, inclusive ranges, and the gap analysis
//! built on them (SPEC invariants 4 and 6).
//!
//! A chat of 100,000 cached messages with three holes is four ranges, so asking "what is
//! missing?" costs the number of holes, not the number of messages.

use serde::{Deserialize, Serialize};

/// A per-chat message sequence number: `>= 1`, strictly increasing per chat, immutable.
pub type Seq = u64;

/// The largest sequence number accepted anywhere: JavaScript numbers hold integers exactly
/// only up to 2^53 - 1, and IndexedDB keys are JavaScript numbers.
pub const MAX_SEQ: Seq = (1 << 53) - 1;

/// An inclusive range of sequence numbers, `start <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct SeqRange {
    /// First sequence in the range.
    pub start: Seq,
    /// Last sequence in the range (inclusive).
    pub end: Seq,
}

impl SeqRange {
    /// The range `start..=end`. Callers guarantee `start <= end`; a reversed pair is swapped.
    pub fn new(start: Seq, end: Seq) -> Self {
        if start <= end {
            Self { start, end }
        } else {
            Self {
                start: end,
                end: start,
            }
        }
    }

    /// How many sequences the range covers (saturating: `0..=u64::MAX` would be one more
    /// than a `u64` holds, and such a range can only come from a damaged record).
    pub fn len(&self) -> u64 {
        (self.end - self.start).saturating_add(1)
    }

    /// Never true: a range holds at least one sequence. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `seq` lies in the range.
    pub fn contains(&self, seq: Seq) -> bool {
        self.start <= seq && seq <= self.end
    }

    /// The part both ranges share, if any.
    pub fn intersection(&self, other: &SeqRange) -> Option<SeqRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start <= end).then_some(SeqRange { start, end })
    }
}

impl std::fmt::Display for SeqRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..={}", self.start, self.end)
    }
}

/// A set of sequences as sorted, non-overlapping, non-adjacent inclusive ranges.
///
/// Serialized as a list of `[start, end]` pairs, which is what the cache stores per chat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqRanges {
    ranges: Vec<SeqRange>,
}

impl Serialize for SeqRanges {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.ranges.len()))?;
        for range in &self.ranges {
            seq.serialize_element(&[range.start, range.end])?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SeqRanges {
    /// Accepts any list of pairs, in any order, overlapping or reversed, and normalizes it:
    /// a damaged record can never produce a set that breaks the ordering invariant. Parts
    /// outside `1..=MAX_SEQ` are dropped: no message can be held there (every ingested seq
    /// is validated), and keeping them would let one damaged record claim `u64::MAX`
    /// sequences and overflow every count made from it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs: Vec<[Seq; 2]> = Vec::deserialize(deserializer)?;
        let mut set = SeqRanges::new();
        for [a, b] in pairs {
            let range = SeqRange::new(a, b);
            if let Some(valid) = range.intersection(&SeqRange::new(1, MAX_SEQ)) {
                set.insert_range(valid);
            }
        }
        Ok(set)
    }
}

impl SeqRanges {
    /// The empty set.
    pub fn new() -> Self {
        Self { ranges: Vec::new() }
    }

    /// A set holding exactly `range`.
    pub fn from_range(range: SeqRange) -> Self {
        Self {
            ranges: vec![range],
        }
    }

    /// A set from ranges that are already ascending, non-overlapping and non-adjacent (as
    /// [`Gaps`] produces them); anything else is normalized, so the invariant always holds.
    pub fn from_sorted(ranges: Vec<SeqRange>) -> Self {
        let sorted = ranges
            .windows(2)
            .all(|w| w[0].start <= w[0].end && w[0].end.saturating_add(1) < w[1].start);
        if sorted {
            return Self { ranges };
        }
        let mut set = SeqRanges::new();
        for range in ranges {
            set.insert_range(range);
        }
        set
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> &[SeqRange] {
        &self.ranges
    }

    /// Whether no sequence is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many sequences are held (not how many ranges); saturating, like [`SeqRange::len`].
    pub fn count(&self) -> u64 {
        self.ranges
            .iter()
            .fold(0u64, |total, range| total.saturating_add(range.len()))
    }

    /// The lowest held sequence.
    pub fn min(&self) -> Option<Seq> {
        self.ranges.first().map(|r| r.start)
    }

    /// The highest held sequence.
    pub fn max(&self) -> Option<Seq> {
        self.ranges.last().map(|r| r.end)
    }

    /// Whether `seq` is held. Binary search: O(log ranges).
    pub fn contains(&self, seq: Seq) -> bool {
        self.index_of(seq).is_ok()
    }

    /// `Ok(i)` when range `i` holds `seq`; `Err(i)` where a range starting at `seq` would go.
    fn index_of(&self, seq: Seq) -> Result<usize, usize> {
        self.ranges.binary_search_by(|r| {
            if r.end < seq {
                std::cmp::Ordering::Less
            } else if r.start > seq {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
    }

    /// Adds one sequence. Returns whether it was new.
    pub fn insert(&mut self, seq: Seq) -> bool {
        if self.contains(seq) {
            return false;
        }
        self.insert_range(SeqRange {
            start: seq,
            end: seq,
        });
        true
    }

    /// Adds every sequence of `range`, merging with neighbours it overlaps or touches.
    pub fn insert_range(&mut self, range: SeqRange) {
        // The first range that ends at or after range.start - 1 (touching counts as merge).
        let lo = self
            .ranges
            .partition_point(|r| r.end.saturating_add(1) < range.start);
        // The first range that starts after range.end + 1.
        let hi = self
            .ranges
            .partition_point(|r| r.start <= range.end.saturating_add(1));
        if lo == hi {
            self.ranges.insert(lo, range);
            return;
        }
        let start = self.ranges[lo].start.min(range.start);
        let end = self.ranges[hi - 1].end.max(range.end);
        self.ranges
            .splice(lo..hi, std::iter::once(SeqRange { start, end }));
    }

    /// Adds every sequence of `other`.
    pub fn insert_all(&mut self, other: &SeqRanges) {
        for range in &other.ranges {
            self.insert_range(*range);
        }
    }

    /// Removes every sequence of `range`.
    pub fn remove_range(&mut self, range: SeqRange) {
        let lo = self.ranges.partition_point(|r| r.end < range.start);
        let hi = self.ranges.partition_point(|r| r.start <= range.end);
        if lo >= hi {
            return;
        }
        let mut replacement = Vec::with_capacity(2);
        let first = self.ranges[lo];
        let last = self.ranges[hi - 1];
        if first.start < range.start {
            replacement.push(SeqRange {
                start: first.start,
                end: range.start - 1,
            });
        }
        if last.end > range.end {
            replacement.push(SeqRange {
                start: range.end + 1,
                end: last.end,
            });
        }
        self.ranges.splice(lo..hi, replacement);
    }

    /// Removes every sequence of `other`.
    pub fn remove_all(&mut self, other: &SeqRanges) {
        for range in &other.ranges {
            self.remove_range(*range);
        }
    }

    /// The sequences of `within` that this set does not hold.
    pub fn complement_within(&self, within: SeqRange) -> SeqRanges {
        let mut missing = SeqRanges::from_range(within);
        let lo = self.ranges.partition_point(|r| r.end < within.start);
        for range in &self.ranges[lo..] {
            if range.start > within.end {
                break;
            }
            missing.remove_range(*range);
        }
        missing
    }

    /// The sequences held in both sets.
    pub fn intersection(&self, other: &SeqRanges) -> SeqRanges {
        let mut out = SeqRanges::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a, b) = (self.ranges[i], other.ranges[j]);
            if let Some(common) = a.intersection(&b) {
                out.ranges.push(common);
            }
            if a.end < b.end {
                i += 1;
            } else {
                j += 1;
            }
        }
        out
    }

    /// Whether any sequence of `range` is held.
    pub fn intersects(&self, range: SeqRange) -> bool {
        let lo = self.ranges.partition_point(|r| r.end < range.start);
        self.ranges.get(lo).is_some_and(|r| r.start <= range.end)
    }

    /// The "contiguous through" watermark: the highest `n` such that every sequence `1..=n`
    /// is held (0 when sequence 1 is not held).
    pub fn contiguous_through(&self) -> Seq {
        match self.ranges.first() {
            Some(first) if first.start == 1 => first.end,
            _ => 0,
        }
    }

    /// The gap analysis against the backend's last sequence (SPEC invariant 6).
    pub fn gaps(&self, backend_last: Seq) -> Gaps {
        let (Some(min), Some(max)) = (self.min(), self.max()) else {
            // Nothing cached: all of the chat is older history, loaded page by page from the
            // newest end when the reader looks at it. It is not an interior or trailing gap.
            return Gaps {
                leading: (backend_last >= 1).then(|| SeqRange::new(1, backend_last)),
                interior: Vec::new(),
                trailing: None,
            };
        };
        let interior = self
            .ranges
            .windows(2)
            .map(|pair| SeqRange {
                start: pair[0].end + 1,
                end: pair[1].start - 1,
            })
            .collect();
        Gaps {
            leading: (min > 1).then(|| SeqRange::new(1, min - 1)),
            interior,
            trailing: (backend_last > max).then(|| SeqRange::new(max + 1, backend_last)),
        }
    }

    /// SPEC invariant 4: the cache holds partial history when its sequences are not one
    /// continuous window, or the count differs from `max - min + 1`, or the local maximum is
    /// below the backend's last known sequence. A leading gap alone (older history not yet
    /// loaded) is not partial history.
    pub fn is_partial(&self, backend_last: Seq) -> bool {
        let (Some(min), Some(max)) = (self.min(), self.max()) else {
            return backend_last > 0;
        };
        self.ranges.len() > 1 || self.count() != max - min + 1 || max < backend_last
    }
}

/// The missing parts of a chat's history, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gaps {
    /// `1 ..= local_min - 1`: older history, fetched page by page when the reader scrolls to it.
    pub leading: Option<SeqRange>,
    /// Holes between held ranges, ascending.
    pub interior: Vec<SeqRange>,
    /// `local_max + 1 ..= backend_last`.
    pub trailing: Option<SeqRange>,
}

impl Gaps {
    /// The interior and trailing gaps as one set (what a missing-only sync repairs).
    pub fn repair_set(&self) -> SeqRanges {
        let mut ranges = self.interior.clone();
        ranges.extend(self.trailing);
        SeqRanges::from_sorted(ranges)
    }

    /// The ranges a missing-only sync repairs at once: trailing first, then interior gaps from
    /// the newest down (what the reader most likely looks at comes first).
    pub fn repair_order(&self) -> Vec<SeqRange> {
        let mut out: Vec<SeqRange> = self.trailing.iter().copied().collect();
        out.extend(self.interior.iter().rev().copied());
        out
    }

    /// How many sequences the interior and trailing gaps miss.
    pub fn repair_count(&self) -> u64 {
        self.trailing.map_or(0, |r| r.len()) + self.interior.iter().map(SeqRange::len).sum::<u64>()
    }
}

/// A set from `(start, end)` pairs, for tests across the crate.
#[cfg(test)]
pub(crate) fn set(ranges: &[(Seq, Seq)]) -> SeqRanges {
    let mut s = SeqRanges::new();
    for &(a, b) in ranges {
        s.insert_range(SeqRange::new(a, b));
    }
    s
}

crate::object_only_serde!(SeqRange);

#[cfg(test)]
mod tests;
