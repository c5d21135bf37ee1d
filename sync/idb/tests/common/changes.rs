//! In-browser tests of edits, redactions and revocation through the real IndexedDB store,
//! Cache Storage and Web Locks (only the network is the counting double).

use std::rc::Rc;

use chat_sync::outbox::NewOutboxEntry;
use chat_sync::planner::PlannerConfig;
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{Attachment, Message, RequestId, SeqRange};
use chat_sync_idb::changes::{apply_change, catch_up_changes};
use chat_sync_idb::driver::Driver;
use chat_sync_idb::runtime::Runtime;
use chat_sync_idb::{media, platform};
use wasm_bindgen_futures::JsFuture;

use super::double::CountingHistory;
use super::unique_name;

const SECRET: &str = "password: hunter2-";

fn config() -> PlannerConfig {
    PlannerConfig {
        page_limit: 100,
        gap_grace_ms: 0,
        ..PlannerConfig::default()
    }
}

/// Messages 1..=30 of `c1`; seq 7 carries a secret and a file.
fn server_messages(media_id: &str) -> Vec<Message> {
    let mut all = messages("c1", 1, 30);
    all[6].body = format!("{SECRET}{media_id}");
    all[6].attachments.push(Attachment {
        media_id: media_id.to_owned(),
        name: "secret.txt".into(),
        mime: "text/plain".into(),
        size: 4,
    });
    all
}

async fn cache_file(runtime: &Runtime, media_id: &str) {
    let cache = media::open_cache(runtime.store().name())
        .await
        .expect("open cache");
    let response = web_sys::Response::new_with_opt_str(Some(SECRET)).expect("response");
    JsFuture::from(cache.put_with_str(&media::media_path(media_id), &response))
        .await
        .expect("put");
    media::record_stored(runtime.store(), media_id, 4)
        .await
        .expect("index");
}

/// Every record of every object store of the runtime's database, as JSON text.
async fn every_record_as_text(runtime: &Runtime) -> String {
    runtime
        .store()
        .database()
        .run("scan", async |db| {
            let names = db.object_store_names();
            let mut text = String::new();
            let list: Vec<String> = (0..names.length()).filter_map(|i| names.item(i)).collect();
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            let tx = chat_sync_idb::database::Database::transaction(
                &db,
                &refs,
                chat_sync_idb::database::Access::Read,
                "scan",
            )?;
            for name in &list {
                let store = tx.object_store(name).expect("store");
                let all = store.get_all().expect("getAll");
                let values = chat_sync_idb::request::request(&all)
                    .await
                    .map_err(|e| e.into_store_error("scan"))?;
                let json = js_sys::JSON::stringify(&values).expect("stringify");
                text.push_str(&String::from(json));
            }
            Ok(text)
        })
        .await
        .expect("scan")
}

/// A change that leaves a hole in the versions fetches the changes since the cached version,
/// once, and nothing else; the redacted body and file are gone from IndexedDB and Cache
/// Storage, and the cache equals the server.
pub async fn a_change_hole_fetches_only_the_changes_and_erases_the_redacted() {
    let user = unique_name("changes");
    let runtime = Rc::new(Runtime::open(&user).await.expect("open"));
    let media_id = unique_name("med");
    let chat = RequestId::from("c1");
    let history = CountingHistory::new("c1", server_messages(&media_id), 100, 0);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config());
    runtime
        .store()
        .note_backend_last_seq(&chat, 30)
        .await
        .expect("last seq");
    runtime
        .ingest(
            &chat,
            server_messages(&media_id),
            chat_sync::ingest::Source::Fetch,
        )
        .await
        .expect("fill");
    cache_file(&runtime, &media_id).await;
    assert!(every_record_as_text(&runtime).await.contains(SECRET));
    assert!(media::cached_ids(runtime.store().name())
        .await
        .expect("ids")
        .contains(&media_id));

    // At the server: seq 5 edited (v1), seq 7 redacted (v2), seq 9 edited (v3).
    let mut server = server_messages(&media_id);
    server[4].body = "edited five".into();
    server[4].version = 1;
    server[6].body.clear();
    server[6].attachments.clear();
    server[6].deleted = true;
    server[6].version = 2;
    server[8].body = "edited nine".into();
    server[8].version = 3;
    for message in &server {
        history.change(message.clone());
    }
    let served_before = history.served().len();

    // Only the last change arrives live: versions 1 and 2 are a hole.
    let report = apply_change(&driver, server[8].clone())
        .await
        .expect("apply");
    assert_eq!(report.changes_due, Some(0));
    let served: Vec<_> = history.served()[served_before..].to_vec();
    assert_eq!(served.len(), 1, "one request: {served:?}");
    assert_eq!((served[0].kind, served[0].from), ("changes", 0));

    let cached = runtime
        .store()
        .range(&chat, SeqRange::new(1, 30))
        .await
        .expect("read")
        .messages;
    assert_eq!(cached, server, "the cache equals the server");
    let record = runtime
        .store()
        .chat(&chat)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(record.change_version, 3);
    let text = every_record_as_text(&runtime).await;
    assert!(
        !text.contains(SECRET),
        "the redacted body is gone from IndexedDB"
    );
    assert!(
        !media::cached_ids(runtime.store().name())
            .await
            .expect("ids")
            .contains(&media_id),
        "the redacted file is gone from Cache Storage"
    );

    // The same change again, and a catch-up with nothing due: no request.
    apply_change(&driver, server[8].clone())
        .await
        .expect("again");
    let report = catch_up_changes(&driver, &chat).await.expect("catch up");
    assert_eq!(report.requests, 0);
    assert_eq!(history.served().len(), served_before + 1);
    drop(driver);
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}

/// A fetch answered 403 (the chat was reassigned) revokes the chat: messages, record, unsent
/// entries and cached files leave, and the views are told.
pub async fn a_forbidden_fetch_revokes_the_chat() {
    let user = unique_name("revoke");
    let runtime = Rc::new(Runtime::open(&user).await.expect("open"));
    let media_id = unique_name("med");
    let chat = RequestId::from("c1");
    let history = CountingHistory::new("c1", server_messages(&media_id), 100, 0);
    let driver = Driver::new(Rc::clone(&runtime), history.clone(), config());
    runtime
        .store()
        .ingest(
            &chat,
            server_messages(&media_id)[..20].to_vec(),
            &chat_sync::suite::closed_chat_ctx(),
        )
        .await
        .expect("seed");
    runtime
        .store()
        .note_backend_last_seq(&chat, 30)
        .await
        .expect("last seq");
    cache_file(&runtime, &media_id).await;
    runtime
        .store()
        .outbox_enqueue(NewOutboxEntry {
            client_temp_id: unique_name("t"),
            request_id: chat.clone(),
            body: "unsent".into(),
            attachments: Vec::new(),
            created_at: 1,
        })
        .await
        .expect("outbox");
    let notices = Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = notices.clone();
    let _subscription = chat_sync_idb::broadcast::subscribe(runtime.channel(), move |notice| {
        seen.borrow_mut().push(notice);
    })
    .expect("subscribe");

    history.forbid();
    driver
        .resync(&chat)
        .await
        .expect("the refusal is an outcome");
    assert!(runtime.store().chat(&chat).await.expect("read").is_none());
    assert!(runtime.store().outbox().await.expect("outbox").is_empty());
    assert!(!media::cached_ids(runtime.store().name())
        .await
        .expect("ids")
        .contains(&media_id));
    assert!(!every_record_as_text(&runtime).await.contains(SECRET));
    for _ in 0..100 {
        if notices.borrow().iter().any(|n| n.revoked) {
            break;
        }
        platform::sleep(10).await;
    }
    let revoked = notices
        .borrow()
        .iter()
        .find(|n| n.revoked)
        .cloned()
        .expect("a revoked notice reached the channel");
    assert_eq!(revoked.discarded_outbox, 1);
    drop(driver);
    drop(runtime);
    chat_sync_idb::wipe(&user).await.expect("wipe");
}
