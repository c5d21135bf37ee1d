//! The media index's rules as every store keeps them: hits and misses counted, least
//! recently used files evicted under the budget (never the file just stored), a lost entry
//! indexed again on a hit, and forget and clear scoped to the index.

use crate::media_cache::{MediaStats, DEFAULT_MEDIA_BUDGET, MIN_MEDIA_BUDGET};
use crate::store::Store;

/// Counters, eviction order, the kept file, forget and clear.
pub async fn media_index_rules_hold_in_every_store<S: Store>(store: S) {
    let start = store.media_stats().await.expect("stats");
    assert_eq!(
        start,
        MediaStats {
            budget: DEFAULT_MEDIA_BUDGET,
            ..MediaStats::default()
        }
    );
    assert!(store
        .media_set_budget(MIN_MEDIA_BUDGET)
        .await
        .expect("budget")
        .is_empty());
    // Two of these fit the budget, three do not.
    let third = MIN_MEDIA_BUDGET / 3 + 1;
    assert!(store
        .media_stored("a", third, 1)
        .await
        .expect("a")
        .is_empty());
    assert!(store
        .media_stored("b", third, 2)
        .await
        .expect("b")
        .is_empty());
    store.media_hit("a", third, 3).await.expect("hit a");
    assert_eq!(
        store.media_stored("c", third, 4).await.expect("c"),
        vec!["b".to_owned()],
        "the least recently used file goes: b, since a was served after it"
    );
    assert_eq!(
        store.media_stats().await.expect("stats"),
        MediaStats {
            hits: 1,
            misses: 3,
            entries: 2,
            bytes: 2 * third,
            budget: MIN_MEDIA_BUDGET,
        }
    );

    // The file just stored stays even when another context's clock makes it the oldest.
    assert_eq!(
        store.media_stored("x", third, 0).await.expect("x"),
        vec!["a".to_owned()]
    );

    // A hit on a file the index lost indexes it again with the size served.
    store.media_hit("lost", 10, 5).await.expect("hit lost");
    let stats = store.media_stats().await.expect("stats");
    assert_eq!(
        (stats.hits, stats.entries, stats.bytes),
        (2, 3, 2 * third + 10)
    );

    // A file that fills the budget alone is kept; every other goes, oldest use first.
    assert_eq!(
        store
            .media_stored("big", MIN_MEDIA_BUDGET, 6)
            .await
            .expect("big"),
        vec!["x".to_owned(), "c".to_owned(), "lost".to_owned()]
    );
    store.media_miss().await.expect("miss");
    let stats = store.media_stats().await.expect("stats");
    assert_eq!(
        (stats.misses, stats.entries, stats.bytes),
        (6, 1, MIN_MEDIA_BUDGET)
    );

    // A lower budget evicts at once; forget and clear touch the index only.
    store
        .media_set_budget(2 * MIN_MEDIA_BUDGET)
        .await
        .expect("raise");
    assert!(store.media_stored("d", 7, 7).await.expect("d").is_empty());
    assert_eq!(
        store
            .media_set_budget(MIN_MEDIA_BUDGET)
            .await
            .expect("lower"),
        vec!["big".to_owned()]
    );
    store.media_stored("e", 9, 8).await.expect("e");
    store.media_forget(&["d".to_owned()]).await.expect("forget");
    let stats = store.media_stats().await.expect("stats");
    assert_eq!((stats.entries, stats.bytes), (1, 9));
    store.media_clear().await.expect("clear");
    assert_eq!(
        store.media_stats().await.expect("stats"),
        MediaStats {
            hits: 2,
            misses: 8,
            entries: 0,
            bytes: 0,
            budget: MIN_MEDIA_BUDGET,
        },
        "clearing keeps the counters and the budget"
    );
}
