//! Several contexts sharing a chat through the Web Locks: single flight across two runtimes
//! and across two real browsing contexts, a lock released when its holder dies (a dropped
//! future, a terminated worker), and a leased lock taken over from a frozen holder.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{RequestId, SeqRange};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::{locks, platform, IdbStore};
use futures::future::{join_all, select, Either};
use wasm_bindgen::JsValue;

use super::double::CountingHistory;
use super::driver::{config, seeded_runtime};
use super::unique_name;

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
