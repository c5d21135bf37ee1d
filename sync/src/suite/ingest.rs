//! The shared store suite's checks of the merge on ingest ([`crate::ingest`]): an unseen chat
//! is created with its meta, a message is stored once, held ranges stay exact, the server's
//! copy wins, invalid input writes nothing, and a full reload replaces the chat's copy.

use super::{chat_record, closed_chat_ctx, fill, message, messages, seqs};
use crate::ingest::{IngestContext, Source};
use crate::ranges::SeqRange;
use crate::store::Store;
use crate::types::RequestId;

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

/// An ingest made before the check that allows it is taken back whole: the record before
/// it, the copy it replaced, none of its new messages; and when the chat was written again
/// since, the chat's cache is cleared instead, keeping nothing of it either.
pub async fn an_undone_ingest_leaves_nothing_of_itself<S: Store>(store: S) {
    use crate::ingest::UndoOutcome;
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 3), &closed_chat_ctx())
        .await
        .expect("cached before");
    let before = store.chat(&chat).await.expect("read").expect("record");
    let pushed = vec![message("c1", 3, "3, edited"), message("c1", 5, "secret")];
    let (report, undo) = store
        .ingest_undoable(&chat, pushed, &closed_chat_ctx())
        .await
        .expect("write first");
    assert_eq!(report.new_seqs, vec![5]);
    let undo = undo.expect("something was written");
    assert_eq!(
        store.undo_ingest(&undo).await.expect("undo"),
        UndoOutcome::Restored
    );
    assert_eq!(store.chat(&chat).await.expect("read"), Some(before));
    let window = store
        .range(&chat, SeqRange::new(1, 10))
        .await
        .expect("range");
    assert_eq!(seqs(&window.messages), vec![1, 2, 3]);
    assert_eq!(window.messages[2], message("c1", 3, "message 3"));

    // A chat the write created goes entirely.
    let fresh = RequestId::from("c2");
    let (_, undo) = store
        .ingest_undoable(&fresh, vec![message("c2", 7, "secret")], &closed_chat_ctx())
        .await
        .expect("write first");
    let undo = undo.expect("created");
    assert_eq!(
        store.undo_ingest(&undo).await.expect("undo"),
        UndoOutcome::Restored
    );
    assert_eq!(store.chat(&fresh).await.expect("read"), None);
    assert!(store
        .range(&fresh, SeqRange::new(1, 10))
        .await
        .expect("range")
        .messages
        .is_empty());

    // Written again since: the chat's cache is cleared instead of putting back a record
    // that would lose the later write.
    let (_, undo) = store
        .ingest_undoable(&chat, vec![message("c1", 6, "secret")], &closed_chat_ctx())
        .await
        .expect("write first");
    store
        .ingest(&chat, vec![message("c1", 7, "later")], &closed_chat_ctx())
        .await
        .expect("a later write");
    assert_eq!(
        store
            .undo_ingest(&undo.expect("written"))
            .await
            .expect("undo"),
        UndoOutcome::ChatCleared
    );
    assert_eq!(store.chat(&chat).await.expect("read"), None);
    assert!(store
        .range(&chat, SeqRange::new(1, 10))
        .await
        .expect("range")
        .messages
        .is_empty());
}
