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

async fn metric(server: &Server, series: &str) -> e2e::Result<f64> {
    let body = http::get(&server.addr, "/metrics").await?.body;
    Ok(http::metric(&body, series))
}

/// A window tall enough for all of a 25-message chat's rows to be in the DOM at once (the
/// list is virtualized: in a small window only the rows near the viewport exist).
async fn tall(page: &Page<'_>) -> e2e::Result<()> {
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1200, "height": 3000, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await
    .map(|_| ())
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
    let range_before = metric(&server, RANGE).await?;
    let cursor_before = metric(&server, CURSOR).await?;
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
    assert_eq!(metric(&server, RANGE).await? - range_before, 5.0);
    assert_eq!(metric(&server, CURSOR).await? - cursor_before, 0.0);

    browser.close().await;
    server.stop().await;
    Ok(())
}
