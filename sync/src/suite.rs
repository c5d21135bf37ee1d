//! The shared store test suite: one set of behaviours every [`Store`] must show, run natively
//! against [`crate::memory_store::MemoryStore`] and in Chrome and Firefox against IndexedDB.
//!
//! Each check is an `async fn` taking a fresh, empty store. [`store_test_suite!`] turns them into
//! tests for a given store factory:
//!
//! ```ignore
//! chat_sync::store_test_suite!(blocking, MemoryStore::new(), quota = MemoryStore::with_quota(20_000));
//! chat_sync::store_test_suite!(wasm, open_fresh().await, quota = open_fresh_with_budget(20_000).await);
//! ```
//!
//! [`store_test_suite!`]: crate::store_test_suite

mod changes;
mod media;

use crate::eviction::{plan_eviction, CacheBudget};
use crate::ingest::{IngestContext, Source};
use crate::outbox::{NewOutboxEntry, OutboxError, OutboxState, OUTBOX_CAPACITY};
use crate::quota::ingest_with_eviction;
use crate::ranges::SeqRange;
use crate::store::{Store, StoreError, MAX_READ};
use crate::types::{
    ChatRecord, ChatSummary, Message, Millis, Person, RequestId, Sender, SenderRole, Seq,
};

/// A requester's message of chat `chat` at `seq`.
pub fn message(chat: &str, seq: Seq, body: &str) -> Message {
    Message {
        request_id: RequestId::from(chat),
        seq,
        id: format!("{chat}-{seq}"),
        client_temp_id: None,
        sender: Sender {
            id: format!("requester-of-{chat}"),
            name: "Requester".into(),
            role: SenderRole::Requester,
        },
        body: body.to_owned(),
        attachments: Vec::new(),
        created_at: 1_700_000_000_000 + seq as Millis,
        deleted: false,
        version: 0,
        edited_at: None,
    }
}

/// Messages `from..=to` of `chat`.
pub fn messages(chat: &str, from: Seq, to: Seq) -> Vec<Message> {
    (from..=to)
        .map(|s| message(chat, s, &format!("message {s}")))
        .collect()
}

/// An ingest context for a chat that is not open.
pub fn closed_chat_ctx() -> IngestContext {
    IngestContext {
        now: 1_000,
        chat_open: false,
        own_user_id: Some("agent-1".into()),
        source: Source::Push,
        backend_last: None,
    }
}

/// Ingests messages `from..=to` of `chat` as pushes to a closed chat.
async fn fill<S: Store>(store: &S, chat: &str, from: Seq, to: Seq) {
    store
        .ingest(
            &RequestId::from(chat),
            messages(chat, from, to),
            &closed_chat_ctx(),
        )
        .await
        .expect("ingest into a fresh store");
}

/// The chat's record, which the test has created.
async fn chat_record<S: Store>(store: &S, chat: &RequestId) -> ChatRecord {
    store
        .chat(chat)
        .await
        .expect("read the chat record")
        .expect("the chat record exists")
}

/// A message queued at `created_at`; the store gives it its place.
pub(crate) fn outbox_entry(id: &str, chat: &str, created_at: Millis) -> NewOutboxEntry {
    NewOutboxEntry {
        client_temp_id: id.into(),
        request_id: RequestId::from(chat),
        body: format!("draft {id}"),
        attachments: Vec::new(),
        created_at,
    }
}

fn seqs(messages: &[Message]) -> Vec<Seq> {
    messages.iter().map(|m| m.seq).collect()
}

/// A message for a chat the cache never saw creates the chat with its meta.
pub async fn ingest_creates_an_unseen_chat<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    let report = store
        .ingest(&chat, vec![message("c1", 42, "hello")], &closed_chat_ctx())
        .await
        .expect("ingest");
    assert_eq!(report.new_seqs, vec![42]);
    let record = store
        .chat(&chat)
        .await
        .expect("read")
        .expect("record created");
    assert_eq!(record.unread, 1);
    assert_eq!(record.last_message.as_deref(), Some("hello"));
    assert_eq!(record.held.ranges(), &[SeqRange::new(42, 42)]);
    assert_eq!(record.message_count, 1);
    assert!(record.bytes > 0);
}

/// Ingesting the same messages twice stores them once.
pub async fn ingest_is_idempotent<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 10), &closed_chat_ctx())
        .await
        .expect("first");
    let again = store
        .ingest(&chat, messages("c1", 5, 12), &closed_chat_ctx())
        .await
        .expect("second");
    assert_eq!(again.new_seqs, vec![11, 12]);
    assert_eq!(again.duplicates, 6);
    let record = chat_record(&store, &chat).await;
    assert_eq!(record.message_count, 12);
    assert_eq!(record.unread, 12, "a duplicate is never unread twice");
    let all = store
        .range(&chat, SeqRange::new(1, 100))
        .await
        .expect("range");
    assert_eq!(seqs(&all.messages), (1..=12).collect::<Vec<_>>());
}

/// Out-of-order arrivals keep exact held ranges, and gaps are visible without reading messages.
pub async fn held_ranges_track_gaps<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    for seq in [9, 3, 1, 2, 7] {
        store
            .ingest(&chat, vec![message("c1", seq, "x")], &closed_chat_ctx())
            .await
            .expect("ingest");
    }
    let record = chat_record(&store, &chat).await;
    assert_eq!(
        record.held.ranges(),
        &[
            SeqRange::new(1, 3),
            SeqRange::new(7, 7),
            SeqRange::new(9, 9)
        ]
    );
    let gaps = record.held.gaps(12);
    assert_eq!(
        gaps.interior,
        vec![SeqRange::new(4, 6), SeqRange::new(8, 8)]
    );
    assert_eq!(gaps.trailing, Some(SeqRange::new(10, 12)));
}

/// The newest window is bounded, ascending, and reads only what it returns.
pub async fn newest_window_and_ranges_are_bounded<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 300), &closed_chat_ctx())
        .await
        .expect("ingest");
    fill(&store, "c2", 1, 5).await;
    let newest = store.newest(&chat, 50).await.expect("newest");
    assert_eq!(seqs(&newest.messages), (251..=300).collect::<Vec<_>>());
    let middle = store
        .range(&chat, SeqRange::new(100, 109))
        .await
        .expect("range");
    assert_eq!(seqs(&middle.messages), (100..=109).collect::<Vec<_>>());
    assert!(
        middle.messages.iter().all(|m| m.request_id == chat),
        "no other chat leaks in"
    );
    let too_big = store.range(&chat, SeqRange::new(1, MAX_READ + 1)).await;
    assert_eq!(
        too_big,
        Err(StoreError::ReadTooLarge {
            asked: MAX_READ + 1
        })
    );
    let empty = store
        .newest(&RequestId::from("unknown"), 50)
        .await
        .expect("unknown chat");
    assert!(empty.messages.is_empty());
}

/// The same seq with different content keeps the server's copy and reports it.
pub async fn changed_content_keeps_the_incoming_copy<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, vec![message("c1", 1, "old")], &closed_chat_ctx())
        .await
        .expect("first");
    let report = store
        .ingest(&chat, vec![message("c1", 1, "new")], &closed_chat_ctx())
        .await
        .expect("second");
    assert_eq!(report.anomalies.len(), 1);
    let window = store.newest(&chat, 10).await.expect("read");
    assert_eq!(window.messages[0].body, "new");
    let mut tombstone = message("c1", 1, "");
    tombstone.deleted = true;
    let report = store
        .ingest(&chat, vec![tombstone], &closed_chat_ctx())
        .await
        .expect("delete");
    assert!(report.anomalies.is_empty(), "a deletion is not an anomaly");
    let window = store.newest(&chat, 10).await.expect("read");
    assert!(window.messages[0].deleted, "the tombstone keeps its seq");
}

/// Invalid messages are refused and nothing is written.
pub async fn invalid_messages_touch_nothing<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    let mut foreign = message("c2", 3, "other chat");
    foreign.request_id = RequestId::from("c2");
    let report = store
        .ingest(
            &chat,
            vec![message("c1", 0, "zero"), foreign],
            &closed_chat_ctx(),
        )
        .await
        .expect("ingest");
    assert_eq!(report.rejected.len(), 2);
    assert!(report.new_seqs.is_empty());
    let window = store.newest(&chat, 10).await.expect("read");
    assert!(window.messages.is_empty());
    assert!(store
        .newest(&RequestId::from("c2"), 10)
        .await
        .expect("read")
        .messages
        .is_empty());
    // A refused batch writes no record either: before, it left an empty record for a chat
    // that only the refused input named (an empty or hostile request id included).
    let mut nameless = message("c1", 0, "zero");
    nameless.request_id = RequestId::from("");
    store
        .ingest(&RequestId::from(""), vec![nameless], &closed_chat_ctx())
        .await
        .expect("ingest");
    assert_eq!(store.chat(&chat).await.expect("read"), None);
    assert!(store.chats().await.expect("read").is_empty());
}

/// A server echo removes the outbox entry it confirms, in the same transaction.
pub async fn echo_confirms_the_outbox_entry<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .outbox_enqueue(outbox_entry("tmp-1", "c1", 1))
        .await
        .expect("enqueue");
    store
        .outbox_enqueue(outbox_entry("tmp-2", "c1", 2))
        .await
        .expect("enqueue");
    let mut echo = message("c1", 1, "draft tmp-1");
    echo.client_temp_id = Some("tmp-1".into());
    let report = store
        .ingest(&chat, vec![echo], &closed_chat_ctx())
        .await
        .expect("ingest");
    assert_eq!(report.confirmed_outbox, vec!["tmp-1".to_owned()]);
    let left: Vec<String> = store
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .map(|e| e.client_temp_id)
        .collect();
    assert_eq!(left, vec!["tmp-2".to_owned()]);
}

/// The outbox keeps writing order, refuses the 101st entry and duplicate keys.
pub async fn outbox_capacity_order_and_updates<S: Store>(store: S) {
    for i in 0..OUTBOX_CAPACITY as Millis {
        let entry = store
            .outbox_enqueue(outbox_entry(&format!("t{i:03}"), "c1", i))
            .await
            .expect("room");
        assert_eq!(entry.state, OutboxState::Queued);
        assert_eq!(entry.created_at, i);
    }
    let full = store.outbox_enqueue(outbox_entry("t100", "c1", 100)).await;
    assert_eq!(
        full,
        Err(StoreError::Outbox(OutboxError::Full {
            capacity: OUTBOX_CAPACITY
        }))
    );
    let entries = store.outbox().await.expect("outbox");
    assert_eq!(entries.len(), OUTBOX_CAPACITY);
    assert!(
        entries.windows(2).all(|w| w[0].order < w[1].order),
        "writing order"
    );
    let mut first = entries[0].clone();
    first.state = OutboxState::Failed {
        reason: "403 forbidden".into(),
    };
    store.outbox_update(&first).await.expect("update");
    assert_eq!(store.outbox().await.expect("outbox")[0].state, first.state);
    store
        .outbox_remove(&first.client_temp_id)
        .await
        .expect("remove");
    store
        .outbox_enqueue(outbox_entry("t100", "c1", 100))
        .await
        .expect("room again");
    let duplicate = store.outbox_enqueue(outbox_entry("t100", "c1", 101)).await;
    assert!(matches!(
        duplicate,
        Err(StoreError::Outbox(OutboxError::Duplicate(_)))
    ));
}

/// Unread counts: not while the chat is open, never for own messages, cleared by reading.
pub async fn unread_counts_follow_the_reader<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    let mut open = closed_chat_ctx();
    open.chat_open = true;
    store
        .ingest(&chat, messages("c1", 1, 3), &open)
        .await
        .expect("open");
    assert_eq!(chat_record(&store, &chat).await.unread, 0);
    let mut own = message("c1", 4, "mine");
    own.sender.id = "agent-1".into();
    own.sender.role = SenderRole::Agent;
    store
        .ingest(&chat, vec![own], &closed_chat_ctx())
        .await
        .expect("own");
    store
        .ingest(&chat, messages("c1", 5, 6), &closed_chat_ctx())
        .await
        .expect("closed");
    assert_eq!(chat_record(&store, &chat).await.unread, 2);
    assert!(
        store.mark_read(&chat, 6, 2_000).await.expect("read"),
        "the unread count changed"
    );
    let record = chat_record(&store, &chat).await;
    assert_eq!(record.unread, 0);
    assert_eq!(record.read_seq, 6);
    assert!(
        !store.mark_read(&chat, 6, 2_500).await.expect("read again"),
        "reading the same position again changes no count"
    );
    assert!(
        !store
            .mark_read(&RequestId::from("never-cached"), 3, 2_500)
            .await
            .expect("an unknown chat"),
        "nothing to change in a chat not cached"
    );
}

/// The chat list makes the backend's last sequence known, enabling validation.
pub async fn summaries_make_validation_possible<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 5), &closed_chat_ctx())
        .await
        .expect("ingest");
    store
        .apply_summaries(
            &[ChatSummary {
                request_id: chat.clone(),
                title: "VPN down".into(),
                requester: Person {
                    id: "r".into(),
                    name: "Rita".into(),
                },
                last_seq: 9,
                last_message: Some("any news?".into()),
                updated_at: 5_000,
                change_version: 0,
                closed: false,
            }],
            1_000,
        )
        .await
        .expect("summaries");
    let record = chat_record(&store, &chat).await;
    assert_eq!(record.title, "VPN down");
    assert!(record.backend_last_seq_known);
    assert_eq!(
        record.held.gaps(record.backend_last_seq).trailing,
        Some(SeqRange::new(6, 9))
    );
    store.note_backend_last_seq(&chat, 12).await.expect("note");
    assert_eq!(chat_record(&store, &chat).await.backend_last_seq, 12);
}

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

/// A full reload's page replaces the chat's cached copy in the ingest that writes it (one
/// transaction in IndexedDB): nothing of the old copy stays, other chats are untouched.
pub async fn a_full_reload_replaces_the_chat_in_one_ingest<S: Store>(store: S) {
    fill(&store, "a", 1, 10).await;
    fill(&store, "b", 1, 5).await;
    let reload = IngestContext {
        source: Source::FullReload,
        ..closed_chat_ctx()
    };
    store
        .ingest(&RequestId::from("a"), messages("a", 20, 22), &reload)
        .await
        .expect("reload");
    let a = store
        .chat(&RequestId::from("a"))
        .await
        .expect("read")
        .expect("the reloaded chat");
    assert_eq!(a.held.ranges(), &[SeqRange::new(20, 22)]);
    assert_eq!(a.message_count, 3);
    let window = store.newest(&RequestId::from("a"), 50).await.expect("read");
    assert_eq!(
        window.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![20, 21, 22],
        "the old copy is gone"
    );
    assert_eq!(
        store
            .newest(&RequestId::from("b"), 50)
            .await
            .expect("read")
            .messages
            .len(),
        5,
        "another chat is untouched"
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

pub use changes::{
    a_change_of_older_history_waits_for_its_message, edits_and_redactions_follow_the_version_rule,
    revoking_a_chat_lets_go_of_all_of_it,
};
pub use media::media_index_rules_hold_in_every_store;

/// Expands to one test per suite check for a store factory.
///
/// `quota = …` is a factory for a store that refuses writes past about 20,000 bytes.
/// `blocking` runs each check with `futures::executor::block_on` under `#[test]` (native);
/// `wasm` makes `#[wasm_bindgen_test]` async tests (the factory may `.await`).
#[macro_export]
macro_rules! store_test_suite {
    ($kind:ident, $make:expr, quota = $make_quota:expr) => {
        $crate::store_test_suite!(@each $kind, $make,
            ingest_creates_an_unseen_chat,
            ingest_is_idempotent,
            held_ranges_track_gaps,
            newest_window_and_ranges_are_bounded,
            changed_content_keeps_the_incoming_copy,
            invalid_messages_touch_nothing,
            echo_confirms_the_outbox_entry,
            outbox_capacity_order_and_updates,
            unread_counts_follow_the_reader,
            summaries_make_validation_possible,
            eviction_drops_oldest_and_keeps_the_outbox,
            clear_chat_is_scoped,
            a_full_reload_replaces_the_chat_in_one_ingest,
            edits_and_redactions_follow_the_version_rule,
            a_change_of_older_history_waits_for_its_message,
            revoking_a_chat_lets_go_of_all_of_it,
            media_index_rules_hold_in_every_store
        );
        $crate::store_test_suite!(@each $kind, $make_quota,
            quota_exhaustion_evicts_and_keeps_the_incoming_message
        );
    };
    (@each blocking, $make:expr, $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                ::futures::executor::block_on($crate::suite::$name($make));
            }
        )+
    };
    (@each wasm, $make:expr, $($name:ident),+) => {
        $(
            #[::wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                $crate::suite::$name($make).await;
            }
        )+
    };
}
