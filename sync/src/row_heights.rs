//! Row heights of a virtualized list: which rows stand in a scrolled viewport, and where a row
//! starts, in logarithmic time over 100,000 rows.
//!
//! Rows not measured yet have an estimated height; once the browser has laid a row out its
//! measured height replaces the estimate. Offsets are prefix sums kept in a Fenwick tree, so
//! a measurement and an offset query each cost `O(log n)` and a scroll frame never walks the
//! rows above the viewport.

use std::ops::Range;

/// Heights of `len` rows, with prefix sums.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowHeights {
    heights: Vec<f64>,
    /// Fenwick tree over `heights` (1-based inside).
    tree: Vec<f64>,
}

impl RowHeights {
    /// Rows with the given heights, in order.
    pub fn new(heights: Vec<f64>) -> Self {
        let mut tree = vec![0.0; heights.len() + 1];
        for (i, h) in heights.iter().enumerate() {
            tree[i + 1] += h;
            let parent = (i + 1) + lowest_bit(i + 1);
            if parent < tree.len() {
                let value = tree[i + 1];
                tree[parent] += value;
            }
        }
        Self { heights, tree }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.heights.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.heights.is_empty()
    }

    /// The height of row `index`.
    pub fn height(&self, index: usize) -> f64 {
        self.heights.get(index).copied().unwrap_or(0.0)
    }

    /// Sets row `index` to `height`; returns the change (0 when it was already that tall).
    pub fn set(&mut self, index: usize, height: f64) -> f64 {
        let Some(old) = self.heights.get_mut(index) else {
            return 0.0;
        };
        let delta = height - *old;
        if delta == 0.0 {
            return 0.0;
        }
        *old = height;
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] += delta;
            i += lowest_bit(i);
        }
        delta
    }

    /// Where row `index` starts: the sum of the heights of the rows above it.
    pub fn offset(&self, index: usize) -> f64 {
        let mut i = index.min(self.heights.len());
        let mut sum = 0.0;
        while i > 0 {
            sum += self.tree[i];
            i -= lowest_bit(i);
        }
        sum
    }

    /// The height of all rows.
    pub fn total(&self) -> f64 {
        self.offset(self.heights.len())
    }

    /// The row that covers vertical position `offset` (the last row when past the end).
    pub fn index_at(&self, offset: f64) -> usize {
        if self.heights.is_empty() {
            return 0;
        }
        // Descend the tree: find the largest prefix whose sum is <= offset.
        let mut position = 0;
        let mut remaining = offset.max(0.0);
        let mut step = self.tree.len().next_power_of_two() / 2;
        while step > 0 {
            let next = position + step;
            if next < self.tree.len() && self.tree[next] <= remaining {
                position = next;
                remaining -= self.tree[next];
            }
            step /= 2;
        }
        position.min(self.heights.len() - 1)
    }

    /// The rows to render for a viewport showing `top .. top + height`, with `overscan`
    /// pixels of rows above and below so a fast scroll never shows blank space.
    pub fn visible(&self, top: f64, height: f64, overscan: f64) -> Range<usize> {
        if self.heights.is_empty() {
            return 0..0;
        }
        let first = self.index_at(top - overscan);
        let last = self.index_at(top + height + overscan);
        first..(last + 1).min(self.heights.len())
    }
}

fn lowest_bit(i: usize) -> usize {
    i & i.wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_offset(heights: &[f64], index: usize) -> f64 {
        heights[..index].iter().sum()
    }

    #[test]
    fn offsets_and_lookups_match_a_naive_sum() {
        let heights: Vec<f64> = (0..257).map(|i| 20.0 + (i * 7 % 40) as f64).collect();
        let mut rows = RowHeights::new(heights.clone());
        let mut naive = heights;
        for i in 0..=naive.len() {
            assert_eq!(rows.offset(i), naive_offset(&naive, i), "offset {i}");
        }
        rows.set(10, 100.0);
        naive[10] = 100.0;
        rows.set(200, 1.0);
        naive[200] = 1.0;
        for i in 0..naive.len() {
            let start = naive_offset(&naive, i);
            assert_eq!(rows.offset(i), start);
            assert_eq!(rows.index_at(start), i, "the row starting at {start}");
            assert_eq!(rows.index_at(start + naive[i] - 0.5), i);
        }
        assert_eq!(rows.total(), naive.iter().sum::<f64>());
        assert_eq!(rows.index_at(1e12), naive.len() - 1);
        assert_eq!(rows.index_at(-5.0), 0);
    }

    #[test]
    fn the_visible_window_covers_the_viewport_and_overscan() {
        let rows = RowHeights::new(vec![50.0; 100_000]);
        assert_eq!(rows.visible(0.0, 500.0, 0.0), 0..11);
        assert_eq!(rows.visible(1_000.0, 500.0, 100.0), 18..33);
        let end = rows.total();
        assert_eq!(rows.visible(end - 500.0, 500.0, 0.0), 99_990..100_000);
        assert_eq!(RowHeights::default().visible(0.0, 10.0, 0.0), 0..0);
    }

    #[test]
    fn setting_the_same_height_changes_nothing() {
        let mut rows = RowHeights::new(vec![10.0; 4]);
        assert_eq!(rows.set(2, 10.0), 0.0);
        assert_eq!(rows.set(2, 25.0), 15.0);
        assert_eq!(rows.set(9, 25.0), 0.0, "out of range is ignored");
        assert_eq!(rows.total(), 55.0);
    }
}
