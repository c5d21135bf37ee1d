//! The service worker's app-shell cache: after one visit, a deep link opens with the server
//! down, and the chat list and the chat render from IndexedDB.

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser};
use e2e::chat::sign_in_ui;
use e2e::http;
use e2e::server::Server;
use serde_json::json;

#[tokio::test]
async fn a_deep_link_opens_from_the_shell_cache_with_the_server_down() -> e2e::Result<()> {
    let dir = scratch_dir("offline-shell");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&server.url("/chat/REQ-1003")).await?;
    sign_in_ui(&page, "alice", "demo").await?;
    // REQ-1003 has three messages: once shown, they are cached.
    page.wait_for(
        "document.querySelectorAll('[data-testid=message]').length === 3",
        Duration::from_secs(20),
    )
    .await?;
    page.wait_for_service_worker(false).await?;
    let cached = page
        .wait_for(
            "caches.keys().then(names => names.find(n => n.startsWith('supportdesk-shell-')))
               .then(name => name && caches.open(name)).then(c => c && c.keys())
               .then(keys => keys && keys.map(k => new URL(k.url).pathname).sort())",
            Duration::from_secs(10),
        )
        .await?;
    let cached: Vec<&str> = cached
        .as_array()
        .map(|l| l.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(cached.contains(&"/"), "{cached:?}");
    assert!(cached.contains(&"/boot.js"), "{cached:?}");
    assert!(cached.contains(&"/worker_bg.wasm"), "{cached:?}");
    assert!(
        cached
            .iter()
            .any(|p| p.starts_with("/app-") && p.ends_with("_bg.wasm")),
        "{cached:?}"
    );
    page.close().await?;

    let addr = server.addr.clone();
    let deep_link = server.url("/chat/REQ-1003");
    server.stop().await;
    assert!(
        http::get(&addr, "/").await.is_err(),
        "the server is still answering"
    );

    // A cold start offline: the worker's own wasm must come from the shell cache too.
    let blank = browser.new_page("about:blank").await?;
    blank.call("ServiceWorker.enable", json!({})).await?;
    blank
        .call("ServiceWorker.stopAllWorkers", json!({}))
        .await?;
    let page = browser.new_page(&deep_link).await?;
    // The agent remembered from the last confirmed session, the chat from IndexedDB.
    let shown = page
        .wait_for(
            "(() => { const rows = [...document.querySelectorAll('[data-testid=message]')];
               return rows.length === 3 && rows.map(r => Number(r.dataset.seq)); })()",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(shown, json!([1, 2, 3]));
    let chats = page
        .evaluate("document.querySelectorAll('[data-testid=chat-item]').length")
        .await?;
    assert!(
        chats.as_u64().is_some_and(|n| n >= 12),
        "alice's cached chats listed offline: {chats}"
    );
    let offline_note = page
        .wait_for(
            "document.querySelector('.desk__offline')?.textContent",
            Duration::from_secs(10),
        )
        .await?;
    assert!(offline_note.as_str().is_some_and(|t| t.contains("Offline")));
    assert_eq!(page.evaluate("location.pathname").await?, "/chat/REQ-1003");
    page.close().await?;
    blank.close().await?;
    browser.close().await;
    Ok(())
}
