//! Test bodies for the outbox sender, the media index and the version-3 schema: real
//! IndexedDB, Cache Storage and `fetch()` in the browser. The sends go to the test runner's
//! own server (which answers every API path with a 4xx) and to a closed port (no reply).

use chat_sync::backoff::BackoffPolicy;
use chat_sync::ingest::Source;
use chat_sync::media_cache::MIN_MEDIA_BUDGET;
use chat_sync::outbox::{OutboxError, OutboxState};
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{RequestId, SeqRange};
use chat_sync_idb::database::{self, Database};
use chat_sync_idb::media;
use chat_sync_idb::outbox_sender::{self, LocalAttachment};
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::{platform, schema, IdbStore, SyncError};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::unique_name;

fn blob(bytes: usize) -> web_sys::Blob {
    let array = js_sys::Uint8Array::new_with_length(bytes as u32);
    array.fill(7, 0, bytes as u32);
    let parts = js_sys::Array::of1(&array);
    web_sys::Blob::new_with_u8_array_sequence(&parts).expect("blob")
}

/// A version-2 database, filled, opens at version 3 with every message, the new
/// `outbox_files` store and the `media` LRU index.
pub async fn migration_from_version_2_keeps_every_message() {
    let name = unique_name("migration2");
    let chat = RequestId::from("c2");
    {
        let db = database::open(&name, 2).await.expect("open version 2");
        assert!(!db.object_store_names().contains(schema::OUTBOX_FILES));
        super::connection::fill_raw(&db, &chat, 250).await;
        db.close();
    }
    let store = IdbStore::open_named(&name).await.expect("upgrade");
    let db = store.database().connection().await.expect("connection");
    assert_eq!(db.version() as u32, 3);
    assert!(db.object_store_names().contains(schema::OUTBOX_FILES));
    let tx = Database::transaction(
        &db,
        &[schema::MEDIA, schema::OUTBOX_FILES],
        chat_sync_idb::database::Access::Read,
        "idx",
    )
    .expect("tx");
    tx.object_store(schema::MEDIA)
        .expect("media")
        .index(schema::MEDIA_BY_LAST_USED)
        .expect("LRU index created by the upgrade");
    tx.object_store(schema::OUTBOX_FILES)
        .expect("files")
        .index(schema::OUTBOX_FILES_BY_ENTRY)
        .expect("files index");
    let record = store.chat(&chat).await.expect("read").expect("record kept");
    assert_eq!(record.held.ranges(), &[SeqRange::new(1, 250)]);
    let mut seqs = Vec::new();
    for start in [1, 126] {
        let window = store
            .range(&chat, SeqRange::new(start, start + 124))
            .await
            .expect("range");
        seqs.extend(window.messages.iter().map(|m| m.seq));
    }
    assert_eq!(
        seqs,
        (1..=250).collect::<Vec<_>>(),
        "every message survived"
    );
    store.wipe().await.expect("wipe");
}

/// The outbox takes 100 entries and refuses the 101st with the typed `Full`, writing nothing;
/// an attachment's bytes are kept with its entry and go when the entry is deleted; empty
/// messages are refused.
pub async fn outbox_refuses_the_101st_and_keeps_files_with_entries() {
    let user = unique_name("outbox");
    let runtime = Runtime::open(&user).await.expect("open");
    let chat = RequestId::from("REQ-1");
    let with_file = outbox_sender::enqueue(
        &runtime,
        &chat,
        "see attached".into(),
        vec![LocalAttachment {
            name: "shot.png".into(),
            mime: "image/png".into(),
            blob: blob(3_000),
        }],
    )
    .await
    .expect("first entry");
    assert_eq!(with_file.attachments.len(), 1);
    assert!(with_file.attachments[0].media_id.starts_with("local:"));
    assert_eq!(with_file.attachments[0].size, 3_000);
    let local = outbox_sender::local_file(&runtime, &with_file.attachments[0].media_id)
        .await
        .expect("local copy");
    assert_eq!(local.size() as u64, 3_000);
    for i in 1..100 {
        outbox_sender::enqueue(&runtime, &chat, format!("message {i}"), Vec::new())
            .await
            .expect("room");
    }
    let refused = outbox_sender::enqueue(&runtime, &chat, "one too many".into(), Vec::new())
        .await
        .expect_err("the 101st is refused");
    assert_eq!(
        refused.outbox_error(),
        Some(&OutboxError::Full { capacity: 100 })
    );
    assert!(refused.to_string().contains("outbox is full"), "{refused}");
    let entries = outbox_sender::entries(&runtime).await.expect("entries");
    assert_eq!(entries.len(), 100, "nothing written by the refusal");
    assert_eq!(entries[0].client_temp_id, with_file.client_temp_id);
    assert!(entries.windows(2).all(|w| w[0].order < w[1].order));
    let empty = outbox_sender::enqueue(&runtime, &chat, "  ".into(), Vec::new()).await;
    assert!(matches!(empty, Err(SyncError::Invalid { .. })), "{empty:?}");
    let long = outbox_sender::enqueue(
        &runtime,
        &chat,
        "x".repeat(outbox_sender::MAX_BODY_BYTES + 1),
        Vec::new(),
    )
    .await;
    assert!(matches!(long, Err(SyncError::Invalid { .. })), "{long:?}");
    let too_many = (0..=outbox_sender::MAX_ATTACHMENTS)
        .map(|i| LocalAttachment {
            name: format!("f{i}"),
            mime: "text/plain".into(),
            blob: blob(1),
        })
        .collect();
    let many = outbox_sender::enqueue(&runtime, &chat, "files".into(), too_many).await;
    assert!(matches!(many, Err(SyncError::Invalid { .. })), "{many:?}");

    outbox_sender::delete(&runtime, &with_file.client_temp_id)
        .await
        .expect("delete");
    let gone = outbox_sender::local_file(&runtime, &with_file.attachments[0].media_id).await;
    assert!(
        matches!(
            gone.as_ref().map_err(SyncError::outbox_error),
            Err(Some(OutboxError::NotFound(_)))
        ),
        "{gone:?}"
    );
    assert_eq!(
        outbox_sender::entries(&runtime)
            .await
            .expect("entries")
            .len(),
        99
    );
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

/// With no reply (a closed port) the flush backs off and keeps everything in order; the
/// backoff is respected by the next flush; a 4xx parks entries with the reason, retry queues
/// one again and delete removes the other.
pub async fn flush_backs_off_offline_and_parks_on_a_4xx() {
    let user = unique_name("flush");
    let mut runtime = Runtime::open(&user).await.expect("open");
    // A backoff of at least a minute: the second flush below falls inside it however slow
    // the machine, so "nothing is due" does not depend on timing.
    runtime.set_send_backoff(BackoffPolicy {
        base_ms: 120_000,
        cap_ms: 120_000,
    });
    let chat = RequestId::from("REQ-2");
    let first = outbox_sender::enqueue(&runtime, &chat, "first".into(), Vec::new())
        .await
        .expect("first");
    let second = outbox_sender::enqueue(&runtime, &chat, "second".into(), Vec::new())
        .await
        .expect("second");

    let before = platform::now_ms();
    let report = outbox_sender::flush(&runtime, "http://127.0.0.1:9")
        .await
        .expect("flush offline");
    assert!(report.sent.is_empty() && report.parked.is_empty());
    assert_eq!(
        report.retrying,
        vec![first.client_temp_id.clone()],
        "the second waits behind the first"
    );
    assert!(report.wants_retry());
    assert_eq!(report.remaining, 2);
    assert!(
        report.next_wakeup.expect("a wakeup") >= before + 60_000,
        "the backoff is the runtime's: {report:?}"
    );
    let entries = outbox_sender::entries(&runtime).await.expect("entries");
    assert_eq!(entries[0].state, OutboxState::Queued);
    assert_eq!(entries[0].attempts, 1);
    assert_eq!(entries[1].attempts, 0);

    let again = outbox_sender::flush(&runtime, "http://127.0.0.1:9")
        .await
        .expect("flush during backoff");
    assert!(
        again.retrying.is_empty(),
        "nothing is due during the backoff"
    );

    outbox_sender::wake_all(&runtime).await.expect("wake");
    // The test runner's server answers the API paths with a 4xx: both are refused in order.
    let refused = outbox_sender::flush(&runtime, "").await.expect("flush");
    let parked: Vec<&str> = refused.parked.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        parked,
        vec![
            first.client_temp_id.as_str(),
            second.client_temp_id.as_str()
        ]
    );
    assert!(refused.parked[0].1.contains("404"), "{:?}", refused.parked);
    assert!(!refused.wants_retry());
    let entries = outbox_sender::entries(&runtime).await.expect("entries");
    assert!(entries
        .iter()
        .all(|e| matches!(e.state, OutboxState::Failed { .. })));

    let retried = outbox_sender::retry(&runtime, &first.client_temp_id)
        .await
        .expect("retry");
    assert_eq!((retried.state, retried.attempts), (OutboxState::Queued, 0));
    outbox_sender::delete(&runtime, &second.client_temp_id)
        .await
        .expect("delete");
    let left = outbox_sender::entries(&runtime).await.expect("entries");
    assert_eq!(left.len(), 1);
    assert!(outbox_sender::retry(&runtime, "no-such-entry")
        .await
        .is_err());
    // A send echo (the agent's own message) confirms the entry through the one ingest path.
    let mut echo = messages("REQ-2", 1, 1).remove(0);
    echo.client_temp_id = Some(first.client_temp_id.clone());
    echo.sender.id = user.clone();
    echo.sender.role = chat_sync::SenderRole::Agent;
    let report = runtime
        .ingest(&chat, vec![echo], Source::SendEcho)
        .await
        .expect("ingest");
    assert_eq!(report.confirmed_outbox, vec![first.client_temp_id.clone()]);
    assert!(outbox_sender::entries(&runtime)
        .await
        .expect("entries")
        .is_empty());
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

async fn cache_bytes(database: &str, id: &str, bytes: usize) {
    let cache = media::open_cache(database).await.expect("open cache");
    let response = web_sys::Response::new_with_opt_blob(Some(&blob(bytes))).expect("response");
    JsFuture::from(cache.put_with_str(&media::media_path(id), &response))
        .await
        .expect("put");
}

/// Stored files are indexed and counted; over the budget the least recently used goes (index
/// and bytes); a hit refreshes a file; a budget out of range is refused.
pub async fn media_index_counts_and_evicts_least_recently_used() {
    let user = unique_name("media");
    let runtime = Runtime::open(&user).await.expect("open");
    let tag = unique_name("m");
    let id = |n: &str| format!("{tag}-{n}");
    let size = 400 * 1024;
    let start = media::media_stats(runtime.store()).await.expect("stats");
    assert_eq!((start.hits, start.misses, start.entries), (0, 0, 0));
    assert_eq!(start.budget, 100 * 1024 * 1024, "the default budget");
    let stats = media::set_media_budget(runtime.store(), MIN_MEDIA_BUDGET)
        .await
        .expect("budget");
    assert_eq!(stats.budget, MIN_MEDIA_BUDGET);
    for name in ["a", "b"] {
        cache_bytes(runtime.store().name(), &id(name), size).await;
        let evicted = media::record_stored(runtime.store(), &id(name), size as u64)
            .await
            .expect("stored");
        assert!(evicted.is_empty());
        platform::sleep(5).await;
    }
    media::record_hit(runtime.store(), &id("a"), size as u64)
        .await
        .expect("hit");
    platform::sleep(5).await;
    cache_bytes(runtime.store().name(), &id("c"), size).await;
    let evicted = media::record_stored(runtime.store(), &id("c"), size as u64)
        .await
        .expect("stored");
    assert_eq!(evicted, vec![id("b")], "b is the least recently used");
    let cached = media::cached_ids(runtime.store().name())
        .await
        .expect("ids");
    assert!(cached.contains(&id("a")) && cached.contains(&id("c")));
    assert!(!cached.contains(&id("b")), "the evicted bytes are gone");
    let stats = media::media_stats(runtime.store()).await.expect("stats");
    assert_eq!((stats.hits, stats.misses), (1, 3));
    assert_eq!((stats.entries, stats.bytes), (2, 2 * size as u64));
    assert!(!media::may_store(runtime.store(), MIN_MEDIA_BUDGET + 1)
        .await
        .expect("may store"));
    let refused = media::set_media_budget(runtime.store(), 10).await;
    assert!(
        matches!(refused, Err(SyncError::Invalid { .. })),
        "{refused:?}"
    );
    media::record_miss(runtime.store()).await.expect("miss");
    assert_eq!(
        media::media_stats(runtime.store())
            .await
            .expect("stats")
            .misses,
        4
    );
    media::clear_media(runtime.store()).await.expect("clear");
    let stats = media::media_stats(runtime.store()).await.expect("stats");
    assert_eq!((stats.entries, stats.bytes), (0, 0));
    let names = JsFuture::from(media::cache_storage().expect("caches").keys())
        .await
        .expect("keys");
    assert!(!js_sys::Array::from(&names).includes(
        &JsValue::from_str(&media::cache_name(runtime.store().name())),
        0
    ));
    let _ = names.dyn_into::<js_sys::Array>();
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

/// Sign-out wipes the agent's database and the media cache (and whatever service worker and
/// push subscription the context has: none in a test page, which the report says).
pub async fn wipe_user_removes_the_database_and_the_media_cache() {
    let user = unique_name("signout");
    let runtime = Runtime::open(&user).await.expect("open");
    runtime
        .ingest(&RequestId::from("c1"), messages("c1", 1, 3), Source::Live)
        .await
        .expect("ingest");
    outbox_sender::enqueue(
        &runtime,
        &RequestId::from("c1"),
        "unsent".into(),
        Vec::new(),
    )
    .await
    .expect("queue");
    let name = runtime.store().name().to_owned();
    cache_bytes(&name, "signout-file", 1_000).await;
    // Another agent's media cache in the same browser, which this agent's wipe leaves alone.
    let other_database = chat_sync_idb::database::database_name(&unique_name("other-agent"));
    cache_bytes(&other_database, "their-file", 1_000).await;
    // A draft the agent typed (only windows have `localStorage`), and another agent's.
    let has_local_storage = platform::global_property("localStorage").is_some();
    let draft = chat_sync_idb::drafts::key(&user, "c1");
    let others = chat_sync_idb::drafts::key("someone-else", "c1");
    chat_sync_idb::drafts::save(&draft, "the password is hunter2");
    chat_sync_idb::drafts::save(&others, "theirs");
    drop(runtime);
    let report = chat_sync_idb::sign_out::wipe_user(&user, "")
        .await
        .expect("wipe");
    assert!(
        report.database_deleted && report.media_cache_deleted,
        "{report:?}"
    );
    assert_eq!(
        chat_sync_idb::drafts::load(&draft),
        "",
        "the draft survived"
    );
    if has_local_storage {
        assert_eq!(report.drafts_deleted, 1, "{report:?}");
        assert_eq!(
            chat_sync_idb::drafts::load(&others),
            "theirs",
            "only this agent's drafts go"
        );
        chat_sync_idb::drafts::save(&others, "");
    }
    assert!(
        !report.push_unsubscribed,
        "no push subscription in a test context"
    );
    let names = super::connection::database_names().await;
    assert!(!names.contains(&name), "{name} is still listed: {names:?}");
    let has = |database: String| async move {
        JsFuture::from(
            media::cache_storage()
                .expect("caches")
                .has(&media::cache_name(&database)),
        )
        .await
        .expect("has")
        .as_bool()
    };
    assert_eq!(has(name).await, Some(false), "the media cache is gone");
    assert_eq!(
        has(other_database.clone()).await,
        Some(true),
        "another agent's media cache went too"
    );
    assert_eq!(
        media::cached_ids(&other_database).await.expect("ids"),
        vec!["their-file".to_owned()]
    );
    media::delete_cache(&other_database).await.expect("delete");
}

/// When an agent is confirmed, every other agent's cache goes unless it holds unsent work:
/// one with nothing unsent loses its database and its media cache; one with a queued reply
/// (or, where `localStorage` exists, a draft) is kept whole, reply and history included.
pub async fn clearing_other_agents_removes_their_caches_but_keeps_unsent_work() {
    let idle = unique_name("leftover-idle");
    let queued = unique_name("leftover-queued");
    let drafted = unique_name("leftover-drafted");
    let chat = RequestId::from("c1");
    for user in [&idle, &queued, &drafted] {
        let runtime = Runtime::open(user).await.expect("open");
        runtime
            .ingest(&chat, messages("c1", 1, 3), Source::Live)
            .await
            .expect("ingest");
        cache_bytes(runtime.store().name(), "their-file", 1_000).await;
        if user == &queued {
            outbox_sender::enqueue(&runtime, &chat, "unsent".into(), Vec::new())
                .await
                .expect("queue");
        }
        drop(runtime);
    }
    let has_local_storage = platform::global_property("localStorage").is_some();
    let draft = chat_sync_idb::drafts::key(&drafted, "c1");
    chat_sync_idb::drafts::save(&draft, "half a reply");
    assert_eq!(
        database::user_of(&database::database_name(&idle)),
        Some(idle.as_str())
    );
    assert_eq!(database::user_of("some-other-database"), None);

    let report =
        chat_sync_idb::leftovers::clear_agents(&[idle.clone(), queued.clone(), drafted.clone()])
            .await;
    assert!(report.problems.is_empty(), "{report:?}");
    let (removed, kept) = if has_local_storage {
        (vec![idle.clone()], vec![queued.clone(), drafted.clone()])
    } else {
        (vec![idle.clone(), drafted.clone()], vec![queued.clone()])
    };
    assert_eq!((&report.removed, &report.kept), (&removed, &kept));
    let names = database::database_names().await.expect("names");
    let media_cache = |user: &String| {
        let name = media::cache_name(&database::database_name(user));
        async move {
            JsFuture::from(media::cache_storage().expect("caches").has(&name))
                .await
                .expect("has")
                .as_bool()
        }
    };
    for user in &removed {
        assert!(
            !names.contains(&database::database_name(user)),
            "{user}: {names:?}"
        );
        assert_eq!(
            media_cache(user).await,
            Some(false),
            "{user}'s files stayed"
        );
    }
    for user in &kept {
        assert!(
            names.contains(&database::database_name(user)),
            "{user}: {names:?}"
        );
        assert_eq!(media_cache(user).await, Some(true), "{user}'s files went");
    }
    // The kept cache is whole: the queued reply and the history it answers.
    let store = IdbStore::open_for_user(&queued).await.expect("reopen");
    let outbox = store.outbox().await.expect("outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(
        store
            .chat(&chat)
            .await
            .expect("chat")
            .map(|c| c.message_count),
        Some(3)
    );
    drop(store);
    chat_sync_idb::drafts::save(&draft, "");
    for user in [&idle, &queued, &drafted] {
        let _ = media::delete_cache(&database::database_name(user)).await;
        chat_sync_idb::wipe(user).await.expect("wipe");
    }
}

/// Two contexts flushing the same outbox at once (two runtimes on one database, as a tab and
/// the worker): the Web Lock makes each entry go out once. Without it both would send both
/// entries and the reports would name each twice.
pub async fn concurrent_flushes_send_each_entry_once() {
    let user = unique_name("flush-race");
    let first = Runtime::open(&user).await.expect("open");
    let second = Runtime::open(&user).await.expect("open again");
    let chat = RequestId::from("REQ-3");
    for body in ["one", "two", "three"] {
        outbox_sender::enqueue(&first, &chat, body.into(), Vec::new())
            .await
            .expect("queue");
    }
    let (a, b) = futures::join!(
        outbox_sender::flush(&first, ""),
        outbox_sender::flush(&second, "")
    );
    let (a, b) = (a.expect("first flush"), b.expect("second flush"));
    let mut parked: Vec<String> = a
        .parked
        .iter()
        .chain(b.parked.iter())
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(parked.len(), 3, "each entry sent once: {a:?} {b:?}");
    parked.sort();
    parked.dedup();
    assert_eq!(parked.len(), 3);
    drop((first, second));
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

/// The remembered agent is one Cache Storage entry that pages and the service worker both
/// read; a page of an earlier release's `localStorage` copy moves into it once; forgetting
/// removes both.
pub async fn the_remembered_agent_is_one_entry_for_pages_and_the_worker() {
    use chat_sync::protocol::CurrentUser;
    use chat_sync_idb::remembered_user::{
        forget, remember, remembered, REMEMBERED_USER_CACHE, REMEMBERED_USER_KEY,
    };
    let agent = |id: &str| CurrentUser {
        id: id.into(),
        username: id.into(),
        name: format!("Agent {id}"),
        role: chat_sync::SenderRole::Agent,
    };
    forget().await.expect("forget");
    assert_eq!(remembered().await, None);
    remember(&agent("alice")).await;
    assert_eq!(remembered().await, Some(agent("alice")));
    // The entry the service worker reads (its cache and key) holds the same agent.
    let caches = chat_sync_idb::platform::cache_storage().expect("caches");
    let cache: web_sys::Cache = JsFuture::from(caches.open(REMEMBERED_USER_CACHE))
        .await
        .expect("open")
        .dyn_into()
        .expect("a cache");
    let response: web_sys::Response = JsFuture::from(cache.match_with_str(REMEMBERED_USER_KEY))
        .await
        .expect("match")
        .dyn_into()
        .expect("an entry");
    let text = JsFuture::from(response.text().expect("text"))
        .await
        .expect("body")
        .as_string()
        .expect("a string");
    assert!(text.contains("\"alice\""), "{text}");
    forget().await.expect("forget");
    assert_eq!(remembered().await, None);

    if let Some(storage) = chat_sync_idb::platform::local_storage() {
        let legacy = serde_json::to_string(&agent("bob")).expect("json");
        storage
            .set_item("supportdesk:last-user", &legacy)
            .expect("legacy copy");
        assert_eq!(
            remembered().await,
            Some(agent("bob")),
            "moved from localStorage"
        );
        assert_eq!(
            storage.get_item("supportdesk:last-user").expect("read"),
            None,
            "the legacy copy is removed"
        );
        assert_eq!(
            remembered().await,
            Some(agent("bob")),
            "now in the one entry"
        );
        forget().await.expect("forget");
        assert_eq!(remembered().await, None);
    }
}
