//! One stable sort for every list the browser builds order, compiled once.
//!
//! The standard library's sorts are fast and generic over both the element type and the
//! comparison: each call site compiles its own pattern-defeating quicksort or driftsort,
//! 2 to 4 KB of wasm apiece. The browser builds sort small lists (outbox entries, the chat
//! list, eviction and media candidates, mounted rows), and those copies came to 19 KB of the
//! service worker and 30 KB of the app.
//!
//! [`sort_by`] heap-sorts the positions of the items through a comparison behind `dyn`, so
//! the heapsort is compiled once for the whole program; only the final permutation, a few
//! swaps, is generic. Ties keep their original order (the position breaks them), so the sort
//! is stable, and it takes O(n log n) comparisons whatever the input. It allocates one `usize`
//! per item.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, stably.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = sorted_positions(items.len(), &mut |a, b| {
        compare(&items[a], &items[b]).then(a.cmp(&b))
    });
    permute(items, order);
}

/// Sorts `items` by the key `key` gives each, stably.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` in their natural order, stably.
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// The positions `0..len` in the order `compare` (which must be total: no two positions
/// equal) puts them, by heapsort.
fn sorted_positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    for node in (0..len / 2).rev() {
        sift_down(&mut order, node, len, compare);
    }
    for end in (1..len).rev() {
        order.swap(0, end);
        sift_down(&mut order, 0, end, compare);
    }
    order
}

/// Restores the max-heap below `node` in `heap[..end]`.
fn sift_down(
    heap: &mut [usize],
    mut node: usize,
    end: usize,
    compare: &mut dyn FnMut(usize, usize) -> Ordering,
) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && compare(heap[child], heap[child + 1]) == Ordering::Less {
            child += 1;
        }
        if compare(heap[node], heap[child]) != Ordering::Less {
            return;
        }
        heap.swap(node, child);
        node = child;
    }
}

/// Rearranges `items` so the item at position `order[i]` ends at `i`, following each cycle of
/// the permutation with swaps (`order` is used up as the record of what is done).
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut current = start;
        while order[current] != DONE {
            let source = order[current];
            order[current] = DONE;
            if source == start {
                break;
            }
            items.swap(current, source);
            current = source;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // proptest is a native dev-dependency; the deterministic tests below run in the
    // browsers too.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn sorts_as_the_standard_stable_sort_does(
            items in proptest::collection::vec((0u8..8, proptest::prelude::any::<u16>()), 0..300)
        ) {
            // Sorting by the first field only: equal keys must keep their original order.
            let mut ours = items.clone();
            sort_by_key(&mut ours, |item| item.0);
            let mut theirs = items;
            theirs.sort_by_key(|item| item.0);
            proptest::prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn natural_order_matches(
            items in proptest::collection::vec(proptest::prelude::any::<i32>(), 0..300)
        ) {
            let mut ours = items.clone();
            sort(&mut ours);
            let mut theirs = items;
            theirs.sort();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn orders_of_every_shape_sort() {
        let shapes: [Vec<u32>; 5] = [
            (0..1000).collect(),
            (0..1000).rev().collect(),
            vec![7; 1000],
            (0..1000).map(|i| i % 3).collect(),
            (0..1000).map(|i| (i * 7919) % 1000).collect(),
        ];
        for shape in shapes {
            let mut ours = shape.clone();
            sort_by(&mut ours, |a, b| b.cmp(a));
            let mut theirs = shape;
            theirs.sort_by(|a, b| b.cmp(a));
            assert_eq!(ours, theirs);
        }
        let mut empty: Vec<u8> = Vec::new();
        sort(&mut empty);
        let mut one = vec![1];
        sort(&mut one);
        assert_eq!(one, [1]);
    }

    #[test]
    fn the_comparison_sees_every_item_in_place() {
        // Strings, so a wrong permutation cannot go unnoticed as equal values might.
        let mut names: Vec<String> = ["delta", "alpha", "charlie", "bravo", "echo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        sort(&mut names);
        assert_eq!(names, ["alpha", "bravo", "charlie", "delta", "echo"]);
    }
}
