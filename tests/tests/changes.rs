//! Edits, redactions and access changes reaching every cache (issue 16), end to end: the real
//! server (`--demo`), headless Chromium with alice signed in, the Rust service worker.
//!
//! - With every tab closed, a pushed redaction wipes the message's body from IndexedDB and its
//!   file from Cache Storage (both scanned byte for byte, every store and every cache).
//! - A change hint fetches only the changes since the cached version, counted at the server.
//! - In the open app: the agent edits and deletes their own message from the row, a second tab
//!   follows, a requester's deletion lands as a tombstone in place, a closed request turns
//!   read-only, and a reassigned chat leaves the agent's cache while it is on screen.

use std::time::Duration;

use e2e::browser::Page;
use e2e::http;
use e2e::rig::{database_name, message_payload, seqs, Rig};
use e2e::server::Server;
use e2e::{wait_until, HarnessError};
use serde_json::{json, Value};

const CHANGES_SERVED: &str = "chat_changes_served_total";

/// The notifications shown, as `[tag, seq]` (falsy while there are none).
const NOTIFICATIONS_JS: &str = "navigator.serviceWorker.ready.then(r => r.getNotifications())
    .then(n => n.length > 0 && n.map(x => [x.tag, x.data && x.data.seq]))";

fn setup(what: String) -> HarnessError {
    HarnessError::Setup(what)
}

/// Sends a JSON request with `cookie` and returns the reply's JSON (an error unless 2xx).
async fn call(
    server: &Server,
    cookie: &str,
    method: &str,
    path: &str,
    body: Value,
) -> e2e::Result<Value> {
    http::json_as(&server.addr, cookie, method, path, &body).await
}

/// Posts `body` with one attachment (uploaded first) as the requester; returns the message.
async fn post_with_file(
    server: &Server,
    cookie: &str,
    request_id: &str,
    body: &str,
    file: &str,
) -> e2e::Result<Value> {
    let reply = http::send(
        &server.addr,
        "POST",
        "/api/media?name=secret.txt",
        &[("Cookie", cookie), ("Content-Type", "text/plain")],
        file,
    )
    .await?;
    if reply.status != 201 {
        return Err(setup(format!("upload: {} {}", reply.status, reply.body)));
    }
    let attachment: Value = serde_json::from_str(&reply.body).map_err(|e| setup(e.to_string()))?;
    call(
        server,
        cookie,
        "POST",
        "/api/chat/messages",
        json!({
            "request_id": request_id,
            "client_temp_id": format!("e2e-{request_id}-{}", body.len()),
            "body": body,
            "attachments": [attachment],
        }),
    )
    .await
}

async fn scan(rig: &Rig, needle: &str) -> e2e::Result<Value> {
    let page = rig.observer().await?;
    let found = page
        .evaluate(&e2e::chat::scan_js(
            &database_name(&rig.user_id),
            &[needle.to_owned()],
        ))
        .await;
    page.close().await?;
    found
}

#[tokio::test]
async fn a_pushed_redaction_wipes_the_body_and_the_file_with_every_tab_closed() -> e2e::Result<()> {
    let rig = Rig::start("changes-push-redaction").await?;
    rig.grant_notifications().await?;
    let requester = http::login(&rig.server.addr, "requester1", "demo").await?;
    let secret = "password: hunter2-redact-me";
    let message = post_with_file(
        &rig.server,
        &requester,
        "REQ-1001",
        secret,
        "file secret: hunter2-redact-me",
    )
    .await?;
    let seq = message["seq"].as_u64().unwrap_or_default();
    let media_id = message["attachments"][0]["media_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Pushed with every tab closed, then the file opened once (the worker caches it).
    let blank = rig.blank().await?;
    rig.push(&blank, &message_payload(&message, &rig.user_id))
        .await?;
    rig.read_cache_until("REQ-1001", "the pushed message", |s| seqs(s).contains(&seq))
        .await?;
    let page = rig.observer().await?;
    page.wait_for_service_worker(true).await?;
    let shown = page
        .wait_for(NOTIFICATIONS_JS, Duration::from_secs(10))
        .await?;
    assert_eq!(shown, json!([["REQ-1001", seq]]), "the message is notified");
    let fetched = page
        .evaluate(&format!(
            "fetch('/api/media/{media_id}').then(r => r.text())"
        ))
        .await?;
    assert_eq!(fetched, json!("file secret: hunter2-redact-me"));
    page.close().await?;
    let before = scan(&rig, "hunter2-redact-me").await?;
    assert!(
        !before["idb"].as_array().is_some_and(Vec::is_empty),
        "the body is cached before: {before}"
    );
    assert!(
        before["media"]
            .as_array()
            .is_some_and(|m| m.iter().any(|id| id == media_id.as_str())),
        "the file is cached before: {before}"
    );

    // The requester deletes it; the change reaches the worker as a push, no tab open.
    let tombstone = call(
        &rig.server,
        &requester,
        "DELETE",
        "/api/chat/messages",
        json!({ "request_id": "REQ-1001", "seq": seq }),
    )
    .await?;
    assert_eq!(tombstone["deleted"], true);
    let changes_before = rig.metric(CHANGES_SERVED).await?;
    let payload = json!({ "kind": "change", "to": rig.user_id, "message": tombstone }).to_string();
    rig.push(&blank, &payload).await?;
    let snapshot = rig
        .read_cache_until("REQ-1001", "the tombstone in the cache", |s| {
            s["bodies"].as_array().is_some_and(|b| {
                !b.iter()
                    .any(|b| b.as_str().is_some_and(|b| b.contains("hunter2")))
            })
        })
        .await?;
    assert!(
        seqs(&snapshot).contains(&seq),
        "the seq stays, as a tombstone: {snapshot}"
    );
    let after = wait_until(
        "the file gone from Cache Storage",
        Duration::from_secs(20),
        || async {
            let found = scan(&rig, "hunter2-redact-me").await?;
            let clean = found["idb"].as_array().is_some_and(Vec::is_empty)
                && found["caches"].as_array().is_some_and(Vec::is_empty)
                && !found["media"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|id| id == media_id.as_str()));
            Ok(clean.then_some(found))
        },
    )
    .await?;
    assert_eq!(after["idb"], json!([]), "{after}");
    let page = rig.observer().await?;
    let shown = page
        .evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length)",
        )
        .await?;
    assert_eq!(shown, json!(0), "the notification showing it is closed");
    page.close().await?;
    assert_eq!(
        rig.metric(CHANGES_SERVED).await? - changes_before,
        0.0,
        "the pushed change needed no fetch"
    );
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_change_hint_fetches_only_the_changes_since_the_cached_version() -> e2e::Result<()> {
    let rig = Rig::start("changes-hint").await?;
    let requester = http::login(&rig.server.addr, "requester3", "demo").await?;
    let first = e2e::rig::post_as(&rig.server, &requester, "REQ-1003", "first").await?;
    let second = e2e::rig::post_as(&rig.server, &requester, "REQ-1003", "second").await?;
    let blank = rig.blank().await?;
    for message in [&first, &second] {
        rig.deliver(&blank, &message_payload(message, &rig.user_id))
            .await?;
    }
    let (a, b) = (
        first["seq"].as_u64().unwrap_or_default(),
        second["seq"].as_u64().unwrap_or_default(),
    );
    rig.read_cache_until("REQ-1003", "both pushed", |s| {
        seqs(s).contains(&a) && seqs(s).contains(&b)
    })
    .await?;

    // Two edits the worker never hears of, then a hint: both are fetched, once.
    for (seq, body) in [(a, "first, edited"), (b, "second, edited")] {
        call(
            &rig.server,
            &requester,
            "PATCH",
            "/api/chat/messages",
            json!({ "request_id": "REQ-1003", "seq": seq, "body": body }),
        )
        .await?;
    }
    let served = rig.metric(CHANGES_SERVED).await?;
    let hint =
        json!({ "kind": "changes", "to": rig.user_id, "request_id": "REQ-1003", "version": 2 });
    rig.push(&blank, &hint.to_string()).await?;
    let snapshot = rig
        .read_cache_until("REQ-1003", "both edits applied", |s| {
            let bodies = s["bodies"].to_string();
            bodies.contains("first, edited") && bodies.contains("second, edited")
        })
        .await?;
    assert_eq!(snapshot["chat"]["change_version"], 2, "{snapshot}");
    assert_eq!(rig.metric(CHANGES_SERVED).await? - served, 2.0);

    // One more edit: only it is fetched.
    call(
        &rig.server,
        &requester,
        "PATCH",
        "/api/chat/messages",
        json!({ "request_id": "REQ-1003", "seq": a, "body": "first, edited twice" }),
    )
    .await?;
    let served = rig.metric(CHANGES_SERVED).await?;
    let hint =
        json!({ "kind": "changes", "to": rig.user_id, "request_id": "REQ-1003", "version": 3 });
    rig.push(&blank, &hint.to_string()).await?;
    rig.read_cache_until("REQ-1003", "the third edit", |s| {
        s["bodies"].to_string().contains("first, edited twice")
    })
    .await?;
    assert_eq!(
        rig.metric(CHANGES_SERVED).await? - served,
        1.0,
        "only the change since the cached version"
    );
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

/// The rows of the open chat: `[seq, deleted, edited, text]`.
const ROWS_JS: &str = "[...document.querySelectorAll('[data-testid=message][data-seq]')]
    .map(r => [Number(r.dataset.seq), r.dataset.deleted === 'true', r.dataset.edited === 'true',
               r.querySelector('.msg__body').textContent])";

async fn row(
    page: &Page<'_>,
    seq: u64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> e2e::Result<Value> {
    wait_until(what, Duration::from_secs(20), || async {
        let rows = page.evaluate(ROWS_JS).await?;
        let found = rows
            .as_array()
            .and_then(|r| r.iter().find(|r| r[0] == seq).cloned());
        Ok(found.filter(|r| done(r)))
    })
    .await
}

async fn open_chat<'a>(rig: &'a Rig, request_id: &str) -> e2e::Result<Page<'a>> {
    let page = rig
        .browser
        .new_page(&rig.server.url(&format!("/chat/{request_id}")))
        .await?;
    page.wait_for(
        "document.querySelector('[data-testid=chat-view][data-ready=true]') !== null",
        Duration::from_secs(20),
    )
    .await?;
    // Deleting asks "are you sure?": the test says yes.
    page.evaluate("window.confirm = () => true").await?;
    Ok(page)
}

#[tokio::test]
async fn edits_deletions_closing_and_reassignment_in_the_open_app() -> e2e::Result<()> {
    let rig = Rig::start("changes-ui").await?;
    let page = open_chat(&rig, "REQ-1001").await?;
    let other = open_chat(&rig, "REQ-1001").await?;

    // The agent writes, then edits from the row: Edit, new text, Enter.
    assert_eq!(
        e2e::chat::type_and_send(&page, "wrong instructions").await?,
        "taken"
    );
    let sent = wait_until("the message stored", Duration::from_secs(20), || async {
        let rows = page.evaluate(ROWS_JS).await?;
        Ok(rows.as_array().and_then(|r| {
            r.iter()
                .find(|r| r[3] == "wrong instructions")
                .and_then(|r| r[0].as_u64())
        }))
    })
    .await?;
    page.evaluate(&format!(
        "document.querySelector('[data-seq=\"{sent}\"] button[data-action=edit]').click()"
    ))
    .await?;
    let editing = page
        .wait_for(
            "(() => { const b = document.querySelector('[data-testid=composer]');
               return document.querySelector('[data-testid=composer-editing]') && b.value; })()",
            Duration::from_secs(10),
        )
        .await?;
    assert_eq!(editing, json!("wrong instructions"));
    page.evaluate(
        "(() => { const b = document.querySelector('[data-testid=composer]');
           b.value = 'right instructions'; b.dispatchEvent(new Event('input', { bubbles: true }));
           b.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })); })()",
    )
    .await?;
    row(&page, sent, "the edit on screen", |r| {
        r[2] == true && r[3] == "right instructions"
    })
    .await?;
    row(&other, sent, "the edit in the other tab", |r| {
        r[3] == "right instructions"
    })
    .await?;
    let cookie = http::login(&rig.server.addr, "alice", "demo").await?;
    let stored = e2e::chat::server_messages(&rig.server, &cookie, "REQ-1001").await?;
    let stored = stored
        .iter()
        .find(|m| m["seq"] == sent)
        .cloned()
        .unwrap_or_default();
    assert_eq!(stored["body"], "right instructions", "{stored}");

    // Deleting from the row: a tombstone in place, in both tabs.
    page.evaluate(&format!(
        "document.querySelector('[data-seq=\"{sent}\"] button[data-action=redact]').click()"
    ))
    .await?;
    row(&page, sent, "the tombstone", |r| {
        r[1] == true && r[3] == "Message deleted"
    })
    .await?;
    row(&other, sent, "the tombstone in the other tab", |r| {
        r[1] == true
    })
    .await?;

    // A requester's message deleted by the requester lands as a tombstone where it stood.
    let requester = http::login(&rig.server.addr, "requester1", "demo").await?;
    let theirs = e2e::rig::post_as(
        &rig.server,
        &requester,
        "REQ-1001",
        "my password is swordfish",
    )
    .await?;
    let seq = theirs["seq"].as_u64().unwrap_or_default();
    row(&page, seq, "the requester's message", |r| r[1] == false).await?;
    let top = format!("document.querySelector('[data-seq=\"{seq}\"]').getBoundingClientRect().top");
    let before = page.evaluate(&top).await?.as_f64().unwrap_or_default();
    call(
        &rig.server,
        &requester,
        "DELETE",
        "/api/chat/messages",
        json!({ "request_id": "REQ-1001", "seq": seq }),
    )
    .await?;
    row(&page, seq, "the requester's tombstone", |r| r[1] == true).await?;
    let after = page.evaluate(&top).await?.as_f64().unwrap_or_default();
    assert!(
        (after - before).abs() < 2.0,
        "the tombstone stands where the message stood: {before} → {after}"
    );
    let found = scan(&rig, "swordfish").await?;
    assert_eq!(
        found["idb"],
        json!([]),
        "the body is gone from IndexedDB: {found}"
    );

    // The requester closes the request: closed and read-only.
    call(
        &rig.server,
        &requester,
        "POST",
        "/api/chat/requests/close",
        json!({ "request_id": "REQ-1001" }),
    )
    .await?;
    let closed = page
        .wait_for(
            "(() => document.querySelector('[data-testid=chat-closed]') !== null
               && document.querySelector('[data-testid=composer]').disabled
               && document.querySelectorAll('button[data-action=edit]').length === 0)()",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(closed, json!(true));

    // alice hands REQ-1003 to bob while it is on screen: it leaves her cache and her list.
    let page3 = open_chat(&rig, "REQ-1003").await?;
    call(
        &rig.server,
        &cookie,
        "POST",
        "/api/chat/requests/assign",
        json!({ "request_id": "REQ-1003", "agent": "bob" }),
    )
    .await?;
    page3
        .wait_for(
            "document.querySelector('[data-testid=chat-revoked]') !== null",
            Duration::from_secs(20),
        )
        .await?;
    let observer = rig.observer().await?;
    let snapshot = rig
        .observe_until(&observer, "REQ-1003", "REQ-1003 gone from the cache", |s| {
            s["chat"].is_null() && seqs(s).is_empty()
        })
        .await?;
    observer.close().await?;
    assert!(snapshot["exists"] == true, "{snapshot}");
    let list = rig.browser.new_page(&rig.server.url("/")).await?;
    let listed = list
        .wait_for(
            "(() => { const ids = [...document.querySelectorAll('[data-testid=chat-item]')]
               .map(i => i.dataset.requestId); return ids.length > 0 && ids; })()",
            Duration::from_secs(20),
        )
        .await?;
    assert!(
        !listed.to_string().contains("REQ-1003") && listed.to_string().contains("REQ-1005"),
        "the chat list no longer shows it: {listed}"
    );
    for p in [page, other, page3, list] {
        p.close().await?;
    }
    rig.stop().await;
    Ok(())
}
