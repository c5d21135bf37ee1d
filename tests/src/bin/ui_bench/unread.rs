//! The scroll-through-unread case: 1,000 messages arrive over the live stream while the agent
//! looks at the chat list, then the agent opens the chat (it opens at the first unread) and
//! scrolls down through every new row at a reader's fast pace. Measured: frame intervals
//! (p95, and frames dropped: longer than 1.5× the 16.7 ms refresh interval), long tasks, and
//! the IndexedDB writes the page issues while reading (read-write transactions per second;
//! read marks are coalesced to about one a second, so anything near the frame rate is a
//! regression). Afterwards the chat must have no unread message left, or the case did not
//! measure reading at all and fails.

use std::time::Duration;

use e2e::browser::Page;
use e2e::chat::{chat_list, post_as, snapshot_js};
use e2e::server::Server;
use e2e::{http, HarnessError};

use crate::frames::{scroll_js, Frames, COUNT_WRITES_JS};

/// New messages the agent scrolls through.
pub const UNREAD: u64 = 1_000;

/// Pixels scrolled a frame: a fast reader skimming (about 2.5 rows a frame).
const STEP: i32 = 150;

/// One of bob's chats the other cases leave alone, and its requester's user name.
async fn quiet_chat(server: &Server, bob: &str, busy: &[&str]) -> e2e::Result<(String, String)> {
    for chat in chat_list(server, bob).await? {
        let id = chat["request_id"].as_str().unwrap_or_default();
        let requester = chat["requester"]["id"]
            .as_str()
            .or_else(|| chat["requester"].as_str())
            .unwrap_or_default();
        if let Some(name) = requester.strip_prefix("u_") {
            if !id.is_empty() && !busy.contains(&id) {
                return Ok((id.to_owned(), name.to_owned()));
            }
        }
    }
    Err(HarnessError::Setup(
        "bob has no chat for the unread case".to_owned(),
    ))
}

/// Runs the case on `page` (bob signed in, the chat list showing).
pub async fn run(
    page: &Page<'_>,
    server: &Server,
    database: &str,
    busy: &[&str],
) -> e2e::Result<Frames> {
    let bob = http::login(&server.addr, "bob", "demo").await?;
    let (chat, requester) = quiet_chat(server, &bob, busy).await?;
    page.navigate(&server.url("/")).await?;
    page.wait_for(
        "document.querySelectorAll('[data-testid=chat-item]').length >= 12",
        Duration::from_secs(30),
    )
    .await?;
    // The chat is opened once and left, so everything it held before counts as read.
    let cookie = http::login(&server.addr, &requester, "demo").await?;
    for n in 0..UNREAD {
        post_as(
            server,
            &cookie,
            &chat,
            &format!("unread benchmark message {n}"),
        )
        .await?;
    }
    // The chat record's unread count, as the cache holds it.
    let unread = format!(
        "({}).then(s => s.chat?.unread ?? null)",
        snapshot_js(database, &chat)
    );
    let arrived = page
        .wait_for(
            &format!("(async () => (await {unread}) >= {UNREAD})()"),
            Duration::from_secs(120),
        )
        .await;
    if let Err(error) = arrived {
        // Say how far it got and whether the page had its event stream, which is what a
        // failure here needs explained.
        let held = page.evaluate(&unread).await.unwrap_or_default();
        let metrics = http::get(&server.addr, "/metrics").await?;
        eprintln!(
            "ui-bench: {chat} shows {held} unread of {UNREAD}; server: sse_clients {}, sse_streams_ended_total {}",
            http::metric(&metrics.body, "sse_clients"),
            http::metric(&metrics.body, "sse_streams_ended_total"),
        );
        return Err(error);
    }
    page.evaluate(COUNT_WRITES_JS).await?;
    page.evaluate(&format!(
        "document.querySelector('[data-testid=chat-item][data-request-id=\"{chat}\"]').click()"
    ))
    .await?;
    page.wait_for(
        &format!(
            "document.querySelector('[data-testid=chat-view][data-request-id=\"{chat}\"]')?.dataset.ready === 'true'"
        ),
        Duration::from_secs(30),
    )
    .await?;
    let measured = Frames::from_js(&page.evaluate(&scroll_js(STEP, 5_000, false)).await?);
    // Leaving the chat (for another, inside the app) writes the last read mark; after it
    // nothing may be unread.
    let other = busy.first().copied().unwrap_or_default();
    page.evaluate(&format!(
        "document.querySelector('[data-testid=chat-item][data-request-id=\"{other}\"]').click()"
    ))
    .await?;
    let left = page
        .wait_for(
            &format!(
                "(async () => {{ const n = await ({unread}); return n === 0 ? 'read' : null; }})()"
            ),
            Duration::from_secs(10),
        )
        .await;
    if left.is_err() {
        let still = page.evaluate(&unread).await?;
        return Err(HarnessError::Setup(format!(
            "after scrolling through {chat}, {still} messages are still unread: the case did not read them"
        )));
    }
    Ok(measured)
}
