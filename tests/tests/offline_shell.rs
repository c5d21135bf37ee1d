//! The service worker's app-shell cache: after one visit, a deep link opens with the server
//! down (the shell renders; chats then render from IndexedDB once the UI issues land).

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser};
use e2e::http;
use e2e::server::Server;
use serde_json::json;

#[tokio::test]
async fn a_deep_link_opens_from_the_shell_cache_with_the_server_down() -> e2e::Result<()> {
    let dir = scratch_dir("offline-shell");
    let server = Server::start(&dir.join("server"), &[]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&server.url("/")).await?;
    page.wait_for(
        "navigator.serviceWorker.getRegistration().then(r => r?.active?.state === 'activated')",
        Duration::from_secs(30),
    )
    .await?;
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
    let deep_link = server.url("/chat/REQ-1001");
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
    let title = page
        .wait_for(
            "document.querySelector('.shell__header h1')?.textContent",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(title, "Support desk");
    assert_eq!(page.evaluate("location.pathname").await?, "/chat/REQ-1001");
    page.close().await?;
    blank.close().await?;
    browser.close().await;
    Ok(())
}
