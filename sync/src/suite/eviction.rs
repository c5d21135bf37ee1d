//! The shared store suite's checks of letting go of messages: eviction of the least recently
//! used chat's oldest messages, clearing one chat, and eviction when the storage quota runs
//! out.

use super::{chat_record, closed_chat_ctx, fill, message, messages, outbox_entry};
use crate::eviction::{plan_eviction, CacheBudget};
use crate::quota::ingest_with_eviction;
use crate::ranges::SeqRange;
use crate::store::Store;
use crate::types::RequestId;

/// Eviction drops the oldest messages of the least recently used chat and leaves the outbox.
pub async fn eviction_drops_oldest_and_keeps_the_outbox<S: Store>(store: S) {
    let mut old_ctx = closed_chat_ctx();
    old_ctx.now = 10;
    store
        .ingest(&RequestId::from("old"), messages("old", 1, 100), &old_ctx)
        .await
        .expect("old");
    fill(&store, "new", 1, 100).await;
    store
        .outbox_enqueue(outbox_entry("keep-me", "old", 1))
        .await
        .expect("outbox");
    let usage = store.usage().await.expect("usage");
    let budget = CacheBudget {
        max_bytes: usage.message_bytes + usage.outbox_bytes - usage.message_bytes / 4,
        max_messages_per_chat: 10_000,
        keep_newest_per_chat: 10,
    };
    let plan = plan_eviction(
        &store.chats().await.expect("chats"),
        usage.outbox_bytes,
        &budget,
        &[],
    );
    assert_eq!(plan.evictions.len(), 1);
    assert_eq!(plan.evictions[0].request_id, RequestId::from("old"));
    let removed = store.evict(&plan.evictions[0]).await.expect("evict");
    assert_eq!(removed, plan.evictions[0].messages);
    let old = chat_record(&store, &RequestId::from("old")).await;
    assert_eq!(old.held.min(), Some(plan.evictions[0].below_seq));
    assert_eq!(old.held.max(), Some(100));
    let window = store
        .range(&RequestId::from("old"), SeqRange::new(1, 100))
        .await
        .expect("range");
    assert_eq!(window.messages.len() as u64, 100 - removed);
    assert_eq!(
        store.outbox().await.expect("outbox").len(),
        1,
        "the outbox is never evicted"
    );
    assert_eq!(
        chat_record(&store, &RequestId::from("new"))
            .await
            .message_count,
        100
    );
}

/// Clearing a chat removes its messages and record, not other chats or the outbox.
pub async fn clear_chat_is_scoped<S: Store>(store: S) {
    fill(&store, "a", 1, 20).await;
    fill(&store, "b", 1, 20).await;
    store
        .outbox_enqueue(outbox_entry("t", "a", 1))
        .await
        .expect("outbox");
    store
        .clear_chat(&RequestId::from("a"))
        .await
        .expect("clear");
    assert!(store
        .chat(&RequestId::from("a"))
        .await
        .expect("read")
        .is_none());
    assert!(store
        .newest(&RequestId::from("a"), 50)
        .await
        .expect("read")
        .messages
        .is_empty());
    assert_eq!(
        store
            .newest(&RequestId::from("b"), 50)
            .await
            .expect("read")
            .messages
            .len(),
        20
    );
    let usage = store.usage().await.expect("usage");
    assert_eq!(
        (usage.chats, usage.messages, usage.outbox_entries),
        (1, 20, 1)
    );
}

/// Quota exhaustion evicts old messages and the incoming message is still stored.
///
/// `store` must refuse writes past about 20,000 bytes (about 140 suite messages), the way a
/// full browser storage does; the suite macro takes a separate factory for it.
pub async fn quota_exhaustion_evicts_and_keeps_the_incoming_message<S: Store>(store: S) {
    let budget = CacheBudget::default();
    for i in 0..5 {
        let chat = RequestId::from(format!("chat{i}").as_str());
        let mut ctx = closed_chat_ctx();
        ctx.now = i;
        ingest_with_eviction(
            &store,
            &chat,
            messages(chat.as_str(), 1, 40),
            &ctx,
            &budget,
            &[],
        )
        .await
        .expect("each page is stored, after evicting older messages if needed");
    }
    let chat = RequestId::from("urgent");
    let report = ingest_with_eviction(
        &store,
        &chat,
        vec![message("urgent", 1, "please help")],
        &closed_chat_ctx(),
        &budget,
        &[],
    )
    .await
    .expect("the incoming message is stored");
    assert_eq!(report.new_seqs, vec![1]);
    assert_eq!(
        store.newest(&chat, 1).await.expect("read").messages.len(),
        1
    );
    let usage = store.usage().await.expect("usage");
    assert!(usage.messages < 201, "eviction happened: {usage:?}");
    let oldest = chat_record(&store, &RequestId::from("chat0")).await;
    assert!(
        !oldest.held.contains(1) && oldest.held.count() < 40,
        "the least recently used chat lost its oldest messages first: {:?}",
        oldest.held
    );
    let newest = chat_record(&store, &RequestId::from("chat4")).await;
    assert_eq!(newest.held.max(), Some(40), "the newest messages stay");
}
