//! The runtime: one database per user (and wiping one), the notice announced for every
//! committed ingest, and opening the signed-in user's own database.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::ingest::Source;
use chat_sync::store::Store;
use chat_sync::suite::{closed_chat_ctx, messages};
use chat_sync::{RequestId, SeqRange, SeqRanges};
use chat_sync_idb::broadcast::{subscribe, ChangeNotice};
use chat_sync_idb::database::database_name;
use chat_sync_idb::runtime::{Handed, Runtime};
use chat_sync_idb::{platform, IdbStore};

use super::unique_name;

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    // Up to 20 s: ample on a slow CI runner; what is waited for takes milliseconds.
    for _ in 0..2_000 {
        if done() {
            return;
        }
        platform::sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

/// Each user has their own database; wiping one leaves the other.
pub async fn per_user_isolation_and_wipe() {
    let alice = unique_name("alice");
    let bob = unique_name("bob");
    assert_ne!(database_name(&alice), database_name(&bob));
    let a = IdbStore::open_for_user(&alice).await.expect("alice");
    let b = IdbStore::open_for_user(&bob).await.expect("bob");
    let chat = RequestId::from("shared-id");
    a.ingest(&chat, messages("shared-id", 1, 5), &closed_chat_ctx())
        .await
        .expect("ingest");
    assert!(
        b.chat(&chat).await.expect("read").is_none(),
        "bob never sees alice's cache"
    );
    assert!(b.newest(&chat, 50).await.expect("read").messages.is_empty());
    b.ingest(&chat, messages("shared-id", 7, 7), &closed_chat_ctx())
        .await
        .expect("ingest");
    a.wipe().await.expect("wipe alice");
    let again = IdbStore::open_for_user(&alice).await.expect("reopen alice");
    assert!(again.chat(&chat).await.expect("read").is_none(), "wiped");
    assert_eq!(again.usage().await.expect("usage").messages, 0);
    let bob_record = b.chat(&chat).await.expect("read").expect("bob keeps his");
    assert_eq!(bob_record.held.ranges(), &[SeqRange::new(7, 7)]);
    again.close();
    chat_sync_idb::wipe(&alice).await.expect("wipe by user id");
}

/// Every committed ingest is announced on the user's channel; a duplicate is not.
pub async fn ingest_announces_changes_on_the_broadcast_channel() {
    let store = super::open_fresh().await;
    let runtime = Runtime::with_store(store, Some("agent-1".into())).expect("runtime");
    let seen: Rc<RefCell<Vec<ChangeNotice>>> = Rc::default();
    let sink = Rc::clone(&seen);
    let _subscription =
        subscribe(runtime.channel(), move |n| sink.borrow_mut().push(n)).expect("subscribe");
    let chat = RequestId::from("c1");
    runtime
        .ingest(&chat, messages("c1", 1, 3), Source::Push)
        .await
        .expect("ingest");
    wait_until("the notice", || !seen.borrow().is_empty()).await;
    let notice = seen.borrow()[0].clone();
    assert_eq!(notice.request_id, chat);
    assert_eq!(notice.new_seqs, vec![1, 2, 3]);
    assert_eq!(notice.unread, 3);
    assert_eq!(notice.source, chat_sync::notice::NoticeSource::Push);
    runtime
        .ingest(&chat, messages("c1", 1, 3), Source::Live)
        .await
        .expect("duplicate");
    runtime
        .ingest(&chat, messages("c1", 4, 4), Source::Live)
        .await
        .expect("next");
    wait_until("the second notice", || seen.borrow().len() >= 2).await;
    platform::sleep(50).await;
    let all = seen.borrow().clone();
    assert_eq!(all.len(), 2, "the duplicate announced nothing: {all:?}");
    assert_eq!(all[1].new_seqs, vec![4]);
}

/// The runtime opens the signed-in user's own database (and asks for persistence without
/// waiting on the answer).
pub async fn runtime_opens_the_users_own_database() {
    let user = unique_name("agent");
    let runtime = Runtime::open(&user).await.expect("open");
    assert_eq!(runtime.store().name(), database_name(&user));
    let report = runtime
        .ingest(&RequestId::from("c1"), messages("c1", 1, 2), Source::Live)
        .await
        .expect("ingest");
    assert_eq!(report.new_seqs, vec![1, 2]);
    let runtime = Rc::new(runtime);
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

/// A write that only adds is handed to the watchers of its chat once its writes are issued,
/// before it commits: the messages stored for the first time and the record the write
/// leaves, and only those (not duplicates, not another chat's, not a change, nothing once the
/// watch is dropped). What was handed over is in the store when the ingest returns.
pub async fn writes_that_add_are_handed_to_the_chats_watchers_before_they_commit() {
    let store = super::open_fresh().await;
    let runtime = Runtime::with_store(store, Some("agent-1".into())).expect("runtime");
    let chat = RequestId::from("c1");
    let handed: Rc<RefCell<Vec<u64>>> = Rc::default();
    let records: Rc<RefCell<Vec<SeqRanges>>> = Rc::default();
    let (sink, record_sink) = (Rc::clone(&handed), Rc::clone(&records));
    let watch = runtime.watch_writes(&chat, move |write| match write {
        Handed::Written(written) => {
            sink.borrow_mut()
                .extend(written.messages.iter().map(|m| m.seq));
            record_sink.borrow_mut().push(written.record.held.clone());
        }
        Handed::Unwritten => panic!("no write failed"),
    });
    let ingest = runtime.ingest(&chat, messages("c1", 1, 3), Source::Fetch);
    futures::pin_mut!(ingest);
    // The first poll runs until the transaction's first request: nothing is written yet.
    assert!(futures::poll!(&mut ingest).is_pending());
    assert!(
        handed.borrow().is_empty(),
        "not before the writes are issued"
    );
    ingest.await.expect("ingest");
    assert_eq!(*handed.borrow(), vec![1, 2, 3]);
    assert_eq!(
        *records.borrow(),
        vec![SeqRanges::from_range(SeqRange::new(1, 3))],
        "with the record it leaves"
    );
    let stored = runtime
        .store()
        .range(&chat, SeqRange::new(1, 3))
        .await
        .expect("read");
    assert_eq!(
        stored.messages.len(),
        3,
        "what was handed over is in the store"
    );
    runtime
        .ingest(&chat, messages("c1", 2, 5), Source::Fetch)
        .await
        .expect("overlapping");
    runtime
        .ingest(&RequestId::from("c2"), messages("c2", 1, 2), Source::Fetch)
        .await
        .expect("another chat");
    let mut edited = messages("c1", 1, 1);
    edited[0].body = "edited".into();
    edited[0].version = 1;
    runtime
        .ingest(
            &chat,
            edited,
            Source::Change(chat_sync::ingest::ChangeFacts::default()),
        )
        .await
        .expect("a change");
    assert_eq!(
        *handed.borrow(),
        vec![1, 2, 3, 4, 5],
        "only the seqs stored for the first time, only this chat's, no change"
    );
    drop(watch);
    runtime
        .ingest(&chat, messages("c1", 6, 6), Source::Fetch)
        .await
        .expect("after the watch");
    assert_eq!(handed.borrow().len(), 5, "nothing after the watch ended");
}

/// A long-lived context does not keep every measure it records: the timeline holds at most
/// `MEASURES_KEPT` of them, and the newest is always there.
pub async fn the_performance_timeline_keeps_a_bounded_number_of_measures() {
    let performance: web_sys::Performance = js_sys::Reflect::get(
        &js_sys::global(),
        &wasm_bindgen::JsValue::from_str("performance"),
    )
    .expect("performance")
    .into();
    let recorded = platform::MEASURES_KEPT as usize * 3 + 7;
    for i in 0..recorded {
        platform::measure(&format!("test:bounded-{i}"), platform::precise_now());
    }
    let ours = |name: &str| {
        performance
            .get_entries_by_type("measure")
            .iter()
            .filter(|e| {
                js_sys::Reflect::get(e, &"name".into())
                    .ok()
                    .and_then(|n| n.as_string())
                    .is_some_and(|n| n.starts_with(name))
            })
            .count()
    };
    let kept = ours("test:bounded-");
    assert!(
        kept <= platform::MEASURES_KEPT as usize,
        "{kept} of {recorded} measures kept"
    );
    assert_eq!(
        ours(&format!("test:bounded-{}", recorded - 1)),
        1,
        "the newest is kept"
    );
}
