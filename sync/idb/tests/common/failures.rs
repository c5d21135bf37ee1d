//! Records that fail to decode, the browser's exceptions mapped to store errors, and a full
//! disk during a runtime ingest.

use chat_sync::ingest::Source;
use chat_sync::outbox::NewOutboxEntry;
use chat_sync::store::{Store, StoreError};
use chat_sync::suite::{closed_chat_ctx, message, messages};
use chat_sync::{RequestId, SeqRange};
use chat_sync_idb::error::DomError;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::store::{write_raw_chat, write_raw_message};
use chat_sync_idb::IdbStore;
use wasm_bindgen::JsValue;

use super::{seqs, unique_name};

/// A record that fails to decode is counted, skipped and marked missing; the good copy
/// replaces it.
pub async fn corrupt_message_is_counted_skipped_and_marked_missing() {
    let store = IdbStore::open_named(&unique_name("corrupt"))
        .await
        .expect("open");
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 10), &closed_chat_ctx())
        .await
        .expect("ingest");
    let damaged = js_sys::Object::new();
    js_sys::Reflect::set(&damaged, &"request_id".into(), &"c1".into()).expect("set");
    js_sys::Reflect::set(&damaged, &"seq".into(), &JsValue::from_f64(5.0)).expect("set");
    js_sys::Reflect::set(&damaged, &"body".into(), &JsValue::from_f64(42.0)).expect("set");
    write_raw_message(&store, &damaged).await.expect("damage");
    let window = store.newest(&chat, 10).await.expect("newest");
    assert_eq!(seqs(&window), vec![1, 2, 3, 4, 6, 7, 8, 9, 10]);
    assert_eq!(window.corrupt, vec![5]);
    assert_eq!(store.corrupt_records_seen(), 1);
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert!(record.corrupt.contains(5));
    assert!(!record.readable_held().contains(5), "treated as missing");
    let report = store
        .ingest(
            &chat,
            vec![message("c1", 5, "message 5")],
            &closed_chat_ctx(),
        )
        .await
        .expect("refetched copy");
    assert_eq!(report.replaced, 1);
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert!(record.corrupt.is_empty());
    assert_eq!(record.unread, 10, "the rewrite is not unread again");
    assert_eq!(
        seqs(&store.newest(&chat, 10).await.expect("newest")),
        (1..=10).collect::<Vec<_>>()
    );
}

/// A chat record that fails to decode makes the chat unusable: it is dropped with its
/// messages and the reason is kept for the runtime.
pub async fn corrupt_chat_record_drops_the_chat() {
    let store = IdbStore::open_named(&unique_name("corrupt-chat"))
        .await
        .expect("open");
    let chat = RequestId::from("c2");
    store
        .ingest(&chat, messages("c2", 1, 10), &closed_chat_ctx())
        .await
        .expect("ingest");
    damage_chat_record(&store, "c2").await;
    assert!(store.chat(&chat).await.expect("read").is_none());
    let dropped = store.take_dropped_chats();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].0, chat);
    assert!(dropped[0].1.contains("fails to decode"), "{}", dropped[0].1);
    assert!(store
        .range(&chat, SeqRange::new(1, 10))
        .await
        .expect("range")
        .messages
        .is_empty());
}

/// The chat list applied over a damaged chat record (read with every record in one
/// `getAll`) drops that chat's record and messages in the same transaction, lists it afresh
/// from the summary, and applies the other summaries; an unchanged record is not rewritten.
pub async fn the_chat_list_over_a_corrupt_record_drops_it_and_lists_it_afresh() {
    let store = IdbStore::open_named(&unique_name("corrupt-list"))
        .await
        .expect("open");
    let (damaged_chat, kept) = (RequestId::from("c2"), RequestId::from("c3"));
    for chat in [&damaged_chat, &kept] {
        store
            .ingest(chat, messages(chat.as_str(), 1, 10), &closed_chat_ctx())
            .await
            .expect("ingest");
    }
    damage_chat_record(&store, "c2").await;
    let summary = |chat: &RequestId, title: &str| chat_sync::ChatSummary {
        request_id: chat.clone(),
        title: title.into(),
        requester: chat_sync::Person {
            id: "q".into(),
            name: "Q".into(),
        },
        last_seq: 12,
        last_message: None,
        updated_at: 1,
        change_version: 0,
        closed: false,
    };
    let listed = [
        summary(&damaged_chat, "listed again"),
        summary(&kept, "kept"),
    ];
    store.apply_summaries(&listed, 1).await.expect("apply");
    let dropped = store.take_dropped_chats();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].0, damaged_chat);
    let fresh = store
        .chat(&damaged_chat)
        .await
        .expect("read")
        .expect("listed");
    assert_eq!(fresh.title, "listed again");
    assert!(fresh.held.is_empty(), "nothing of the damaged copy is held");
    assert!(store
        .range(&damaged_chat, SeqRange::new(1, 10))
        .await
        .expect("range")
        .messages
        .is_empty());
    let other = store.chat(&kept).await.expect("read").expect("kept");
    assert_eq!(other.title, "kept");
    assert_eq!(other.backend_last_seq, 12);
    assert_eq!(
        seqs(
            &store
                .range(&kept, SeqRange::new(1, 10))
                .await
                .expect("range")
        )
        .len(),
        10
    );
    // Listed again unchanged: nothing to write, nothing lost.
    store
        .apply_summaries(&listed, 2)
        .await
        .expect("apply again");
    assert_eq!(store.chat(&kept).await.expect("read"), Some(other));
}

/// Overwrites chat `id`'s record with one whose held ranges do not decode.
async fn damage_chat_record(store: &IdbStore, id: &str) {
    let damaged = js_sys::Object::new();
    js_sys::Reflect::set(&damaged, &"request_id".into(), &id.into()).expect("set");
    js_sys::Reflect::set(&damaged, &"held".into(), &"not ranges".into()).expect("set");
    write_raw_chat(store, &damaged).await.expect("damage");
}

/// A real `QuotaExceededError` maps to `QuotaExceeded` with the browser's message; a closed
/// connection to `Closed`; anything else keeps its name and message.
pub async fn dom_exceptions_map_to_store_errors() {
    let quota = DomError::from_js(
        &web_sys::DomException::new_with_message_and_name("disk full", "QuotaExceededError")
            .expect("exception")
            .into(),
    );
    assert_eq!(
        quota.clone().into_store_error("ingest"),
        StoreError::QuotaExceeded {
            operation: "ingest",
            message: "disk full".into()
        }
    );
    let closed = DomError::new("InvalidStateError", "The database connection is closing.");
    assert!(matches!(
        closed.into_store_error("chat"),
        StoreError::Closed { .. }
    ));
    let other = DomError::new("DataError", "bad key");
    assert_eq!(
        other.into_store_error("range"),
        StoreError::Backend {
            operation: "range",
            name: "DataError".into(),
            message: "bad key".into()
        }
    );
}

/// A full disk during a runtime ingest evicts old messages, keeps every outbox entry, and
/// stores the incoming message.
pub async fn quota_exhaustion_in_the_runtime_keeps_outbox_and_incoming() {
    let store = super::open_fresh_with_budget(20_000).await;
    let runtime = Runtime::with_store(store, Some("agent-1".into())).expect("runtime");
    for i in 0..3 {
        runtime
            .store()
            .outbox_enqueue(NewOutboxEntry {
                client_temp_id: format!("tmp-{i}"),
                request_id: RequestId::from("c0"),
                body: "unsent".into(),
                attachments: Vec::new(),
                created_at: i,
            })
            .await
            .expect("outbox");
    }
    for i in 0..6 {
        let id = format!("c{i}");
        runtime
            .ingest(
                &RequestId::from(id.as_str()),
                messages(&id, 1, 40),
                Source::Fetch,
            )
            .await
            .expect("stored after eviction");
    }
    let report = runtime
        .ingest(
            &RequestId::from("urgent"),
            vec![message("urgent", 1, "help")],
            Source::Push,
        )
        .await
        .expect("incoming stored");
    assert_eq!(report.new_seqs, vec![1]);
    assert_eq!(
        runtime.store().outbox().await.expect("outbox").len(),
        3,
        "outbox never evicted"
    );
    let usage = runtime.store().usage().await.expect("usage");
    assert!(
        usage.message_bytes + usage.outbox_bytes <= 20_000,
        "{usage:?}"
    );
    assert!(usage.messages < 241, "evicted: {usage:?}");
}
