//! One browser scenario against two server processes on one PostgreSQL: the agent's page is
//! served by, and holds its Server-Sent Events stream on, process B; the requester posts
//! through process A. Each message reaches the open chat through B's stream (the fan-out of
//! `LISTEN/NOTIFY`) promptly, once and in order; before the fan-out, B's streams found A's
//! messages only by a 5-second poll.

use std::time::{Duration, Instant};

use e2e::browser::{scratch_dir, Browser};
use e2e::chat::{chat_list, post_as, sign_in_ui, ROWS_JS};
use e2e::http;
use e2e::server::Server;

/// The chat alice opens (20 demo messages).
const CHAT: &str = "REQ-1007";
const WAIT: Duration = Duration::from_secs(20);
/// Far under the 5 s poll the fan-out replaced, with room for a debug build on 2 cores.
const PROMPT: Duration = Duration::from_millis(2500);
const STREAMS_OPENED: &str = "http_requests_total{route=\"/api/chat/events\",status=\"200\"}";
/// Events sent on live streams, counted by the process that sent them.
const LIVE_EVENTS: &str = "sse_event_lag_seconds_count";

#[tokio::test]
async fn a_page_streaming_from_one_process_sees_messages_posted_through_another() -> e2e::Result<()>
{
    let dir = scratch_dir("multi-process");
    let url = e2e::postgres::fresh_database(&dir.join("postgres"), "desk").await?;
    // A seeds the demo; B finds it there.
    let a = Server::start(
        &dir.join("a"),
        &["--demo", "--database-url", &url, "--instance", "a"],
    )
    .await?;
    let b = Server::start(
        &dir.join("b"),
        &["--demo", "--database-url", &url, "--instance", "b"],
    )
    .await?;
    // The requester of the chat, signed in at A (sessions live in the shared database).
    let agent = http::login(&a.addr, "alice", "demo").await?;
    let chats = chat_list(&a, &agent).await?;
    let requester = chats
        .iter()
        .find(|c| c["request_id"] == CHAT)
        .and_then(|c| c["requester"]["id"].as_str())
        .map(|id| id.trim_start_matches("u_").to_owned())
        .ok_or_else(|| e2e::HarnessError::Setup(format!("{CHAT} is not alice's")))?;
    let requester = http::login(&a.addr, &requester, "demo").await?;

    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&b.url(&format!("/chat/{CHAT}"))).await?;
    // Tall enough for all 25 rows to be in the (virtualized) list at once.
    page.set_window(1200, 3000).await?;
    sign_in_ui(&page, "alice", "demo").await?;
    page.wait_for("document.querySelector('[data-seq=\"20\"]') !== null", WAIT)
        .await?;
    e2e::wait_until("the page's stream on B", WAIT, || async {
        Ok((b.metric("sse_clients").await? == 1.0).then_some(()))
    })
    .await?;
    assert_eq!(a.metric(STREAMS_OPENED).await?, 0.0, "no stream on A");

    let mut took = Vec::new();
    for (i, seq) in (21..=25).enumerate() {
        let body = format!("through A {i}");
        let posted = Instant::now();
        let message = post_as(&a, &requester, CHAT, &body).await?;
        assert_eq!(message["seq"], seq);
        page.wait_for(
            &format!(
                "document.querySelector('[data-seq=\"{seq}\"]')?.textContent.includes({body:?})"
            ),
            WAIT,
        )
        .await?;
        took.push(posted.elapsed());
    }
    println!("post through A → row on the page served by B: {took:?}");
    assert!(
        took.iter().all(|t| *t < PROMPT),
        "a message took longer than {PROMPT:?}: {took:?}"
    );
    let rows = page.evaluate(ROWS_JS).await?;
    let seqs: Vec<u64> = rows["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[0].as_u64())
        .collect();
    assert_eq!(
        seqs,
        (1..=25).collect::<Vec<_>>(),
        "every row once, in order"
    );
    // They came by B's live stream, which heard A's notices.
    assert!(b.metric(LIVE_EVENTS).await? >= 5.0);
    assert!(b.metric("fanout_notices_total").await? >= 5.0);
    assert_eq!(a.metric(LIVE_EVENTS).await?, 0.0);

    browser.close().await;
    b.stop().await;
    a.stop().await;
    Ok(())
}
