//! The shared store suite's checks of reads and the chat record: bounded reads of the newest
//! window and of ranges, unread counts that follow the reader, and the chat list making the
//! backend's last sequence known.

use super::{chat_record, closed_chat_ctx, fill, message, messages, seqs};
use crate::ranges::SeqRange;
use crate::store::{Store, StoreError, MAX_READ};
use crate::types::{ChatSummary, Person, RequestId, SenderRole};

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

/// The chat list makes the backend's last sequence known, enabling validation; applying it
/// names exactly the chats whose records it created or changed.
pub async fn summaries_make_validation_possible<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 5), &closed_chat_ctx())
        .await
        .expect("ingest");
    let listed = ChatSummary {
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
    };
    let unseen = ChatSummary {
        request_id: RequestId::from("c2"),
        ..listed.clone()
    };
    let changed = store
        .apply_summaries(&[listed.clone(), unseen.clone()], 1_000)
        .await
        .expect("summaries");
    assert_eq!(
        changed,
        [chat.clone(), unseen.request_id.clone()],
        "a changed record and a created one are both named"
    );
    let again = store
        .apply_summaries(&[listed.clone(), unseen.clone()], 1_100)
        .await
        .expect("the same list again");
    assert!(again.is_empty(), "the same list changes nothing: {again:?}");
    let renamed = ChatSummary {
        title: "VPN down again".into(),
        ..unseen
    };
    let changed = store
        .apply_summaries(&[listed, renamed], 1_200)
        .await
        .expect("a renamed chat");
    assert_eq!(changed, [RequestId::from("c2")]);
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
