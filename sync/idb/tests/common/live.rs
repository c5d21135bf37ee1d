//! Live-channel tests that need no server: leader election and hand-over between two
//! channels competing for the same Web Lock in one page, the reconnect backoff against an
//! event stream the test runner's own server refuses (it has no `/api/chat/events`), and the
//! catch-up over real IndexedDB with the counting network double.
//! The stream itself, with the real server, is tested end to end in `tests/tests/live.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::ingest::Source;
use chat_sync::notice::{ChangeNotice, NoticeSource};
use chat_sync::planner::PlannerConfig;
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{ChatSummary, Person, RequestId, SeqRange};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::http::HttpHistoryClient;
use chat_sync_idb::live::{catch_up_with_list, live_lock_name, LiveChannel, LiveStatus};
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::{platform, IdbStore};
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::double::CountingHistory;
use super::unique_name;

type Seen = Rc<RefCell<Vec<LiveStatus>>>;

async fn driver() -> Rc<Driver<HttpHistoryClient>> {
    let store = IdbStore::open_named(&unique_name("live"))
        .await
        .expect("open");
    let runtime = Runtime::with_store(store, Some("agent-1".into())).expect("runtime");
    Rc::new(Driver::new(
        Rc::new(runtime),
        HttpHistoryClient::new(""),
        PlannerConfig::default(),
    ))
}

fn start(driver: &Rc<Driver<HttpHistoryClient>>) -> (LiveChannel, Seen) {
    let seen: Seen = Rc::default();
    let sink = seen.clone();
    let channel = LiveChannel::start(driver.clone(), "", move |status| {
        sink.borrow_mut().push(status)
    })
    .expect("start a live channel");
    (channel, seen)
}

fn leads(seen: &Seen) -> bool {
    seen.borrow().iter().any(|s| *s != LiveStatus::Follower)
}

/// How long a test waits for something that takes milliseconds on an idle machine: long
/// enough that a slow CI runner never fails on time alone. (The times are logged, not
/// asserted; the benchmarks measure them.)
const PATIENCE_MS: f64 = 20_000.0;

/// Waits up to `ms` for `done`, returning the milliseconds it took.
async fn within(ms: f64, what: &str, done: impl Fn() -> bool) -> f64 {
    let started = platform::precise_now();
    while !done() {
        assert!(
            platform::precise_now() - started < ms,
            "timed out after {ms} ms waiting for {what}"
        );
        platform::sleep(5).await;
    }
    platform::precise_now() - started
}

/// `navigator.locks.query()`: (held, pending) counts of the lock `name`.
async fn lock_counts(name: &str) -> (usize, usize) {
    let locks = platform::navigator_property("locks").expect("navigator.locks");
    let query: Function = Reflect::get(&locks, &"query".into())
        .expect("query")
        .dyn_into()
        .expect("a function");
    let promise: Promise = query
        .call0(&locks)
        .expect("query()")
        .dyn_into()
        .expect("a promise");
    let state = JsFuture::from(promise).await.expect("query resolves");
    let count = |key: &str| {
        Reflect::get(&state, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.dyn_into::<Array>().ok())
            .map_or(0, |list| {
                list.iter()
                    .filter(|lock| {
                        Reflect::get(lock, &"name".into())
                            .ok()
                            .and_then(|n| n.as_string())
                            == Some(name.to_owned())
                    })
                    .count()
            })
    };
    (count("held"), count("pending"))
}

/// Two channels of one database in one page: the first leads, the second waits on the lock
/// and stays a follower; dropping the leader promotes the follower; dropping
/// it too leaves the lock free. (The hand-over time is logged.)
pub async fn one_live_channel_leads_and_dropping_it_promotes_the_other() {
    let driver = driver().await;
    let name = live_lock_name(driver.runtime().store().name());
    let (first, first_seen) = start(&driver);
    assert_eq!(first.lock_name(), name);
    within(PATIENCE_MS, "the first channel to lead", || {
        leads(&first_seen)
    })
    .await;
    assert_eq!(first_seen.borrow()[0], LiveStatus::Follower);
    assert_eq!(first_seen.borrow()[1], LiveStatus::Connecting);

    let (second, second_seen) = start(&driver);
    // Give the second channel ample time to (wrongly) take the lock.
    platform::sleep(300).await;
    assert_eq!(*second_seen.borrow(), vec![LiveStatus::Follower]);
    assert_eq!(lock_counts(&name).await, (1, 1), "one holder, one waiter");

    drop(first);
    let took = within(PATIENCE_MS, "the follower to take over", || {
        leads(&second_seen)
    })
    .await;
    assert_eq!(second_seen.borrow()[1], LiveStatus::Connecting);
    assert_eq!(
        lock_counts(&name).await,
        (1, 0),
        "the new leader holds the lock"
    );
    web_sys::console::log_1(&format!("live hand-over took {took:.1} ms").into());

    drop(second);
    let started = platform::precise_now();
    while lock_counts(&name).await != (0, 0) {
        assert!(
            platform::precise_now() - started < PATIENCE_MS,
            "the lock is still held after both channels were dropped"
        );
        platform::sleep(5).await;
    }
}

/// The test runner's server answers `/api/chat/events` with 404, so the browser gives up on
/// the stream (readyState CLOSED): the leader reports `Reconnecting` with a growing attempt
/// count and opens a new stream after the backoff (about 0.5–1 s, then 1–2 s).
pub async fn a_refused_stream_is_reopened_with_backoff() {
    let driver = driver().await;
    let (channel, seen) = start(&driver);
    let first = within(PATIENCE_MS, "the first failure", || {
        seen.borrow()
            .contains(&LiveStatus::Reconnecting { attempt: 1 })
    })
    .await;
    let second = within(PATIENCE_MS, "a second attempt after the backoff", || {
        seen.borrow()
            .contains(&LiveStatus::Reconnecting { attempt: 2 })
    })
    .await;
    assert!(second >= 400.0, "reconnected without waiting: {second} ms");
    assert!(
        !seen.borrow().contains(&LiveStatus::Connected),
        "a 404 is not a connection: {:?}",
        seen.borrow()
    );
    web_sys::console::log_1(
        &format!("first failure after {first:.0} ms, second attempt {second:.0} ms later").into(),
    );
    drop(channel);
}

fn summary(request_id: &str, last_seq: u64) -> ChatSummary {
    ChatSummary {
        request_id: RequestId::from(request_id),
        title: format!("chat {request_id}"),
        requester: Person {
            id: "requester-1".into(),
            name: "Requester".into(),
        },
        last_seq,
        last_message: None,
        updated_at: 0,
        change_version: 0,
        closed: false,
    }
}

/// The catch-up after a reconnect: a cached chat holding 5..=10 and 20..=25 whose backend is
/// now at 40 gets exactly 11..=19 and 26..=40, once each, never the older 1..=4; a listed
/// chat with nothing cached is not fetched; a second catch-up fetches nothing. Every chat
/// whose record the list changed is announced to the views (whichever context applied it),
/// and a list that changes nothing announces nothing.
pub async fn catch_up_fetches_only_interior_and_trailing_gaps() {
    let store = IdbStore::open_named(&unique_name("catch-up"))
        .await
        .expect("open");
    let runtime = Rc::new(Runtime::with_store(store, Some("agent-1".into())).expect("runtime"));
    let chat = RequestId::from("c1");
    for (from, to) in [(5, 10), (20, 25)] {
        runtime
            .ingest(&chat, messages("c1", from, to), Source::Live)
            .await
            .expect("seed");
    }
    let history = CountingHistory::new("c1", messages("c1", 1, 40), 100, 0);
    let driver = Driver::new(
        Rc::clone(&runtime),
        history.clone(),
        PlannerConfig {
            gap_grace_ms: 0,
            ..PlannerConfig::default()
        },
    );
    let list = [summary("c1", 40), summary("c2", 7)];
    let notices: Rc<RefCell<Vec<ChangeNotice>>> = Rc::default();
    let sink = notices.clone();
    let _subscription = chat_sync_idb::broadcast::subscribe(runtime.channel(), move |notice| {
        sink.borrow_mut().push(notice)
    })
    .expect("subscribe");
    let summaries_announced = |notices: &[ChangeNotice]| -> Vec<String> {
        let mut ids: Vec<String> = notices
            .iter()
            .filter(|n| n.source == NoticeSource::Chat)
            .map(|n| n.request_id.to_string())
            .collect();
        ids.sort();
        ids
    };
    // Notices from one channel object arrive in the order posted: once this marker is in,
    // every notice posted before it is too.
    let marker = RequestId::from("marker");
    let settle = |n: usize| {
        runtime.announce_outbox_change(&marker);
        let notices = notices.clone();
        let marker = marker.clone();
        async move {
            within(PATIENCE_MS, "the marker notice", || {
                notices
                    .borrow()
                    .iter()
                    .filter(|x| x.request_id == marker)
                    .count()
                    == n
            })
            .await;
        }
    };

    let report = catch_up_with_list(&driver, &list, chat_sync_idb::platform::now_ms())
        .await
        .expect("catch up");
    assert_eq!(report.chats_listed, 2);
    assert_eq!(report.chats_cached, 1, "c2 has nothing cached");
    assert_eq!(report.chats_repaired, 1);
    assert_eq!(report.seqs_missing, 9 + 15);
    assert_eq!(report.seqs_still_missing, 0, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let asks = history.asks_per_seq();
    let expected: Vec<u64> = (11..=19).chain(26..=40).collect();
    assert_eq!(
        asks.keys().copied().collect::<Vec<_>>(),
        expected,
        "{:?}",
        history.served()
    );
    assert!(
        asks.values().all(|n| *n == 1),
        "a seq asked twice: {asks:?}"
    );
    assert!(
        history.served().iter().all(|s| s.kind == "range"),
        "no reload"
    );
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("c1");
    assert_eq!(record.held.ranges().to_vec(), vec![SeqRange::new(5, 40)]);
    assert!(runtime
        .store()
        .chat(&RequestId::from("c2"))
        .await
        .expect("read")
        .is_none_or(|r| r.held.is_empty()));

    settle(1).await;
    assert_eq!(
        summaries_announced(&notices.borrow()),
        ["c1", "c2"],
        "each chat the list changed is announced: {:?}",
        notices.borrow()
    );

    notices.borrow_mut().clear();
    let served = history.served().len();
    let again = catch_up_with_list(&driver, &list, chat_sync_idb::platform::now_ms())
        .await
        .expect("catch up again");
    assert_eq!(again.chats_repaired, 0, "{again:?}");
    assert_eq!(
        history.served().len(),
        served,
        "nothing fetched the second time"
    );
    settle(1).await;
    assert_eq!(
        summaries_announced(&notices.borrow()),
        Vec::<String>::new(),
        "the same list again changes no record"
    );

    let renamed = [
        ChatSummary {
            title: "<b>renamed</b>".into(),
            ..summary("c2", 7)
        },
        summary("c1", 40),
    ];
    catch_up_with_list(&driver, &renamed, chat_sync_idb::platform::now_ms())
        .await
        .expect("catch up with a renamed chat");
    settle(2).await;
    assert_eq!(summaries_announced(&notices.borrow()), ["c2"]);
}

/// Holds the lock `name` from plain script the way a frozen page holds it: granted, and
/// nothing behind it answers anything. Returns `{ granted, outcome, release() }`, where
/// `outcome` becomes the error name when the lock is stolen (`AbortError`).
fn hold_like_a_frozen_page(name: &str, steal: bool) -> JsValue {
    let hold = Function::new_with_args(
        "name, steal",
        "const h = { granted: false, outcome: null };
         const held = new Promise(resolve => { h.release = resolve; });
         navigator.locks.request(name, { steal }, () => { h.granted = true; return held; })
           .then(() => { h.outcome = 'released'; }, e => { h.outcome = e.name; });
         return h;",
    );
    hold.call2(
        &JsValue::UNDEFINED,
        &JsValue::from_str(name),
        &JsValue::from_bool(steal),
    )
    .expect("navigator.locks.request from script")
}

fn field(holder: &JsValue, key: &str) -> JsValue {
    Reflect::get(holder, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A leader that runs nothing (a page frozen by the browser, here a plain script holding
/// the lock) does not keep the live channel from every other tab: the waiting channel's
/// probe goes unanswered, it steals the lock within seconds (first probe after 1 s, 3 s to
/// answer), and its withdrawn wait leaves no request queued behind itself.
pub async fn a_frozen_leader_is_taken_over() {
    let driver = driver().await;
    let name = live_lock_name(driver.runtime().store().name());
    let frozen = hold_like_a_frozen_page(&name, false);
    within(PATIENCE_MS, "the script to hold the lock", || {
        field(&frozen, "granted").is_truthy()
    })
    .await;
    let (channel, seen) = start(&driver);
    let took = within(PATIENCE_MS, "the waiting channel to take over", || {
        leads(&seen)
    })
    .await;
    assert!(
        took >= 900.0,
        "took over after {took} ms, before its first probe could be answered"
    );
    within(PATIENCE_MS, "the frozen holder to lose the lock", || {
        field(&frozen, "outcome").as_string().is_some()
    })
    .await;
    assert_eq!(
        field(&frozen, "outcome").as_string().as_deref(),
        Some("AbortError")
    );
    assert_eq!(
        lock_counts(&name).await,
        (1, 0),
        "the new leader holds the lock and its withdrawn wait is not queued"
    );
    web_sys::console::log_1(&format!("frozen leader taken over after {took:.0} ms").into());
    drop(channel);
}

/// A running leader answers every probe, so a waiting channel never steals from it: past
/// the first probe and its answer time (1 s + 3 s) the second channel still follows.
pub async fn a_running_leader_keeps_the_lock() {
    let driver = driver().await;
    let name = live_lock_name(driver.runtime().store().name());
    let (first, first_seen) = start(&driver);
    within(PATIENCE_MS, "the first channel to lead", || {
        leads(&first_seen)
    })
    .await;
    let (second, second_seen) = start(&driver);
    platform::sleep(5_000).await;
    assert_eq!(*second_seen.borrow(), vec![LiveStatus::Follower]);
    assert_eq!(
        first_seen
            .borrow()
            .iter()
            .rposition(|s| *s == LiveStatus::Follower),
        Some(0),
        "the leader lost its lock: {:?}",
        first_seen.borrow()
    );
    assert_eq!(lock_counts(&name).await, (1, 1), "one holder, one waiter");
    drop(second);
    drop(first);
}

/// A leader whose lock is stolen stops leading at once (it reports `Follower` and queues
/// again), and, since the thief answers no probe either, takes the lock back.
pub async fn a_leader_whose_lock_is_stolen_follows_again() {
    let driver = driver().await;
    let name = live_lock_name(driver.runtime().store().name());
    let (channel, seen) = start(&driver);
    within(PATIENCE_MS, "the channel to lead", || leads(&seen)).await;
    let led = seen.borrow().len();
    let thief = hold_like_a_frozen_page(&name, true);
    within(PATIENCE_MS, "the channel to follow again", || {
        seen.borrow()[led..].contains(&LiveStatus::Follower)
    })
    .await;
    // The browser settles the stolen holder's request and grants the thief's in separate
    // tasks, in no fixed order, so the old leader may report `Follower` before the
    // thief's callback has run.
    within(PATIENCE_MS, "the thief to be granted the lock", || {
        field(&thief, "granted").is_truthy()
    })
    .await;
    assert_eq!(
        lock_counts(&name).await,
        (1, 1),
        "the thief holds the lock, the old leader waits"
    );
    let back = within(PATIENCE_MS, "the channel to take its lock back", || {
        let statuses = seen.borrow();
        let follow = statuses[led..]
            .iter()
            .position(|s| *s == LiveStatus::Follower)
            .map_or(usize::MAX, |i| led + i);
        statuses
            .iter()
            .skip(follow)
            .any(|s| *s != LiveStatus::Follower)
    })
    .await;
    within(PATIENCE_MS, "the thief to lose the lock", || {
        field(&thief, "outcome").as_string().is_some()
    })
    .await;
    assert_eq!(
        field(&thief, "outcome").as_string().as_deref(),
        Some("AbortError")
    );
    web_sys::console::log_1(&format!("took the lock back after {back:.0} ms").into());
    drop(channel);
}
