//! The database itself: the migration from schema version 1, two connections racing on one
//! chat, a connection closed under the store, `versionchange` from another context, and why
//! a store transaction must run in its own task; with the helpers that list the databases and
//! write an older schema's records.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::store::{Store, StoreError};
use chat_sync::suite::{closed_chat_ctx, messages};
use chat_sync::{RequestId, SeqRange};
use chat_sync_idb::codec::encode;
use chat_sync_idb::database::{self, Database};
use chat_sync_idb::request::transaction_done;
use chat_sync_idb::{platform, schema, IdbStore};
use futures::future::join_all;
use wasm_bindgen::{JsCast, JsValue};

use super::{seqs, unique_name};

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
    let tx = Database::transaction(
        &db,
        &[schema::MESSAGES],
        chat_sync_idb::database::Access::Read,
        "index",
    )
    .expect("tx");
    let index = tx
        .object_store(schema::MESSAGES)
        .expect("messages")
        .index(schema::MESSAGES_BY_TEMP_ID)
        .expect("index created by the upgrade");
    drop(index);
    let meta_tx = Database::transaction(
        &db,
        &[schema::META],
        chat_sync_idb::database::Access::Read,
        "meta",
    )
    .expect("tx");
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
    chat_sync_idb::database::database_names()
        .await
        .expect("databases")
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
    let tx = Database::transaction(
        db,
        &[schema::MESSAGES, schema::CHATS],
        chat_sync_idb::database::Access::Write,
        "fill",
    )
    .expect("tx");
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
        let result: Rc<RefCell<Option<Result<usize, StoreError>>>> = Rc::default();
        let work = {
            let (store, summaries, result) = (store.clone(), summaries.clone(), result.clone());
            async move {
                let outcome = store.apply_summaries(&summaries, 1).await;
                *result.borrow_mut() = Some(outcome.map(|changed| changed.len()));
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
            // The loop polls the store's work without waiting for it, then is busy with
            // something else, as the live channel's loop is with an ingest. Every request
            // therefore completes while the loop waits elsewhere: racing a short timer
            // against the first read instead let a quick read finish before the loop turned
            // away, and the starved case then passed by luck.
            let _ = futures::FutureExt::now_or_never(futures::StreamExt::next(&mut tasks));
            if result.borrow().is_some() {
                break;
            }
            inline_waits += 1;
            platform::sleep(30).await;
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
            let changed = outcome.expect("a task of its own keeps its transaction");
            assert_eq!(changed, 200, "every listed chat was created");
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

/// What each IndexedDB transaction asked for, recorded by wrapping
/// `IDBDatabase.prototype.transaction` (restored by [`stop_recording_transactions`]): for
/// each, the stores (comma-joined), the mode and the durability requested in the options.
const RECORD_TRANSACTIONS_JS: &str = r#"
const original = IDBDatabase.prototype.transaction;
const log = [];
IDBDatabase.prototype.transaction = function (names, mode, options) {
  log.push({ stores: [].concat(names).join(','), mode: mode ?? 'readonly',
             durability: options?.durability ?? 'default' });
  return original.call(this, names, mode, options);
};
globalThis.__transactionLog = log;
globalThis.__stopRecordingTransactions = () => { IDBDatabase.prototype.transaction = original; };
"#;

fn record_transactions() {
    js_sys::Function::new_no_args(RECORD_TRANSACTIONS_JS)
        .call0(&JsValue::NULL)
        .expect("wrap IDBDatabase.prototype.transaction");
}

/// Restores the browser's own `transaction` and returns `(stores, mode, durability)` of
/// every transaction recorded.
fn stop_recording_transactions() -> Vec<(String, String, String)> {
    let global = js_sys::global();
    let stop = js_sys::Reflect::get(&global, &"__stopRecordingTransactions".into())
        .expect("recording")
        .dyn_into::<js_sys::Function>()
        .expect("a function");
    stop.call0(&JsValue::NULL).expect("restore");
    let log = js_sys::Reflect::get(&global, &"__transactionLog".into()).expect("log");
    js_sys::Array::from(&log)
        .iter()
        .map(|entry| {
            let field = |name: &str| {
                js_sys::Reflect::get(&entry, &name.into())
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default()
            };
            (field("stores"), field("mode"), field("durability"))
        })
        .collect()
}

/// The cache's writes (an ingest) commit with `relaxed` durability, which the server can
/// give again; the outbox's (an unsent message the agent was told is queued) with `strict`,
/// flushed to disk before the commit is reported. Reads ask for nothing.
pub async fn cache_writes_are_relaxed_and_outbox_writes_strict() {
    let store = super::open_fresh().await;
    let chat = RequestId::from("durability");
    // The connection is opened before the recording starts: only the operations' own
    // transactions are logged.
    store.database().connection().await.expect("connection");
    record_transactions();
    let ingested = store
        .ingest(&chat, messages("durability", 1, 3), &closed_chat_ctx())
        .await;
    let queued = store
        .outbox_enqueue(chat_sync::outbox::NewOutboxEntry {
            client_temp_id: "durable-1".to_owned(),
            request_id: chat.clone(),
            body: "queued while offline".to_owned(),
            attachments: Vec::new(),
            created_at: 1_000,
        })
        .await;
    let read = store.chat(&chat).await;
    let log = stop_recording_transactions();
    ingested.expect("ingest");
    queued.expect("enqueue");
    read.expect("read");
    let durability_of = |stores_start: &str, mode: &str| -> Vec<String> {
        log.iter()
            .filter(|(stores, m, _)| stores.starts_with(stores_start) && m == mode)
            .map(|(_, _, durability)| durability.clone())
            .collect()
    };
    assert_eq!(
        durability_of("messages", "readwrite"),
        vec!["relaxed"],
        "the ingest's transaction: {log:?}"
    );
    assert_eq!(
        durability_of("outbox", "readwrite"),
        vec!["strict"],
        "the enqueue's transaction: {log:?}"
    );
    assert!(
        log.iter()
            .filter(|(_, mode, _)| mode == "readonly")
            .all(|(_, _, durability)| durability == "default"),
        "reads: {log:?}"
    );
}

/// Two events' work interleaved in one context (as a service worker's alice flush and bob's
/// push): each names its own agent on every request it makes, whoever the context acts for
/// meanwhile, and the context's own agent is back once each is polled. The sign-in
/// endpoints never name anyone.
pub async fn work_acting_as_an_agent_names_it_whoever_the_context_acts_for() {
    use chat_sync_idb::agent;
    agent::act_for(Some("u_context"));
    /// Each work's agent, and the agent its request would name.
    type Seen = Rc<RefCell<Vec<(String, Option<String>)>>>;
    let seen: Seen = Rc::default();
    let work = |user: &'static str, pause: i64| {
        let seen = seen.clone();
        agent::acting_as(user, async move {
            for _ in 0..3 {
                seen.borrow_mut()
                    .push((user.to_owned(), agent::expected_for("/api/chat/requests")));
                // Another event takes the context over while this one waits.
                agent::act_for(Some("u_intruder"));
                platform::sleep(pause).await;
            }
            assert_eq!(agent::expected_for("/api/auth/me"), None);
            assert_eq!(
                agent::with_expectation("/api/chat/events"),
                format!("/api/chat/events?expect_user={user}")
            );
        })
    };
    futures::join!(work("u_alice", 3), work("u_bob", 5));
    let seen = seen.borrow();
    assert_eq!(seen.len(), 6);
    for (user, named) in seen.iter() {
        assert_eq!(named.as_deref(), Some(user.as_str()), "{seen:?}");
    }
    assert!(seen.iter().any(|(u, _)| u == "u_alice") && seen.iter().any(|(u, _)| u == "u_bob"));
    // Outside the work, the context's own agent (the work's `act_for` calls were its own).
    assert_eq!(agent::acting_for().as_deref(), Some("u_context"));
    agent::act_for(None);
    assert_eq!(
        agent::with_expectation("/api/chat/events"),
        "/api/chat/events"
    );
}

/// `chat_sync_idb::join::join_all` runs its futures side by side (the first waits for what
/// the second sends, so one after the other would never finish) and gives their outputs in
/// the order given; two store reads joined that way both complete.
pub async fn join_all_runs_its_futures_side_by_side_in_order() {
    use chat_sync_idb::join::join_all;
    use futures::future::LocalBoxFuture;
    let (sender, receiver) = futures::channel::oneshot::channel::<u32>();
    let first: LocalBoxFuture<'static, u32> =
        Box::pin(async move { receiver.await.unwrap_or(0) + 1 });
    let second: LocalBoxFuture<'static, u32> = Box::pin(async move {
        let _ = sender.send(41);
        7
    });
    assert_eq!(join_all(vec![first, second]).await, vec![42, 7]);
    let none: Vec<LocalBoxFuture<'static, u32>> = Vec::new();
    assert!(join_all(none).await.is_empty());
    let store = super::open_fresh().await;
    let chat = RequestId::from("join");
    store
        .ingest(&chat, messages("join", 1, 3), &closed_chat_ctx())
        .await
        .expect("ingest");
    let reads = join_all([1, 3].map(|seq| store.range(&chat, SeqRange::new(seq, seq)))).await;
    let found: Vec<Vec<u64>> = reads
        .into_iter()
        .map(|read| seqs(&read.expect("read")))
        .collect();
    assert_eq!(found, vec![vec![1], vec![3]]);
}
