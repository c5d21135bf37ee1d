//! The driver in one context: it fetches only the missing ranges, falls back to the cursor,
//! fetches a corrupt message again, drops and reloads an unusable chat, and reports its
//! progress; the real `fetch()` client's refusal; and the seeded runtimes these tests and
//! the contexts' tests start from.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::ingest::Source;
use chat_sync::planner::PlannerConfig;
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{RequestId, SeqRange, SyncState};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::error::FetchError;
use chat_sync_idb::http::{HistoryClient, HttpHistoryClient};
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::store::{write_raw_chat, write_raw_message};
use chat_sync_idb::{platform, IdbStore};
use wasm_bindgen::JsValue;

use super::double::CountingHistory;
use super::unique_name;

/// The planner's configuration with pages of `page_limit` and no grace period.
pub fn config(page_limit: u64) -> PlannerConfig {
    PlannerConfig {
        page_limit,
        gap_grace_ms: 0,
        ..PlannerConfig::default()
    }
}

/// A runtime on database `name` whose chat `c1` holds the ranges `held` and knows the
/// backend's last seq.
pub async fn seeded_runtime(name: &str, held: &[(u64, u64)], backend_last: u64) -> Rc<Runtime> {
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
