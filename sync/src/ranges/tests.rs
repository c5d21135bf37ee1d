//! Unit tests of [`super`].

use super::*;

fn pairs(s: &SeqRanges) -> Vec<(Seq, Seq)> {
    s.ranges().iter().map(|r| (r.start, r.end)).collect()
}

#[test]
fn inserts_merge_touching_and_overlapping_ranges() {
    let mut s = set(&[(1, 3), (7, 9)]);
    s.insert(4);
    assert_eq!(pairs(&s), vec![(1, 4), (7, 9)]);
    s.insert(6);
    assert_eq!(pairs(&s), vec![(1, 4), (6, 9)]);
    s.insert(5);
    assert_eq!(pairs(&s), vec![(1, 9)]);
    s.insert_range(SeqRange::new(20, 30));
    s.insert_range(SeqRange::new(8, 25));
    assert_eq!(pairs(&s), vec![(1, 30)]);
    assert!(!s.insert(10));
}

#[test]
fn remove_splits_ranges() {
    let mut s = set(&[(1, 10)]);
    s.remove_range(SeqRange::new(4, 6));
    assert_eq!(pairs(&s), vec![(1, 3), (7, 10)]);
    s.remove_range(SeqRange::new(1, 8));
    assert_eq!(pairs(&s), vec![(9, 10)]);
    s.remove_range(SeqRange::new(100, 200));
    assert_eq!(pairs(&s), vec![(9, 10)]);
}

#[test]
fn gaps_are_classified_leading_interior_trailing() {
    let s = set(&[(5, 7), (10, 12), (15, 15)]);
    let gaps = s.gaps(20);
    assert_eq!(gaps.leading, Some(SeqRange::new(1, 4)));
    assert_eq!(
        gaps.interior,
        vec![SeqRange::new(8, 9), SeqRange::new(13, 14)]
    );
    assert_eq!(gaps.trailing, Some(SeqRange::new(16, 20)));
    assert_eq!(
        gaps.repair_order(),
        vec![
            SeqRange::new(16, 20),
            SeqRange::new(13, 14),
            SeqRange::new(8, 9)
        ]
    );
    assert_eq!(gaps.repair_count(), 9);
}

#[test]
fn partial_history_follows_invariant_four() {
    assert!(!set(&[(1, 10)]).is_partial(10));
    assert!(
        !set(&[(5, 10)]).is_partial(10),
        "a leading gap alone is not partial"
    );
    assert!(set(&[(1, 4), (6, 10)]).is_partial(10), "interior gap");
    assert!(set(&[(1, 10)]).is_partial(11), "behind the backend");
    assert!(!SeqRanges::new().is_partial(0));
    assert!(SeqRanges::new().is_partial(3));
}

#[test]
fn contiguous_through_is_the_watermark_from_one() {
    assert_eq!(set(&[(1, 5), (7, 9)]).contiguous_through(), 5);
    assert_eq!(set(&[(2, 5)]).contiguous_through(), 0);
    assert_eq!(SeqRanges::new().contiguous_through(), 0);
}

#[test]
fn complement_and_intersection() {
    let s = set(&[(3, 5), (8, 9)]);
    assert_eq!(
        pairs(&s.complement_within(SeqRange::new(1, 10))),
        vec![(1, 2), (6, 7), (10, 10)]
    );
    let t = set(&[(4, 8)]);
    assert_eq!(pairs(&s.intersection(&t)), vec![(4, 5), (8, 8)]);
    assert!(s.intersects(SeqRange::new(5, 6)));
    assert!(!s.intersects(SeqRange::new(6, 7)));
}

#[test]
fn damaged_serialized_ranges_are_normalized() {
    let s: SeqRanges = crate::json::from_str("[[9,7],[1,3],[2,4],[5,5]]").unwrap();
    assert_eq!(pairs(&s), vec![(1, 5), (7, 9)]);
    assert_eq!(serde_json::to_string(&s).unwrap(), "[[1,5],[7,9]]");
}

#[test]
fn damaged_ranges_outside_the_valid_seqs_are_dropped_and_counts_never_overflow() {
    // A damaged record claiming 0..=u64::MAX overflowed `count()` (a panic in debug
    // builds, a wrapped count of 0 in release) before out-of-range parts were dropped.
    let s: SeqRanges =
        crate::json::from_str("[[0,18446744073709551615],[3,4]]").expect("pairs of u64");
    assert_eq!(pairs(&s), vec![(1, MAX_SEQ)]);
    assert_eq!(s.count(), MAX_SEQ);
    let beyond: SeqRanges =
        crate::json::from_str("[[9007199254740992,18446744073709551615],[0,0],[2,2]]")
            .expect("pairs of u64");
    assert_eq!(pairs(&beyond), vec![(2, 2)]);
    assert_eq!(SeqRange::new(0, u64::MAX).len(), u64::MAX);
}
