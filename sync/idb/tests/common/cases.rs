//! Test bodies beyond the shared suite: migration, connections racing, reopening, corrupt
//! records, quota, per-user isolation and wipe, the runtime's notices, and the driver.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::ingest::Source;
use chat_sync::outbox::NewOutboxEntry;
use chat_sync::planner::PlannerConfig;
use chat_sync::store::{Store, StoreError};
use chat_sync::suite::{closed_chat_ctx, message, messages};
use chat_sync::{RequestId, SeqRange, SyncState};
use chat_sync_idb::broadcast::{subscribe, ChangeNotice};
use chat_sync_idb::codec::encode;
use chat_sync_idb::database::{self, database_name, Database};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::error::{DomError, FetchError};
use chat_sync_idb::http::{HistoryClient, HttpHistoryClient};
use chat_sync_idb::request::transaction_done;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::store::{write_raw_chat, write_raw_message};
use chat_sync_idb::{locks, platform, schema, IdbStore};
use futures::future::{join_all, select, Either};
use wasm_bindgen::{JsCast, JsValue};

use super::double::CountingHistory;
// The catch-up runs in every context (it needs no EventSource), so it joins the shared cases.
pub use super::live::catch_up_fetches_only_interior_and_trailing_gaps;
use super::unique_name;

fn seqs(window: &chat_sync::store::Window) -> Vec<u64> {
    window.messages.iter().map(|m| m.seq).collect()
}

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

/// A database created with schema version 1 and filled is upgraded to the current version
/// with every message and the chat record intact.
pub async fn migration_from_version_1_keeps_every_message() {
    let name = unique_name("migration");
    let chat = RequestId::from("c1");
    {
        let db = database::open(&name, 1).await.expect("open version 1");
        assert_eq!(db.version() as u32, 1);
        let names = db.object_store_names();
        assert!(
            !names.contains(schema::MEDIA),
            "version 1 has no media store"
        );
        // Fill it the way version 1 code did: messages and the chat record.
        fill_raw(&db, &chat, 300).await;
        db.close();
    }
    let store = IdbStore::open_named(&name)
        .await
        .expect("upgrade to current");
    let db = store.database().connection().await.expect("connection");
    assert_eq!(db.version() as u32, schema::CURRENT_VERSION);
    assert!(db.object_store_names().contains(schema::MEDIA));
    let record = store.chat(&chat).await.expect("read").expect("record kept");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 300)]);
    let mut all = Vec::new();
    for start in [1, 101, 201] {
        let window = store
            .range(&chat, SeqRange::new(start, start + 99))
            .await
            .expect("range");
        assert!(window.corrupt.is_empty());
        all.extend(seqs(&window));
    }
    assert_eq!(all, (1..=300).collect::<Vec<_>>(), "every message survived");
    assert_eq!(
        seqs(&store.newest(&chat, 50).await.expect("newest")),
        (251..=300).collect::<Vec<_>>()
    );
    // The new index was built over the messages already stored.
    let tx = Database::transaction(&db, &[schema::MESSAGES], false, "index").expect("tx");
    let index = tx
        .object_store(schema::MESSAGES)
        .expect("messages")
        .index(schema::MESSAGES_BY_TEMP_ID)
        .expect("index created by the upgrade");
    drop(index);
    let meta_tx = Database::transaction(&db, &[schema::META], false, "meta").expect("tx");
    let version = chat_sync_idb::request::request(
        &meta_tx
            .object_store(schema::META)
            .expect("meta")
            .get(&JsValue::from_str(schema::SCHEMA_VERSION_KEY))
            .expect("get"),
    )
    .await
    .expect("read meta");
    assert_eq!(version.as_f64(), Some(f64::from(schema::CURRENT_VERSION)));
}

/// Two connections (as two tabs) ingesting into one chat at once lose nothing: each ingest
/// reads and writes the chat record in one transaction.
pub async fn two_connections_racing_lose_nothing() {
    let name = unique_name("race");
    let a = IdbStore::open_named(&name).await.expect("a");
    let b = IdbStore::open_named(&name).await.expect("b");
    let chat = RequestId::from("c1");
    let mut work = Vec::new();
    for page in 0..10u64 {
        let (store, from) = if page % 2 == 0 {
            (&a, page * 20 + 1)
        } else {
            (&b, page * 20 - 9)
        };
        let chat = chat.clone();
        work.push(async move {
            let ctx = closed_chat_ctx();
            store
                .ingest(&chat, messages("c1", from, from + 29), &ctx)
                .await
                .expect("ingest")
        });
    }
    join_all(work).await;
    let record = a.chat(&chat).await.expect("read").expect("record");
    let expected_max = 9 * 20 - 9 + 29;
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, expected_max)]);
    assert_eq!(record.message_count, expected_max);
    assert_eq!(
        record.unread as u64, expected_max,
        "every message counted once"
    );
    let expected_bytes: u64 = messages("c1", 1, expected_max)
        .iter()
        .map(|m| m.approx_bytes())
        .sum();
    assert_eq!(record.bytes, expected_bytes);
}

/// A connection closed under the store (as the browser may close it) is reopened and the
/// operation retried once.
pub async fn closed_connection_is_reopened_and_retried() {
    let store = IdbStore::open_named(&unique_name("reopen"))
        .await
        .expect("open");
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 5), &closed_chat_ctx())
        .await
        .expect("ingest");
    let db = store.database().connection().await.expect("connection");
    db.close();
    assert_eq!(store.database().opens(), 1);
    let window = store.newest(&chat, 10).await.expect("read after reopening");
    assert_eq!(seqs(&window), vec![1, 2, 3, 4, 5]);
    assert_eq!(store.database().opens(), 2, "reopened once");
}

/// A `versionchange` from another context (a deletion, or a newer schema) closes our
/// connection so the other side is not blocked; after a deletion the store reopens cleanly,
/// after a newer schema it reports the browser's `VersionError` instead of hanging.
pub async fn versionchange_closes_and_reopens_cleanly() {
    let name = unique_name("versionchange");
    let store = IdbStore::open_named(&name).await.expect("open");
    let chat = RequestId::from("c1");
    store
        .ingest(&chat, messages("c1", 1, 3), &closed_chat_ctx())
        .await
        .expect("ingest");
    let deleted = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let seen = deleted.clone();
    store.set_on_deleted(Some(std::rc::Rc::new(move || seen.set(seen.get() + 1))));
    // Another context deletes the database (a sign-out, or "clear everything" in another
    // tab): not blocked by our open connection, and never re-created by it.
    database::delete_database(&name)
        .await
        .expect("delete is not blocked");
    match store.chat(&chat).await {
        Err(StoreError::Closed { message, .. }) => {
            assert!(message.contains("deleted"), "{message}")
        }
        other => panic!("a deleted database was reopened: {other:?}"),
    }
    assert!(
        store
            .ingest(&chat, messages("c1", 4, 4), &closed_chat_ctx())
            .await
            .is_err(),
        "a write re-created the deleted database"
    );
    assert!(store.is_shut());
    assert_eq!(deleted.get(), 1, "the owner is told once");
    assert!(
        !database_names().await.contains(&name),
        "{name} exists again after its deletion"
    );
    // A new handle (a fresh start) opens a fresh database, which another context may then
    // upgrade: the handle closes for it, and reopening meets the browser's VersionError.
    let store = IdbStore::open_named(&name).await.expect("open again");
    store
        .ingest(&chat, messages("c1", 1, 3), &closed_chat_ctx())
        .await
        .expect("works on a fresh handle");
    let newer = database::open(&name, schema::CURRENT_VERSION + 1)
        .await
        .expect("upgrade is not blocked");
    newer.close();
    match store.chat(&chat).await {
        Err(StoreError::Backend { name, .. }) => assert_eq!(name, "VersionError"),
        other => panic!("expected the browser's VersionError, got {other:?}"),
    }
    assert!(!store.is_shut(), "an upgrade is not a deletion");
}

/// The names `indexedDB.databases()` lists.
pub async fn database_names() -> Vec<String> {
    let factory = chat_sync_idb::platform::indexed_db().expect("indexedDB");
    let databases: js_sys::Function = js_sys::Reflect::get(&factory, &"databases".into())
        .expect("databases()")
        .dyn_into()
        .expect("a function");
    let list = wasm_bindgen_futures::JsFuture::from(
        databases
            .call0(&factory)
            .expect("call")
            .dyn_into::<js_sys::Promise>()
            .expect("promise"),
    )
    .await
    .expect("databases");
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|d| js_sys::Reflect::get(&d, &"name".into()).ok()?.as_string())
        .collect()
}

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
    let damaged = js_sys::Object::new();
    js_sys::Reflect::set(&damaged, &"request_id".into(), &"c2".into()).expect("set");
    js_sys::Reflect::set(&damaged, &"held".into(), &"not ranges".into()).expect("set");
    write_raw_chat(&store, &damaged).await.expect("damage");
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

fn config(page_limit: u64) -> PlannerConfig {
    PlannerConfig {
        page_limit,
        gap_grace_ms: 0,
        ..PlannerConfig::default()
    }
}

async fn seeded_runtime(name: &str, held: &[(u64, u64)], backend_last: u64) -> Rc<Runtime> {
    let store = IdbStore::open_named(name).await.expect("open");
    let runtime = Runtime::with_store(store, Some("agent-1".into())).expect("runtime");
    let chat = RequestId::from("c1");
    for &(a, b) in held {
        runtime
            .ingest(&chat, messages("c1", a, b), Source::Push)
            .await
            .expect("seed");
    }
    runtime
        .store()
        .note_backend_last_seq(&chat, backend_last)
        .await
        .expect("last seq");
    Rc::new(runtime)
}

/// The driver requests interior and trailing gaps only, once each, and ends in sync with
/// `fetching` false and the progress complete.
pub async fn driver_fetches_only_missing_ranges() {
    let runtime = seeded_runtime(&unique_name("driver"), &[(1, 10), (20, 30)], 40).await;
    let history = CountingHistory::new("c1", messages("c1", 1, 40), 100, 5);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config(100));
    let chat = RequestId::from("c1");
    let before = driver.status(&chat).await.expect("status");
    assert_eq!(
        before.missing,
        vec![SeqRange::new(31, 40), SeqRange::new(11, 19)]
    );
    assert!(!before.fetching);
    let status = driver.resync(&chat).await.expect("sync");
    let mut asked: Vec<(u64, u64)> = history.served().iter().map(|s| (s.from, s.to)).collect();
    asked.sort();
    assert_eq!(asked, vec![(11, 19), (31, 40)]);
    assert_eq!(status.sync_state, SyncState::InSync);
    assert!(status.missing.is_empty());
    assert!(!status.fetching);
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 40)]);
}

/// Two independent runtimes (each with its own connection, planner and in-flight set, as two
/// tabs or a tab and the service worker) share only IndexedDB and the Web Locks: N concurrent
/// syncs of one chat request each missing seq exactly once.
pub async fn single_flight_across_two_runtimes() {
    let name = unique_name("single-flight");
    let first = seeded_runtime(&name, &[(1, 100), (400, 500), (900, 950)], 1_000).await;
    let second = Rc::new(
        Runtime::with_store(IdbStore::open_named(&name).await.expect("open"), None)
            .expect("runtime"),
    );
    let history = CountingHistory::new("c1", messages("c1", 1, 1_000), 100, 15);
    let a = Driver::new(Rc::clone(&first), history.clone(), config(100));
    let b = Driver::new(Rc::clone(&second), history.clone(), config(100));
    let chat = RequestId::from("c1");
    let syncs = (0..6).map(|i| {
        let driver = if i % 2 == 0 { &a } else { &b };
        let chat = chat.clone();
        async move { driver.resync(&chat).await.expect("sync") }
    });
    let statuses = join_all(syncs).await;
    assert!(statuses.iter().all(|s| !s.fetching));
    let asks = history.asks_per_seq();
    let missing: Vec<u64> = (101..=399).chain(501..=899).chain(951..=1_000).collect();
    for seq in &missing {
        assert_eq!(
            asks.get(seq),
            Some(&1),
            "seq {seq} asked {:?} times",
            asks.get(seq)
        );
    }
    assert_eq!(asks.len(), missing.len(), "nothing held was asked for");
    let record = first
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 1_000)]);
    assert_eq!(record.message_count, 1_000);
    let requests = history.served().len();
    assert!(
        requests >= 8,
        "748 missing seqs need at least 8 pages of 100: {requests}"
    );
}

/// A lock whose holder goes away (its future dropped mid-fetch) is released for the next.
pub async fn lock_is_released_when_the_holder_dies() {
    let name = unique_name("lock");
    let holder = locks::with_lock(&name, async {
        platform::sleep(60_000).await;
    });
    let timeout = platform::sleep(50);
    match select(Box::pin(holder), Box::pin(timeout)).await {
        Either::Left(_) => panic!("the holder cannot finish first"),
        Either::Right(_) => {} // The holder is dropped here, mid-"fetch".
    }
    let next = locks::with_lock(&name, async { 7 });
    match select(Box::pin(next), Box::pin(platform::sleep(20_000))).await {
        Either::Left((value, _)) => assert_eq!(value.expect("lock"), 7),
        Either::Right(_) => panic!("the lock was never released"),
    };
}

/// A backend without range fetch is repaired with the cursor fallback.
pub async fn driver_falls_back_to_the_cursor() {
    let runtime = seeded_runtime(&unique_name("cursor"), &[(1, 10)], 30).await;
    let history = CountingHistory::new("c1", messages("c1", 1, 30), 100, 1).without_range_fetch();
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config(100));
    let chat = RequestId::from("c1");
    let status = driver.resync(&chat).await.expect("sync");
    assert!(history.served().iter().all(|s| s.kind == "cursor"));
    assert_eq!(status.sync_state, SyncState::InSync, "{status:?}");
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 30)]);
}

/// A corrupt message is fetched again, and only it.
pub async fn corrupt_message_is_fetched_again() {
    let runtime = seeded_runtime(&unique_name("refetch"), &[(1, 20)], 20).await;
    let damaged = js_sys::Object::new();
    js_sys::Reflect::set(&damaged, &"request_id".into(), &"c1".into()).expect("set");
    js_sys::Reflect::set(&damaged, &"seq".into(), &JsValue::from_f64(7.0)).expect("set");
    write_raw_message(runtime.store(), &damaged)
        .await
        .expect("damage");
    let chat = RequestId::from("c1");
    let window = runtime.store().newest(&chat, 50).await.expect("read");
    assert_eq!(window.corrupt, vec![7]);
    let history = CountingHistory::new("c1", messages("c1", 1, 20), 100, 1);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config(100));
    driver.resync(&chat).await.expect("sync");
    let asked: Vec<(u64, u64)> = history.served().iter().map(|s| (s.from, s.to)).collect();
    assert_eq!(asked, vec![(7, 7)]);
    let window = runtime.store().newest(&chat, 50).await.expect("read");
    assert!(window.corrupt.is_empty());
    assert_eq!(window.messages.len(), 20);
}

/// The real `fetch()` client against the test runner's own HTTP server, which has no API:
/// a 404 is a refusal (the end-to-end tests exercise it against the reference server).
pub async fn http_client_maps_a_404_to_refused() {
    let client = HttpHistoryClient::new("");
    let result = client.fetch_range(&RequestId::from("c1"), 1, 10).await;
    match result {
        Err(FetchError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match client.fetch_chat_list().await {
        Err(FetchError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        client.messages_url(&RequestId::from("a b/c"), &[("from_seq", 1), ("to_seq", 9)]),
        "/api/chat/messages?request_id=a%20b%2Fc&from_seq=1&to_seq=9"
    );
}

const RIVAL: &str = include_str!("rival.js");

const START_RIVAL: &str = r#"
const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
const worker = new Worker(url);
return new Promise((resolve, reject) => {
  worker.onmessage = (e) => { worker.terminate(); URL.revokeObjectURL(url); resolve(e.data); };
  worker.onerror = (e) => { worker.terminate(); reject(new Error(e.message)); };
  worker.postMessage(data);
});"#;

/// Single-flight across two real browsing contexts: this context runs the Rust driver while a
/// dedicated worker fetches the same chat's missing pages under the same Web Lock. Together
/// they request every missing seq exactly once.
pub async fn single_flight_with_a_second_context() {
    use wasm_bindgen::JsCast;
    let name = unique_name("two-contexts");
    let runtime = seeded_runtime(&name, &[(1, 100), (400, 500), (900, 950)], 1_000).await;
    let history = CountingHistory::new("c1", messages("c1", 1, 1_000), 100, 15);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config(100));
    let chat = RequestId::from("c1");
    let missing = [(951u64, 1_000u64), (501, 899), (101, 399)];
    let pages = js_sys::Array::new();
    for (from, to) in missing {
        let mut end = to;
        loop {
            let start = end.saturating_sub(99).max(from);
            let page = js_sys::Array::new();
            page.push(&JsValue::from_f64(start as f64));
            page.push(&JsValue::from_f64(end as f64));
            pages.push(&page);
            if start == from {
                break;
            }
            end = start - 1;
        }
    }
    let data = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| {
        js_sys::Reflect::set(&data, &JsValue::from_str(k), v).expect("set");
    };
    set("dbName", &JsValue::from_str(&name));
    set("rid", &JsValue::from_str("c1"));
    set(
        "lockName",
        &JsValue::from_str(&chat_sync_idb::driver::fetch_lock_name(&name, &chat)),
    );
    set("pages", &pages);
    set(
        "records",
        &chat_sync_idb::codec::encode_all(&messages("c1", 1, 1_000), "test").expect("encode"),
    );
    let start = js_sys::Function::new_with_args("src, data", START_RIVAL);
    let rival: js_sys::Promise = start
        .call2(&JsValue::NULL, &JsValue::from_str(RIVAL), &data)
        .expect("start the worker")
        .unchecked_into();
    let rival = wasm_bindgen_futures::JsFuture::from(rival);
    let ours = async {
        // Let the worker start and queue for the lock, then sync concurrently with it.
        platform::sleep(20).await;
        let a = driver.resync(&chat);
        let b = driver.resync(&chat);
        futures::future::join(a, b).await
    };
    let (rival, (a, b)) = futures::future::join(rival, ours).await;
    a.expect("sync");
    b.expect("sync");
    let rival = rival.expect("the worker finished");
    let error = js_sys::Reflect::get(&rival, &JsValue::from_str("error")).expect("get");
    assert!(error.is_undefined(), "worker failed: {error:?}");
    let served: js_sys::Array = js_sys::Reflect::get(&rival, &JsValue::from_str("served"))
        .expect("served")
        .unchecked_into();
    let mut asks = history.asks_per_seq();
    let mut by_worker = 0;
    for pair in served.iter() {
        let pair: js_sys::Array = pair.unchecked_into();
        let (a, b) = (
            pair.get(0).as_f64().expect("from") as u64,
            pair.get(1).as_f64().expect("to") as u64,
        );
        for seq in a..=b {
            *asks.entry(seq).or_insert(0) += 1;
            by_worker += 1;
        }
    }
    let expected: Vec<u64> = (101..=399).chain(501..=899).chain(951..=1_000).collect();
    for seq in &expected {
        assert_eq!(
            asks.get(seq),
            Some(&1),
            "seq {seq} asked {:?} times",
            asks.get(seq)
        );
    }
    assert_eq!(asks.len(), expected.len(), "nothing held was asked for");
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 1_000)]);
    wasm_bindgen_test::console_log!(
        "two contexts: the Rust driver asked {} seqs in {} requests, the worker {by_worker} seqs in {} requests",
        history.asks_per_seq().len(),
        history.served().len(),
        served.length()
    );
}

/// An unusable chat (its record fails to decode) is dropped and reloaded from the newest
/// page, with the reason logged.
pub async fn unusable_chat_is_dropped_and_reloaded() {
    let runtime = seeded_runtime(&unique_name("reload"), &[(1, 300)], 300).await;
    let damaged = js_sys::Object::new();
    js_sys::Reflect::set(&damaged, &"request_id".into(), &"c1".into()).expect("set");
    js_sys::Reflect::set(&damaged, &"unread".into(), &"many".into()).expect("set");
    write_raw_chat(runtime.store(), &damaged)
        .await
        .expect("damage");
    let history = CountingHistory::new("c1", messages("c1", 1, 300), 100, 1);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config(100));
    let chat = RequestId::from("c1");
    let status = driver.sync(&chat).await.expect("sync");
    assert_eq!(driver.stats().full_reloads, 1);
    let served = history.served();
    assert_eq!(served.len(), 1, "{served:?}");
    // The dropped record took the backend's last seq with it: the reload asks the cursor for
    // the newest page below the top of the seq space, which is 201..=300.
    assert_eq!(
        (served[0].kind, served[0].from, served[0].to),
        ("cursor", 201, 300)
    );
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.held.ranges(), &[SeqRange::new(201, 300)]);
    assert!(record.backend_last_seq_known);
    assert!(status.missing.is_empty());
    assert_eq!(status.older, Some(SeqRange::new(1, 200)));
}

/// While a repair runs the status says `fetching` and counts progress; before and after,
/// `fetching` is false.
pub async fn status_reports_fetching_and_progress_during_a_repair() {
    let runtime = seeded_runtime(&unique_name("progress"), &[(1, 10)], 400).await;
    let history = CountingHistory::new("c1", messages("c1", 1, 400), 100, 40);
    let driver = Driver::new(Rc::clone(&runtime), history, config(100));
    let chat = RequestId::from("c1");
    assert!(!driver.status(&chat).await.expect("status").fetching);
    let samples: RefCell<Vec<chat_sync_idb::driver::ChatStatus>> = RefCell::default();
    let done = std::cell::Cell::new(false);
    let watcher = async {
        while !done.get() {
            let status = driver.status(&chat).await.expect("status");
            samples.borrow_mut().push(status);
            platform::sleep(5).await;
        }
    };
    let sync = async {
        let status = driver.resync(&chat).await.expect("sync");
        done.set(true);
        status
    };
    let (status, ()) = futures::future::join(sync, watcher).await;
    let samples = samples.into_inner();
    assert!(samples.iter().any(|s| s.fetching), "fetching was seen");
    assert!(
        samples
            .iter()
            .any(|s| s.progress.total == 390 && s.progress.done < 390),
        "a repair of 390 messages in progress was seen"
    );
    assert!(samples.iter().all(|s| s.progress.done <= s.progress.total));
    assert!(!status.fetching);
    assert!(status.missing.is_empty());
    assert_eq!(status.sync_state, SyncState::InSync);
}

const HOLD_AND_DIE: &str = r#"
const src = "onmessage = (e) => navigator.locks.request(e.data, () => { postMessage('locked'); return new Promise(() => {}); });";
const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
const worker = new Worker(url);
return new Promise((resolve, reject) => {
  worker.onerror = (e) => reject(new Error(e.message));
  worker.onmessage = () => resolve(() => { worker.terminate(); URL.revokeObjectURL(url); });
  worker.postMessage(name);
});"#;

/// A lock held by another context that dies mid-fetch (a worker terminated while holding the
/// chat's lock) is released by the browser, and this context's fetch goes ahead.
pub async fn lock_held_by_a_dead_context_is_released() {
    use wasm_bindgen::JsCast;
    let name = unique_name("dead-holder");
    let start = js_sys::Function::new_with_args("name", HOLD_AND_DIE);
    let started: js_sys::Promise = start
        .call1(&JsValue::NULL, &JsValue::from_str(&name))
        .expect("start the worker")
        .unchecked_into();
    let kill: js_sys::Function = wasm_bindgen_futures::JsFuture::from(started)
        .await
        .expect("the worker holds the lock")
        .unchecked_into();
    // While the worker lives, the lock is taken.
    let blocked = locks::with_lock(&name, async { 1 });
    match select(Box::pin(blocked), Box::pin(platform::sleep(100))).await {
        Either::Left(_) => panic!("the lock was granted while another context held it"),
        Either::Right((_, waiting)) => {
            // The holder dies mid-"fetch"; the waiting request is granted.
            kill.call0(&JsValue::NULL).expect("terminate");
            match select(waiting, Box::pin(platform::sleep(20_000))).await {
                Either::Left((value, _)) => assert_eq!(value.expect("lock"), 1),
                Either::Right(_) => panic!("the dead holder's lock was never released"),
            }
        }
    };
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

/// Writes messages `1..=count` of `chat` and its record straight into an open database of an
/// older schema, the way the code of that version did (for migration tests).
pub async fn fill_raw(db: &web_sys::IdbDatabase, chat: &RequestId, count: u64) {
    let plan = chat_sync::ingest::plan_ingest(
        chat,
        None,
        &[],
        messages(chat.as_str(), 1, count),
        &closed_chat_ctx(),
    );
    let tx =
        Database::transaction(db, &[schema::MESSAGES, schema::CHATS], true, "fill").expect("tx");
    let store = tx.object_store(schema::MESSAGES).expect("messages");
    for m in &plan.put {
        store.put(&encode(m, "fill").expect("encode")).expect("put");
    }
    tx.object_store(schema::CHATS)
        .expect("chats")
        .put(&encode(&plan.record, "fill").expect("encode"))
        .expect("put");
    transaction_done(&tx).await.expect("commit");
}

/// The mechanism behind "The transaction has finished" in a live page, shown both ways: a
/// store transaction whose future is polled from a `FuturesUnordered` by a loop that, now and
/// then, awaits something else inline (as the live channel's loop awaits each ingest) loses
/// its transaction, since a request that completes meanwhile finds nobody to issue the next
/// one before the browser auto-commits; the same work spawned as its own task
/// (`task::beside`) is polled at once and keeps it.
pub async fn a_transaction_survives_a_busy_loop_only_in_its_own_task() {
    for spawned in [false, true] {
        let store = Rc::new(
            IdbStore::open_named(&unique_name("tx-beside"))
                .await
                .expect("open"),
        );
        let summaries: Vec<chat_sync::ChatSummary> = (1..=200)
            .map(|i| chat_sync::ChatSummary {
                request_id: RequestId::from(format!("c{i}").as_str()),
                title: format!("chat {i}"),
                requester: chat_sync::Person {
                    id: "requester-1".into(),
                    name: "Requester".into(),
                },
                last_seq: 5,
                last_message: None,
                updated_at: 0,
                change_version: 0,
                closed: false,
            })
            .collect();
        let result: Rc<RefCell<Option<Result<(), StoreError>>>> = Rc::default();
        let work = {
            let (store, summaries, result) = (store.clone(), summaries.clone(), result.clone());
            async move {
                let outcome = store.apply_summaries(&summaries, 1).await;
                *result.borrow_mut() = Some(outcome);
            }
        };
        let mut tasks: futures::stream::FuturesUnordered<
            futures::future::LocalBoxFuture<'static, ()>,
        > = futures::stream::FuturesUnordered::new();
        tasks.push(if spawned {
            chat_sync_idb::task::beside(work)
        } else {
            Box::pin(work)
        });
        let mut inline_waits = 0;
        while result.borrow().is_none() {
            let tick = futures::FutureExt::fuse(platform::sleep(0));
            futures::pin_mut!(tick);
            futures::select! {
                _ = futures::StreamExt::next(&mut tasks) => {}
                () = tick => {
                    // Busy with something else, as the loop is with an ingest.
                    inline_waits += 1;
                    platform::sleep(30).await;
                }
            }
        }
        let outcome = result.borrow_mut().take().expect("finished");
        web_sys::console::log_1(
            &format!("spawned {spawned}: {inline_waits} inline waits, {outcome:?}").into(),
        );
        assert!(
            inline_waits > 0,
            "the loop never waited inline: nothing was shown"
        );
        if spawned {
            outcome.expect("a task of its own keeps its transaction");
            let record = store
                .chat(&RequestId::from("c200"))
                .await
                .expect("read")
                .expect("the last summary was applied");
            assert_eq!(record.backend_last_seq, 5);
        } else {
            match outcome {
                Err(StoreError::Backend { name, .. }) => {
                    assert_eq!(name, "TransactionInactiveError")
                }
                other => panic!("the starved transaction did not fail as expected: {other:?}"),
            }
        }
    }
}

/// A holder that keeps a lock past its lease (a page frozen mid-fetch, simulated by a holder
/// that never ends and is never dropped) does not stall the next context for ever: a leased
/// request takes the lock over after its lease, and the holder's own request fails. A plain
/// request would still be waiting.
pub async fn a_leased_lock_is_taken_over_from_a_frozen_holder() {
    let name = unique_name("lease");
    let holder_started = Rc::new(std::cell::Cell::new(false));
    let started = holder_started.clone();
    let holder_result: Rc<RefCell<Option<Result<(), String>>>> = Rc::default();
    let result = holder_result.clone();
    let lock = name.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = locks::with_lock(&lock, async {
            started.set(true);
            // Frozen: never ends.
            futures::future::pending::<()>().await;
        })
        .await;
        *result.borrow_mut() = Some(outcome.map_err(|e| e.to_string()));
    });
    while !holder_started.get() {
        platform::sleep(5).await;
    }
    let plain = locks::with_lock(&name, async { "plain" });
    match select(Box::pin(plain), Box::pin(platform::sleep(400))).await {
        Either::Left(_) => panic!("a plain request got a lock that is held"),
        Either::Right(_) => {}
    }
    let began = platform::precise_now();
    let leased = locks::with_lock_leased(&name, 300, async { 7 });
    match select(Box::pin(leased), Box::pin(platform::sleep(10_000))).await {
        Either::Left((value, _)) => assert_eq!(value.expect("the lock"), 7),
        Either::Right(_) => panic!("the leased request waited past its lease"),
    };
    let waited = platform::precise_now() - began;
    assert!(
        waited >= 250.0,
        "taken over before the lease ran out: {waited} ms"
    );
    web_sys::console::log_1(&format!("lock taken over after {waited:.0} ms").into());
}
