//! Sending from the composer in real headless Chromium against the real server: the outbox
//! in IndexedDB first (`pending` rows at once), then each message stored once, in order, and
//! shown as `sent` at its seq; offline (emulated on the page) nothing is lost; the 101st
//! queued message is refused with a plain sentence; a refused send (403) is parked as
//! `failed` with retry and delete; drafts survive a reload; sign-out removes the agent's
//! database and a second agent sees only their own chats.

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser, Page};
use e2e::chat::{chat_list, last_seq, sign_in_ui, type_and_send};
use e2e::http;
use e2e::server::Server;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
/// alice's, 3 messages.
const CHAT: &str = "REQ-1003";

/// The message rows in screen order (the list positions rows absolutely, so DOM order is
/// not screen order).
const ROWS_JS: &str = "[...document.querySelectorAll('[data-testid=message]')]
  .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
  .map(r => [r.dataset.seq ?? null, r.dataset.state, r.querySelector('.msg__body')?.textContent ?? ''])";

/// JS counting the entries of alice's outbox in IndexedDB.
const OUTBOX_COUNT_JS: &str = r#"(async () => {
  const db = await new Promise((ok, err) => {
    const r = indexedDB.open('supportdesk-chat-cache:u_alice'); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  });
  try {
    const rq = db.transaction('outbox').objectStore('outbox').count();
    return await new Promise((ok, err) => { rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); });
  } finally { db.close(); }
})()"#;

/// Takes the page and the service worker offline or back online: Background Sync lets the
/// worker send the outbox on its own, so both must lose the network. The page's live worker,
/// which sends the outbox, is not reliably reached by the page's network emulation: the
/// page's API requests and its workers' are cut too ([`e2e::cdp::Cdp::cut`]; no test here
/// navigates while offline, which a cut page could not do from the shell).
async fn offline(
    browser: &Browser,
    server: &Server,
    page: &Page<'_>,
    offline: bool,
) -> e2e::Result<()> {
    browser.emulate_offline(&page.session_id, offline).await?;
    browser
        .cdp
        .cut(&page.session_id, offline.then_some(e2e::cdp::API_PATTERN))
        .await?;
    let worker = browser
        .service_worker_session(&server.url("/sw.js"))
        .await?;
    browser.emulate_offline(&worker, offline).await
}

/// The chat's messages at the server, as alice reads them.
async fn server_bodies(
    server: &Server,
    cookie: &str,
    from: u64,
    to: u64,
) -> e2e::Result<Vec<(u64, String)>> {
    let reply = http::send(
        &server.addr,
        "GET",
        &format!("/api/chat/messages?request_id={CHAT}&from_seq={from}&to_seq={to}"),
        &[("Cookie", cookie)],
        "",
    )
    .await?;
    let page: Value = serde_json::from_str(&reply.body)
        .map_err(|e| e2e::HarnessError::Setup(format!("{}: {e}", reply.body)))?;
    Ok(page["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap_or(0),
                m["body"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect())
}

/// A tab at alice's chat, signed in through the form, its three messages shown.
async fn open_chat_as_alice<'a>(browser: &'a Browser, server: &Server) -> e2e::Result<Page<'a>> {
    let page = browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    sign_in_ui(&page, "alice", "demo").await?;
    page.wait_for("document.querySelector('[data-seq=\"3\"]') !== null", WAIT)
        .await?;
    Ok(page)
}

#[tokio::test]
async fn messages_written_offline_are_pending_then_sent_once_in_order() -> e2e::Result<()> {
    let dir = scratch_dir("composer-offline");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let cookie = http::login(&server.addr, "alice", "demo").await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;

    // Online: pending at once, then sent at seq 4.
    type_and_send(&page, "hello online").await?;
    page.wait_for(
        "document.querySelector('[data-seq=\"4\"][data-state=sent]')?.textContent.includes('hello online')",
        WAIT,
    )
    .await?;
    assert_eq!(
        page.evaluate("document.querySelector('[data-testid=composer]').value")
            .await?,
        ""
    );

    // Offline: three messages wait as pending rows; the server has none of them.
    offline(&browser, &server, &page, true).await?;
    for text in ["off 1", "off 2", "off 3"] {
        type_and_send(&page, text).await?;
    }
    let pending = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}.filter(x => x[1] === 'pending'); return r.length === 3 && r; }})()"),
            WAIT,
        )
        .await?;
    let bodies: Vec<&str> = pending
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[2].as_str())
        .collect();
    assert_eq!(bodies, ["off 1", "off 2", "off 3"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        last_seq(&server, &cookie, CHAT).await?,
        4,
        "nothing reached the server offline"
    );

    // Back online: each stored once, in order, shown as sent at 5, 6, 7.
    offline(&browser, &server, &page, false).await?;
    page.wait_for(
        "['5','6','7'].every(s => document.querySelector(`[data-seq=\"${s}\"][data-state=sent]`))
           && !document.querySelector('[data-state=pending]')",
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(
        server_bodies(&server, &cookie, 4, 10).await?,
        vec![
            (4, "hello online".to_owned()),
            (5, "off 1".to_owned()),
            (6, "off 2".to_owned()),
            (7, "off 3".to_owned()),
        ]
    );
    assert_eq!(last_seq(&server, &cookie, CHAT).await?, 7);

    // A draft survives a reload.
    page.evaluate(
        "(() => { const box = document.querySelector('[data-testid=composer]');
           box.value = 'half a thought'; box.dispatchEvent(new Event('input', { bubbles: true })); })()",
    )
    .await?;
    page.navigate(&server.url(&format!("/chat/{CHAT}"))).await?;
    let draft = page
        .wait_for(
            "document.querySelector('[data-testid=composer]')?.value",
            WAIT,
        )
        .await?;
    assert_eq!(draft, "half a thought");
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn messages_queued_offline_go_out_when_the_app_is_reopened_online() -> e2e::Result<()> {
    let dir = scratch_dir("composer-reopen");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let cookie = http::login(&server.addr, "alice", "demo").await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    offline(&browser, &server, &page, true).await?;
    for text in ["while closed 1", "while closed 2"] {
        type_and_send(&page, text).await?;
    }
    page.wait_for(
        "document.querySelectorAll('[data-state=pending]').length === 2",
        WAIT,
    )
    .await?;
    // The tab closes with both still queued; nothing reached the server.
    page.close().await?;
    assert_eq!(last_seq(&server, &cookie, CHAT).await?, 3);
    // Reopened online: they go out, once each, in order.
    let page = browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    page.wait_for(
        "['4','5'].every(s => document.querySelector(`[data-seq=\"${s}\"][data-state=sent]`))",
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(
        server_bodies(&server, &cookie, 4, 10).await?,
        vec![
            (4, "while closed 1".to_owned()),
            (5, "while closed 2".to_owned())
        ]
    );
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_full_outbox_refuses_the_101st_and_a_refused_send_is_parked() -> e2e::Result<()> {
    let dir = scratch_dir("composer-full");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let cookie = http::login(&server.addr, "alice", "demo").await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    offline(&browser, &server, &page, true).await?;
    // 100 queued messages, one after the other.
    for i in 1..=100 {
        let outcome = type_and_send(&page, &format!("queued {i}")).await?;
        assert_eq!(outcome, "taken", "message {i}");
    }
    assert_eq!(page.evaluate(OUTBOX_COUNT_JS).await?, 100);
    type_and_send(&page, "one too many").await?;
    let problem = page
        .wait_for(
            "document.querySelector('[data-testid=composer-problem]')?.textContent",
            WAIT,
        )
        .await?;
    assert!(
        problem
            .as_str()
            .is_some_and(|p| p.contains("outbox is full")),
        "{problem}"
    );
    assert_eq!(
        page.evaluate("document.querySelector('[data-testid=composer]').value")
            .await?,
        "one too many",
        "the refused text is kept"
    );

    // Online again: all 100 go out once, in order.
    offline(&browser, &server, &page, false).await?;
    e2e::wait_until(
        "100 messages at the server",
        Duration::from_secs(90),
        || async { Ok((last_seq(&server, &cookie, CHAT).await? == 103).then_some(())) },
    )
    .await?;
    let stored = server_bodies(&server, &cookie, 4, 200).await?;
    let expected: Vec<(u64, String)> = (1..=100).map(|i| (i + 3, format!("queued {i}"))).collect();
    assert_eq!(stored, expected);

    // A chat that is not alice's: the server refuses (403), the message is parked as failed
    // with retry and delete, and deleting it removes it.
    page.navigate(&server.url("/chat/REQ-1002")).await?;
    page.wait_for(
        "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'",
        WAIT,
    )
    .await?;
    type_and_send(&page, "not my chat").await?;
    // Found and clicked in one evaluation: between two, the row may be re-rendered (the
    // retry sends it again, and it is parked again), leaving nothing to click.
    page.wait_for(
        &click_when_shown("[data-state=failed] [data-action=retry]"),
        WAIT,
    )
    .await?;
    page.wait_for(
        &click_when_shown("[data-state=failed] [data-action=delete]"),
        WAIT,
    )
    .await?;
    page.wait_for(
        "document.querySelector('[data-state=failed]') === null",
        WAIT,
    )
    .await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn sign_out_removes_the_agents_cache_and_the_next_agent_sees_only_theirs() -> e2e::Result<()>
{
    let dir = scratch_dir("composer-signout");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let bob_cookie = http::login(&server.addr, "bob", "demo").await?;
    let bobs: Vec<String> = chat_list(&server, &bob_cookie)
        .await?
        .iter()
        .filter_map(|c| c["request_id"].as_str().map(str::to_owned))
        .collect();
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    let alice_db = e2e::chat::database_name("u_alice");
    let listed = format!("indexedDB.databases().then(d => d.some(x => x.name === {alice_db:?}))");
    assert_eq!(page.evaluate(&listed).await?, true);
    page.evaluate("document.querySelector('[data-testid=logout]').click()")
        .await?;
    page.wait_for(
        "document.querySelector('[data-testid=login-submit]') !== null",
        WAIT,
    )
    .await?;
    page.wait_for(&format!("{listed}.then(x => !x)"), WAIT)
        .await?;
    let media = page
        .evaluate("caches.keys().then(k => k.filter(n => n.includes('media')))")
        .await?;
    assert_eq!(media, json!([]));

    sign_in_ui(&page, "bob", "demo").await?;
    let shown = page
        .wait_for(
            &format!(
                "(() => {{ const ids = [...document.querySelectorAll('[data-testid=chat-item]')].map(i => i.dataset.requestId);
                   return ids.length === {} && ids; }})()",
                bobs.len()
            ),
            WAIT,
        )
        .await?;
    let mut shown: Vec<String> = shown
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    shown.sort();
    let mut expected = bobs.clone();
    expected.sort();
    assert_eq!(shown, expected, "bob sees exactly his chats");
    assert!(!shown.iter().any(|id| id == CHAT), "nothing of alice's");
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_cache_settings_panel_loads_when_opened_shows_usage_sets_the_budget_and_clears(
) -> e2e::Result<()> {
    let dir = scratch_dir("composer-settings");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    offline(&browser, &server, &page, true).await?;
    type_and_send(&page, "waiting in the outbox").await?;
    // The panel is a build of its own, loaded when first opened (offline here: from the
    // service worker's app shell), never with the app.
    let panel_loaded =
        "performance.getEntriesByType('resource').some(e => e.name.includes('/settings-panel'))";
    assert_eq!(page.evaluate(panel_loaded).await?, false);
    page.evaluate("document.querySelector('[data-testid=settings]').click()")
        .await?;
    let facts = page
        .wait_for(
            "(() => { const t = id => document.querySelector(`[data-testid=${id}]`)?.textContent;
               return t('settings-messages') && [t('settings-messages'), t('settings-chats'), t('settings-outbox'), t('settings-media')]; })()",
            WAIT,
        )
        .await?;
    assert_eq!(facts[0], "3", "{facts}");
    assert!(
        facts[1]
            .as_str()
            .and_then(|c| c.parse::<u32>().ok())
            .is_some_and(|c| c >= 12),
        "{facts}"
    );
    assert_eq!(facts[2], "1", "{facts}");
    assert!(
        facts[3]
            .as_str()
            .is_some_and(|m| m.contains("of 100.0 MB") || m.contains("95.4 MB")),
        "{facts}"
    );

    // The media budget is stored.
    page.evaluate(
        "(() => { const i = document.querySelector('[data-testid=media-budget]');
           i.value = '50'; i.dispatchEvent(new Event('input', { bubbles: true }));
           i.form.requestSubmit(); })()",
    )
    .await?;
    page.wait_for(
        "document.querySelector('[data-testid=settings-media]')?.textContent.includes('47.7 MB')",
        WAIT,
    )
    .await?;

    // Clearing the chat removes its messages from IndexedDB; the outbox keeps its entry, and
    // the chat stays listed (with its title), to load again when opened.
    let item = format!(
        "document.querySelector('[data-testid=chat-item][data-request-id=\"{CHAT}\"] .chat-item__title')?.textContent"
    );
    let title = page.wait_for(&item, WAIT).await?;
    page.evaluate(&format!(
        "document.querySelector('[data-testid=clear-chat][data-request-id=\"{CHAT}\"]').click()"
    ))
    .await?;
    page.wait_for(
        "document.querySelector('[data-testid=settings-messages]')?.textContent === '0'",
        WAIT,
    )
    .await?;
    // The list has re-read the records by now (the clear's notice); give it a moment more.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        page.evaluate(&item).await?,
        title,
        "the cleared chat is still listed"
    );
    let count = page
        .evaluate(&e2e::chat::count_js(
            &e2e::chat::database_name("u_alice"),
            CHAT,
        ))
        .await?;
    assert_eq!(count, 0);
    assert_eq!(
        page.evaluate("document.querySelector('[data-testid=settings-outbox]').textContent")
            .await?,
        "1"
    );
    assert_eq!(page.evaluate(panel_loaded).await?, true);

    // Clearing everything (confirmed) deletes the cache, the unsent message with it, and
    // reloads into an empty cache that fills again from the server.
    offline(&browser, &server, &page, false).await?;
    page.evaluate(
        "window.confirm = () => true; window.beforeClearAll = true;
         document.querySelector('[data-testid=clear-all]').click()",
    )
    .await?;
    page.wait_for(
        "window.beforeClearAll === undefined && document.querySelector('[data-testid=chat-item]') !== null",
        WAIT,
    )
    .await?;
    let outbox = format!(
        r#"(async () => {{
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open({:?}); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  try {{
    const rq = db.transaction('outbox').objectStore('outbox').count();
    return await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  }} finally {{ db.close(); }}
}})()"#,
        e2e::chat::database_name("u_alice")
    );
    assert_eq!(
        page.evaluate(&outbox).await?,
        0,
        "the unsent message is deleted"
    );
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// Picks `files` with the composer's own file input (as the file dialog would).
async fn pick_files(page: &Page<'_>, files: &[&std::path::Path]) -> e2e::Result<()> {
    let document = page.call("DOM.getDocument", json!({})).await?;
    let input = page
        .call(
            "DOM.querySelector",
            json!({ "nodeId": document["root"]["nodeId"], "selector": ".composer input[type=file]" }),
        )
        .await?;
    let files: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    page.call(
        "DOM.setFileInputFiles",
        json!({ "files": files, "nodeId": input["nodeId"] }),
    )
    .await?;
    Ok(())
}

/// A valid 1x1 PNG.
const PNG_HEX: &str = "89504E470D0A1A0A0000000D49484452000000010000000108060000001F15C4890000000D49444154789C6360000000000500010D0A2DB40000000049454E44AE426082";

#[tokio::test]
async fn an_attachment_picked_offline_is_uploaded_and_sent_once_online() -> e2e::Result<()> {
    let dir = scratch_dir("composer-attachment");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let cookie = http::login(&server.addr, "alice", "demo").await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    let file = dir.join("screenshot.txt");
    let bytes = "the error dialog says 0x80070005\n".repeat(50);
    std::fs::write(&file, &bytes).map_err(|source| e2e::HarnessError::Io {
        what: "writing the attachment".into(),
        source,
    })?;
    // A 1x1 PNG, to be shown at once from its local copy.
    let image = dir.join("dot.png");
    let png: Vec<u8> = (0..PNG_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PNG_HEX[i..i + 2], 16).unwrap_or(0))
        .collect();
    std::fs::write(&image, png).map_err(|source| e2e::HarnessError::Io {
        what: "writing the image".into(),
        source,
    })?;
    offline(&browser, &server, &page, true).await?;
    pick_files(&page, &[&file, &image]).await?;
    page.wait_for(
        "document.querySelector('.composer__files')?.textContent.includes('screenshot.txt')",
        WAIT,
    )
    .await?;
    type_and_send(&page, "log attached").await?;
    page.wait_for(
        "document.querySelector('[data-state=pending]')?.textContent.includes('screenshot.txt')",
        WAIT,
    )
    .await?;
    // The image shows at once from the local copy, before any upload.
    page.wait_for(
        "(() => { const img = document.querySelector('[data-state=pending] img.attachment__thumb');
           return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 1; })()",
        WAIT,
    )
    .await?;
    assert_eq!(last_seq(&server, &cookie, CHAT).await?, 3);
    offline(&browser, &server, &page, false).await?;
    page.wait_for(
        "document.querySelector('[data-seq=\"4\"][data-state=sent] .attachment')?.textContent.includes('screenshot.txt')",
        Duration::from_secs(60),
    )
    .await?;
    // The server holds the message once, with the uploaded bytes.
    let reply = http::send(
        &server.addr,
        "GET",
        &format!("/api/chat/messages?request_id={CHAT}&from_seq=4&to_seq=10"),
        &[("Cookie", &cookie)],
        "",
    )
    .await?;
    let stored: Value = serde_json::from_str(&reply.body)
        .map_err(|e| e2e::HarnessError::Setup(format!("{}: {e}", reply.body)))?;
    assert_eq!(
        stored["messages"].as_array().map(Vec::len),
        Some(1),
        "{stored}"
    );
    let attachment = &stored["messages"][0]["attachments"][0];
    assert_eq!(
        stored["messages"][0]["attachments"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(attachment["name"], "screenshot.txt");
    assert_eq!(attachment["size"], bytes.len());
    let media = http::send(
        &server.addr,
        "GET",
        &format!(
            "/api/media/{}",
            attachment["media_id"].as_str().unwrap_or("")
        ),
        &[("Cookie", &cookie)],
        "",
    )
    .await?;
    assert_eq!(media.status, 200);
    assert_eq!(media.body, bytes);
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// Issue 14: an upload that takes longer than the old 30 s total limit (6 MiB at 160 KiB/s,
/// about 38 s) is not failed and retried for ever: it fails only on lack of progress, shows
/// its progress on the pending row, and is sent once. The server reads uploads at that rate
/// (a test fault): whichever context uploads (the page's live worker, the service worker),
/// the page's network emulation would not reach it. Read at the server, the bytes queue in
/// the operating system's socket buffers (Chromium counted 64 % of the file out at once), so
/// the file is larger than they hold, and the upload's answer window covers their draining
/// (`chat_sync::upload::UploadWatch::answer_window_ms`: with the former 30 s, this test
/// failed every attempt).
#[tokio::test]
async fn a_slow_upload_that_keeps_moving_is_sent_and_shows_its_progress() -> e2e::Result<()> {
    let dir = scratch_dir("composer-slow-upload");
    let server = Server::start(&dir.join("server"), &["--demo", "--test-faults"]).await?;
    let cookie = http::login(&server.addr, "alice", "demo").await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = open_chat_as_alice(&browser, &server).await?;
    let file = dir.join("capture.log");
    let line = "2026-12-04 03:14:15 ERROR spooler: job 42 stuck in queue FL3-PRN-02\n";
    let bytes = line.repeat(6 * 1024 * 1024 / line.len());
    std::fs::write(&file, &bytes).map_err(|source| e2e::HarnessError::Io {
        what: "writing the attachment".into(),
        source,
    })?;
    e2e::chat::set_faults(
        &server,
        json!({ "path_prefix": "/api/media", "upload_bytes_per_sec": 160 * 1024 }),
    )
    .await?;
    pick_files(&page, &[&file]).await?;
    page.wait_for(
        "document.querySelector('.composer__files')?.textContent.includes('capture.log')",
        WAIT,
    )
    .await?;
    let started = std::time::Instant::now();
    type_and_send(&page, "the spooler log").await?;
    let shown = page
        .wait_for(
            "(() => { const s = document.querySelector('[data-state=pending] .msg__status')?.textContent ?? '';
               return /Uploading \\d+ %/.test(s) ? s : null; })()",
            Duration::from_secs(30),
        )
        .await?;
    eprintln!("progress shown: {shown}");
    page.wait_for(
        "document.querySelector('[data-seq=\"4\"][data-state=sent] .attachment')?.textContent.includes('capture.log')",
        Duration::from_secs(120),
    )
    .await?;
    let took = started.elapsed().as_secs_f64();
    eprintln!("sent after {took:.1} s");
    assert!(
        took > 30.0,
        "the link was not slow enough to prove anything: {took:.1} s"
    );
    let bodies = server_bodies(&server, &cookie, 4, 10).await?;
    assert_eq!(bodies.len(), 1, "sent once: {bodies:?}");
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// A page expression that clicks the element `selector` names and is true once it did, for
/// `wait_for`.
fn click_when_shown(selector: &str) -> String {
    format!("(() => {{ const el = document.querySelector({selector:?}); if (!el) return false; el.click(); return true; }})()")
}
