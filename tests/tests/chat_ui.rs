//! The agent's chat UI in real headless Chromium against the real server, judged by the DOM
//! hooks of SPEC.md: cached rows at once, skeletons exactly where messages are missing, only
//! those ranges requested, the sync indicator only while a fetch is on the network, the
//! resync button only once the view is ready, and message bodies shown as text.
//!
//! Demo data (`server/src/demo_seed.rs`): alice's `REQ-1007` has 20 messages.

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser, Page};
use e2e::chat::{chat_list, post_as, set_faults, sign_in_ui, ROWS_JS};
use e2e::http;
use e2e::server::Server;
use serde_json::{json, Value};

const RANGE: &str = "chat_messages_served_total{kind=\"range\"}";
const CURSOR: &str = "chat_messages_served_total{kind=\"cursor\"}";
const CHAT: &str = "REQ-1007";
const WAIT: Duration = Duration::from_secs(20);

/// A window tall enough for all of a 25-message chat's rows to be in the DOM at once (the
/// list is virtualized: in a small window only the rows near the viewport exist).
async fn tall(page: &Page<'_>) -> e2e::Result<()> {
    page.set_window(1200, 3000).await
}

fn seqs_of(rows: &Value) -> Vec<u64> {
    rows["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[0].as_u64())
        .collect()
}

/// The requester of `request_id` signed in over HTTP (demo user names are the ids without
/// `u_`).
async fn requester_of(server: &Server, agent: &str, request_id: &str) -> e2e::Result<String> {
    let chats = chat_list(server, agent).await?;
    let chat = chats
        .iter()
        .find(|c| c["request_id"] == request_id)
        .ok_or_else(|| e2e::HarnessError::Setup(format!("{request_id} is not listed")))?;
    let username = chat["requester"]["id"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("u_")
        .to_owned();
    http::login(&server.addr, &username, "demo").await
}

#[tokio::test]
async fn a_partial_chat_shows_cached_rows_at_once_and_skeletons_only_where_missing(
) -> e2e::Result<()> {
    let dir = scratch_dir("ui-partial");
    let server = Server::start(&dir.join("server"), &["--demo", "--test-faults"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    tall(&page).await?;
    sign_in_ui(&page, "alice", "demo").await?;

    // A chat never opened before: its newest page is fetched and shown.
    let first = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}; return r.messages.length === 20 && r; }})()"),
            WAIT,
        )
        .await?;
    assert_eq!(seqs_of(&first), (1..=20).collect::<Vec<_>>());
    assert_eq!(first["gaps"], json!([]));
    assert_eq!(first["ready"], "true");

    // Five messages arrive while the tab is gone; history fetches then fail.
    page.close().await?;
    let agent = http::login(&server.addr, "alice", "demo").await?;
    let requester = requester_of(&server, &agent, CHAT).await?;
    for i in 1..=5 {
        post_as(&server, &requester, CHAT, &format!("while away {i}")).await?;
    }
    set_faults(
        &server,
        json!({ "error_rate": 1.0, "path_prefix": "/api/chat/messages" }),
    )
    .await?;

    // Reopened: the 20 cached rows at once, one skeleton exactly at 21..=25.
    let page = browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    tall(&page).await?;
    let cached = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}; return r.ready === 'true' && r; }})()"),
            WAIT,
        )
        .await?;
    assert_eq!(seqs_of(&cached), (1..=20).collect::<Vec<_>>(), "{cached}");
    let partial = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}; return r.gaps.length > 0 && r; }})()"),
            WAIT,
        )
        .await?;
    assert_eq!(partial["gaps"], json!([[21, 25]]), "{partial}");
    assert_eq!(seqs_of(&partial), (1..=20).collect::<Vec<_>>());

    // Slow, working history: resync fetches exactly the missing five, with the indicator on
    // only while the fetch runs.
    let range_before = server.metric(RANGE).await?;
    let cursor_before = server.metric(CURSOR).await?;
    set_faults(
        &server,
        json!({ "latency_ms": 1500, "path_prefix": "/api/chat/messages" }),
    )
    .await?;
    page.evaluate("document.querySelector('[data-testid=resync]').click()")
        .await?;
    page.wait_for(
        "document.querySelector('[data-testid=sync-indicator]') !== null",
        WAIT,
    )
    .await?;
    let disabled = page
        .evaluate("document.querySelector('[data-testid=resync]').disabled")
        .await?;
    assert_eq!(disabled, json!(true), "resync is disabled while fetching");
    let repaired = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}; return r.gaps.length === 0 && r; }})()"),
            WAIT,
        )
        .await?;
    assert_eq!(seqs_of(&repaired), (1..=25).collect::<Vec<_>>());
    assert_eq!(repaired["messages"][24][2], "while away 5");
    page.wait_for(
        "document.querySelector('[data-testid=sync-indicator]') === null",
        WAIT,
    )
    .await?;
    assert_eq!(server.metric(RANGE).await? - range_before, 5.0);
    assert_eq!(server.metric(CURSOR).await? - cursor_before, 0.0);
    // The page asked for none of it: the tab's live worker fetches history (its requests are
    // in its own timeline), and the page's wasm links no fetch of history.
    let page_fetches = page
        .evaluate(
            "performance.getEntriesByType('resource')
               .filter(e => e.name.includes('/api/chat/messages')).length",
        )
        .await?;
    assert_eq!(page_fetches, json!(0), "history fetched by the page itself");

    browser.close().await;
    server.stop().await;
    Ok(())
}

/// Records, from before the app starts, whether the resync button ever appeared while the
/// chat view was not ready, and whether any injected script ran.
const WATCH_JS: &str = r#"
window.__resyncBeforeReady = 0;
window.__resyncSeen = 0;
new MutationObserver(() => {
  const view = document.querySelector('[data-testid=chat-view]');
  if (document.querySelector('[data-testid=resync]')) {
    window.__resyncSeen += 1;
    if (!view || view.dataset.ready !== 'true') window.__resyncBeforeReady += 1;
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"#;

#[tokio::test]
async fn hostile_bodies_render_as_text_and_resync_waits_for_ready() -> e2e::Result<()> {
    let dir = scratch_dir("ui-hostile");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let agent = http::login(&server.addr, "alice", "demo").await?;
    let requester = requester_of(&server, &agent, CHAT).await?;
    let hostile = [
        "<img src=x onerror=\"window.__pwned = 1\">",
        "<script>window.__pwned = 2</script>",
        "<a href=\"javascript:window.__pwned=3\">click</a> https://example.com/ok",
        "   leading and trailing   \n second line",
    ];
    for body in hostile {
        post_as(&server, &requester, CHAT, body).await?;
    }
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page("about:blank").await?;
    tall(&page).await?;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": WATCH_JS }),
    )
    .await?;
    page.navigate(&server.url(&format!("/chat/{CHAT}"))).await?;
    sign_in_ui(&page, "alice", "demo").await?;
    let shown = page
        .wait_for(
            &format!("(() => {{ const r = {ROWS_JS}; return r.messages.length === 24 && r; }})()"),
            WAIT,
        )
        .await?;
    for (i, body) in hostile.iter().enumerate() {
        assert_eq!(
            shown["messages"][20 + i][2],
            *body,
            "row {} shows the body as text",
            21 + i
        );
    }
    let evidence = page
        .evaluate(
            "({ pwned: window.__pwned ?? null,
                imgs: document.querySelectorAll('[data-testid=message] img').length,
                scripts: document.querySelectorAll('[data-testid=message] script').length,
                links: [...document.querySelectorAll('[data-testid=message] a')]
                  .map(a => [a.getAttribute('href'), a.rel, a.target]) })",
        )
        .await?;
    assert_eq!(evidence["pwned"], Value::Null, "{evidence}");
    assert_eq!(evidence["imgs"], 0, "{evidence}");
    assert_eq!(evidence["scripts"], 0, "{evidence}");
    assert_eq!(
        evidence["links"],
        json!([["https://example.com/ok", "noopener noreferrer", "_blank"]]),
        "only the http(s) URL became a link"
    );

    // The resync button was never in the DOM before the view was ready, and is there now.
    let watch = page
        .evaluate("({ before: window.__resyncBeforeReady, seen: window.__resyncSeen })")
        .await?;
    assert_eq!(watch["before"], 0, "{watch}");
    assert!(watch["seen"].as_u64().unwrap_or(0) > 0, "{watch}");
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_chat_list_orders_filters_and_opens_chats_by_keyboard() -> e2e::Result<()> {
    let dir = scratch_dir("ui-list");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let agent = http::login(&server.addr, "alice", "demo").await?;
    let listed = chat_list(&server, &agent).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&server.url("/")).await?;
    sign_in_ui(&page, "alice", "demo").await?;
    let items_js = "[...document.querySelectorAll('[data-testid=chat-item]')]
        .map(i => [i.dataset.requestId, Number(i.dataset.unread)])";
    let items = page
        .wait_for(
            &format!(
                "(() => {{ const l = {items_js}; return l.length === {} && l; }})()",
                listed.len()
            ),
            WAIT,
        )
        .await?;
    // Newest activity first, exactly the server's chats.
    let mut expected: Vec<(i64, String)> = listed
        .iter()
        .map(|c| {
            (
                c["updated_at"].as_i64().unwrap_or(0),
                c["request_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let shown: Vec<String> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i[0].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        shown,
        expected.iter().map(|e| e.1.clone()).collect::<Vec<_>>()
    );

    // The search box filters by title.
    let title = listed[0]["title"].as_str().unwrap_or_default().to_owned();
    page.evaluate(&format!(
        "(() => {{ const s = document.querySelector('[data-testid=chat-search]');
            s.value = {:?}; s.dispatchEvent(new Event('input', {{ bubbles: true }})); }})()",
        title.to_uppercase()
    ))
    .await?;
    let filtered = page
        .wait_for(
            &format!(
                "(() => {{ const l = {items_js}; return l.length < {} && l; }})()",
                listed.len()
            ),
            WAIT,
        )
        .await?;
    assert!(
        filtered
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i[0] == listed[0]["request_id"]),
        "{filtered}"
    );
    page.evaluate(
        "(() => { const s = document.querySelector('[data-testid=chat-search]');
            s.value = ''; s.dispatchEvent(new Event('input', { bubbles: true })); })()",
    )
    .await?;

    // Keyboard: focus the list, arrow down twice, Enter opens the second chat; Esc goes back.
    page.wait_for(
        &format!(
            "document.querySelectorAll('[data-testid=chat-item]').length === {}",
            listed.len()
        ),
        WAIT,
    )
    .await?;
    page.evaluate("document.querySelector('[data-testid=chat-item]').focus()")
        .await?;
    for key in ["ArrowDown", "Enter"] {
        key_press(&page, key).await?;
    }
    let opened = page
        .wait_for(
            "document.querySelector('[data-testid=chat-view]')?.dataset.requestId",
            WAIT,
        )
        .await?;
    assert_eq!(opened, json!(shown[1]));
    assert_eq!(
        page.evaluate("location.pathname").await?,
        json!(format!("/chat/{}", shown[1]))
    );
    page.wait_for(
        "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'",
        WAIT,
    )
    .await?;
    key_press(&page, "Escape").await?;
    page.wait_for("location.pathname === '/'", WAIT).await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

async fn key_press(page: &Page<'_>, key: &str) -> e2e::Result<()> {
    let (code, vk) = match key {
        "ArrowDown" => ("ArrowDown", 40),
        "ArrowUp" => ("ArrowUp", 38),
        "Enter" => ("Enter", 13),
        _ => ("Escape", 27),
    };
    for kind in ["rawKeyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({ "type": kind, "key": key, "code": code, "windowsVirtualKeyCode": vk,
                    "text": if key == "Enter" && kind == "rawKeyDown" { "\r" } else { "" } }),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn older_history_loads_page_by_page_without_moving_the_reader() -> e2e::Result<()> {
    // REQ-1017 has 1,000 messages; pages are 500.
    let chat = "REQ-1017";
    let dir = scratch_dir("ui-older");
    let server = Server::start(&dir.join("server"), &["--demo", "--test-faults"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser
        .new_page(&server.url(&format!("/chat/{chat}")))
        .await?;
    sign_in_ui(&page, "alice", "demo").await?;
    let shown = page
        .wait_for(
            "(() => { const r = [...document.querySelectorAll('[data-testid=message]')];
               return r.some(x => x.dataset.seq === '1000') && r.length; })()",
            WAIT,
        )
        .await?;
    let in_dom = shown.as_u64().unwrap_or(0);
    assert!(
        in_dom > 0 && in_dom < 100,
        "virtualized: {in_dom} rows in the DOM"
    );
    let range_before = server.metric(RANGE).await?;
    // A slow server, so the skeleton can be seen before the page arrives.
    set_faults(
        &server,
        json!({ "latency_ms": 1000, "path_prefix": "/api/chat/messages" }),
    )
    .await?;
    // Scroll to the top: the older-history skeleton covers 1..=500 and is fetched.
    page.evaluate("document.querySelector('.messages').scrollTop = 0")
        .await?;
    let skeleton = page
        .wait_for(
            "(() => { const g = document.querySelector('[data-testid=gap-skeleton]');
               return g && [Number(g.dataset.from), Number(g.dataset.to)]; })()",
            WAIT,
        )
        .await?;
    assert_eq!(skeleton, json!([1, 500]));
    // The oldest cached message shows right below it (read from IndexedDB in a moment).
    let anchor_before = page
        .wait_for(
            "document.querySelector('[data-seq=\"501\"]')?.getBoundingClientRect().top ?? null",
            WAIT,
        )
        .await?;
    assert!(
        page.evaluate("document.querySelector('[data-testid=gap-skeleton]') !== null")
            .await?
            .as_bool()
            .unwrap_or(false),
        "older history was still being fetched when the anchor was measured"
    );
    page.wait_for(
        "document.querySelector('[data-testid=gap-skeleton]') === null",
        WAIT,
    )
    .await?;
    let anchor_after = page
        .evaluate(
            "document.querySelector('[data-seq=\"501\"]')?.getBoundingClientRect().top ?? null",
        )
        .await?;
    let (before, after) = (
        anchor_before.as_f64().unwrap_or(f64::NAN),
        anchor_after.as_f64().unwrap_or(f64::NAN),
    );
    assert!(
        (before - after).abs() <= 2.0,
        "message 501 moved from {before} to {after} when older history was prepended"
    );
    assert_eq!(server.metric(RANGE).await? - range_before, 500.0);
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn live_messages_show_in_the_open_chat_and_count_as_unread_elsewhere() -> e2e::Result<()> {
    let dir = scratch_dir("ui-live");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let agent = http::login(&server.addr, "alice", "demo").await?;
    let requester = requester_of(&server, &agent, CHAT).await?;
    let other = "REQ-1005";
    let other_requester = requester_of(&server, &agent, other).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    sign_in_ui(&page, "alice", "demo").await?;
    page.wait_for("document.querySelector('[data-seq=\"20\"]') !== null", WAIT)
        .await?;
    // The live stream is up once the server counts one client.
    e2e::wait_until("one SSE client", WAIT, || async {
        Ok((server.metric("sse_clients").await? >= 1.0).then_some(()))
    })
    .await?;

    // At the bottom: a new message shows at once, and the open chat gains no unread.
    post_as(&server, &requester, CHAT, "live one").await?;
    page.wait_for(
        "document.querySelector('[data-seq=\"21\"]')?.textContent.includes('live one')",
        WAIT,
    )
    .await?;
    let unread = page
        .evaluate(&format!(
            "document.querySelector('[data-testid=chat-item][data-request-id=\"{CHAT}\"]').dataset.unread"
        ))
        .await?;
    assert_eq!(unread, "0");

    // Scrolled up: the reader stays where they are and is offered the new message.
    page.evaluate("document.querySelector('.messages').scrollTop = 0")
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    post_as(&server, &requester, CHAT, "live two").await?;
    page.wait_for("document.querySelector('.chat__latest') !== null", WAIT)
        .await?;
    let top = page
        .evaluate("document.querySelector('.messages').scrollTop")
        .await?;
    assert_eq!(top, 0, "the reader was not moved");
    page.evaluate("document.querySelector('.chat__latest').click()")
        .await?;
    page.wait_for(
        "(() => { const m = document.querySelector('.messages');
           return document.querySelector('[data-seq=\"22\"]') !== null
             && m.scrollTop + m.clientHeight >= m.scrollHeight - 30; })()",
        WAIT,
    )
    .await?;

    // Another chat: its badge counts the new message, and opening it clears the count.
    post_as(&server, &other_requester, other, "elsewhere").await?;
    let badge = format!(
        "document.querySelector('[data-testid=chat-item][data-request-id=\"{other}\"]')?.dataset.unread"
    );
    page.wait_for(&format!("{badge} === '1'"), WAIT).await?;
    page.evaluate(&format!(
        "document.querySelector('[data-testid=chat-item][data-request-id=\"{other}\"]').click()"
    ))
    .await?;
    page.wait_for(&format!("{badge} === '0'"), WAIT).await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// How many `type` listeners the page's `window` has (CDP `DOMDebugger.getEventListeners`).
async fn window_listeners(page: &Page<'_>, kind: &str) -> e2e::Result<usize> {
    let window = page
        .call("Runtime.evaluate", json!({ "expression": "window" }))
        .await?;
    let object_id = window["result"]["objectId"].clone();
    let listeners = page
        .call(
            "DOMDebugger.getEventListeners",
            json!({ "objectId": object_id }),
        )
        .await?;
    Ok(listeners["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["type"] == kind)
        .count())
}

/// Opening chats one after another and going back to the list leaves nothing behind on the
/// window: each chat view's listeners (resize) go with it, however many chats an agent opens
/// in a day.
#[tokio::test]
async fn opening_and_leaving_chats_leaves_no_window_listener_behind() -> e2e::Result<()> {
    let dir = scratch_dir("ui-listeners");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&server.url("/")).await?;
    sign_in_ui(&page, "alice", "demo").await?;
    let ids = page
        .wait_for(
            "(() => { const l = [...document.querySelectorAll('[data-testid=chat-item]')]
                .map(i => i.dataset.requestId); return l.length >= 2 && l; })()",
            WAIT,
        )
        .await?;
    let ids: Vec<String> = ids
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_str().map(str::to_owned))
        .take(2)
        .collect();
    let before = window_listeners(&page, "resize").await?;
    let mut while_open = Vec::new();
    for round in 0..4 {
        let id = &ids[round % 2];
        page.evaluate(&format!(
            "document.querySelector('[data-testid=chat-item][data-request-id={id:?}]').click()"
        ))
        .await?;
        page.wait_for(
            &format!(
                "(() => {{ const v = document.querySelector('[data-testid=chat-view]'); \
                   return v?.dataset.requestId === {id:?} && v.dataset.ready === 'true'; }})()"
            ),
            WAIT,
        )
        .await?;
        while_open.push(window_listeners(&page, "resize").await?);
        key_press(&page, "Escape").await?;
        page.wait_for("!document.querySelector('[data-testid=chat-view]')", WAIT)
            .await?;
    }
    // One chat view at a time holds at most one more; none is left once the views are gone.
    assert!(
        while_open.iter().all(|n| *n <= before + 1),
        "listeners while a chat is open: {while_open:?} (before: {before})"
    );
    // A closed list lets its listener go when its last task ends (a read in flight holds
    // it a few milliseconds past the view): wait for that, up to 5 s; a leak never gets there.
    let settled = e2e::wait_until(
        "the views' listeners to go",
        Duration::from_secs(5),
        || async {
            let now = window_listeners(&page, "resize").await?;
            Ok((now == before).then_some(()))
        },
    )
    .await;
    let after = window_listeners(&page, "resize").await?;
    assert!(
        settled.is_ok(),
        "resize listeners left behind by 4 chat views: {after} (before: {before})"
    );
    browser.close().await;
    server.stop().await;
    Ok(())
}
