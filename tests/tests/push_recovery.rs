//! Pushes under adverse conditions, end to end in Chromium with the real server and the real
//! worker, no tab of the app open: duplicate and out-of-order pushes, the worker stopped in
//! the middle of a range fetch, and the worker's network offline during a hint.
//!
//! Caches are read from a same-origin page that is not the app (`/metrics`), so no app code
//! runs and every history fetch counted by the server's `/metrics` is the worker's.

use std::time::Duration;

use e2e::http;
use e2e::rig::{hint_payload, message_payload, post_as, seqs, Rig, CURSOR, RANGE};
use serde_json::{json, Value};

/// History GETs answered 200 (sends are POSTs answered 201 on the same route).
const FETCHES: &str = "http_requests_total{route=\"/api/chat/messages\",status=\"200\"}";

fn seq_of(message: &Value) -> u64 {
    message["seq"].as_u64().unwrap_or_default()
}

/// Every seq at most once, whatever the snapshot's order.
fn assert_each_once(snapshot: &Value) {
    let seqs = seqs(snapshot);
    let mut unique = seqs.clone();
    unique.dedup();
    assert_eq!(seqs, unique, "a seq is stored twice: {snapshot}");
    assert_eq!(
        snapshot["total"].as_u64(),
        Some(seqs.len() as u64),
        "{snapshot}"
    );
}

#[tokio::test]
async fn duplicate_and_out_of_order_pushes_are_cached_once_in_order() -> e2e::Result<()> {
    let rig = Rig::start("push-dup-order").await?;
    let requester = http::login(&rig.server.addr, "requester5", "demo").await?;
    // 9..=12 now; 13 only after the first repair, since a fetch reply names the chat's last
    // seq and the worker rightly fetches up to it.
    let mut posted = Vec::new();
    for i in 0..4 {
        posted.push(post_as(&rig.server, &requester, "REQ-1005", &format!("m{i}")).await?);
    }
    let first = seq_of(&posted[0]);
    assert_eq!(first, 9, "REQ-1005 is seeded with 8 messages");
    let blank = rig.blank().await?;
    let observer = rig.observer().await?;
    let range_before = rig.metric(RANGE).await?;
    let cursor_before = rig.metric(CURSOR).await?;

    // Phase A, one at a time: 9, then 12 (10 and 11 are fetched, exactly), then 10, 11, 12
    // and 9 again (all duplicates now), then 13.
    rig.push(&blank, &message_payload(&posted[0], &rig.user_id))
        .await?;
    rig.observe_until(&observer, "REQ-1005", "seq 9", |s| seqs(s) == [9])
        .await?;
    rig.deliver(&blank, &message_payload(&posted[3], &rig.user_id))
        .await?;
    rig.observe_until(&observer, "REQ-1005", "9..=12 after the gap", |s| {
        seqs(s) == [9, 10, 11, 12]
    })
    .await?;
    assert_eq!(rig.metric(RANGE).await? - range_before, 2.0, "10 and 11");
    for index in [1, 2, 3, 0] {
        rig.deliver(&blank, &message_payload(&posted[index], &rig.user_id))
            .await?;
    }
    posted.push(post_as(&rig.server, &requester, "REQ-1005", "m4").await?);
    rig.deliver(&blank, &message_payload(&posted[4], &rig.user_id))
        .await?;
    let snapshot = rig
        .observe_until(&observer, "REQ-1005", "9..=13", |s| {
            seqs(s) == [9, 10, 11, 12, 13]
        })
        .await?;
    // Let any straggling duplicate finish before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rig.metric(RANGE).await? - range_before,
        2.0,
        "duplicates fetch nothing"
    );
    assert_each_once(&snapshot);
    assert_eq!(snapshot["chat"]["unread"], 5, "{snapshot}");
    assert_eq!(snapshot["chat"]["last_message"], "m4");

    // Phase B, a burst: 14..=18 delivered as 18, 16, 14, 17, 15, 18, 14 without waiting.
    let mut burst = Vec::new();
    for i in 5..10 {
        burst.push(post_as(&rig.server, &requester, "REQ-1005", &format!("m{i}")).await?);
    }
    let range_mid = rig.metric(RANGE).await?;
    let fetches_mid = rig.metric(FETCHES).await?;
    for index in [4, 2, 0, 3, 1, 4, 0] {
        rig.deliver(&blank, &message_payload(&burst[index], &rig.user_id))
            .await?;
    }
    let snapshot = rig
        .observe_until(&observer, "REQ-1005", "9..=18 after the burst", |s| {
            seqs(s) == (9..=18).collect::<Vec<_>>()
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fetched = rig.metric(RANGE).await? - range_mid;
    let requests = rig.metric(FETCHES).await? - fetches_mid;
    // When 18 lands first, 14..=17 are missing: at most those four may be fetched, each once.
    assert!(fetched <= 4.0, "fetched {fetched} messages for a 4-seq gap");
    assert_each_once(&snapshot);
    assert_eq!(snapshot["chat"]["unread"], 10, "{snapshot}");
    assert_eq!(
        snapshot["chat"]["last_message"], "m9",
        "the newest, not the last to arrive"
    );
    assert_eq!(rig.metric(CURSOR).await? - cursor_before, 0.0, "no reload");
    println!(
        "burst of 7 pushes over 5 new seqs: {fetched} messages fetched in {requests} requests"
    );
    observer.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_worker_stopped_mid_fetch_loses_and_repeats_nothing() -> e2e::Result<()> {
    let rig = Rig::start_with("push-stop-mid-fetch", &["--test-faults"]).await?;
    let requester = http::login(&rig.server.addr, "requester3", "demo").await?;
    let blank = rig.blank().await?;
    let observer = rig.observer().await?;
    let first = post_as(&rig.server, &requester, "REQ-1003", "first").await?;
    let n = seq_of(&first);
    rig.push(&blank, &message_payload(&first, &rig.user_id))
        .await?;
    rig.observe_until(&observer, "REQ-1003", "the first push", |s| seqs(s) == [n])
        .await?;
    for i in 1..=3 {
        post_as(&rig.server, &requester, "REQ-1003", &format!("missed {i}")).await?;
    }
    let after_gap = post_as(&rig.server, &requester, "REQ-1003", "after the gap").await?;
    let range_before = rig.metric(RANGE).await?;
    let fetches_before = rig.metric(FETCHES).await?;

    // The server now answers chat requests after 3 s: the worker's range fetch of n+1..=n+3
    // is in flight when the worker is stopped.
    rig.set_faults(json!({ "latency_ms": 3000 })).await?;
    rig.push(&blank, &message_payload(&after_gap, &rig.user_id))
        .await?;
    rig.observe_until(
        &observer,
        "REQ-1003",
        "the push before the gap fetch",
        |s| seqs(s) == [n, n + 4],
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    blank
        .call("ServiceWorker.stopAllWorkers", json!({}))
        .await?;
    rig.set_faults(json!({})).await?;
    // Past the injected latency: had the server served the abandoned request, it would show.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let snapshot = rig
        .observe_until(&observer, "REQ-1003", "a read after the stop", |_| true)
        .await?;
    assert_eq!(seqs(&snapshot), [n, n + 4], "{snapshot}");
    let abandoned = rig.metric(RANGE).await? - range_before;

    // A later push completes the repair.
    let later = post_as(&rig.server, &requester, "REQ-1003", "later").await?;
    rig.push(&blank, &message_payload(&later, &rig.user_id))
        .await?;
    let snapshot = rig
        .observe_until(&observer, "REQ-1003", "the gap repaired", |s| {
            seqs(s) == (n..=n + 5).collect::<Vec<_>>()
        })
        .await?;
    assert_each_once(&snapshot);
    let served = rig.metric(RANGE).await? - range_before;
    let requests = rig.metric(FETCHES).await? - fetches_before;
    println!(
        "stopped mid-fetch: {abandoned} messages served to the stopped worker, {served} in all, {requests} history requests answered"
    );
    assert_eq!(abandoned, 0.0, "the abandoned fetch was never answered");
    assert_eq!(served, 3.0, "n+1..=n+3 served exactly once");
    assert_eq!(requests, 1.0, "one range request answered");
    observer.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_hint_while_the_worker_is_offline_is_repaired_by_the_next_push() -> e2e::Result<()> {
    let rig = Rig::start("push-offline").await?;
    let requester = http::login(&rig.server.addr, "requester3", "demo").await?;
    let blank = rig.blank().await?;
    let observer = rig.observer().await?;
    let first = post_as(&rig.server, &requester, "REQ-1003", "first").await?;
    let n = seq_of(&first);
    rig.push(&blank, &message_payload(&first, &rig.user_id))
        .await?;
    rig.observe_until(&observer, "REQ-1003", "the first push", |s| seqs(s) == [n])
        .await?;

    // The worker is running after that push: take its network down, then hint n+2.
    let worker = rig.worker_session().await?;
    rig.set_worker_offline(&worker, true).await?;
    post_as(&rig.server, &requester, "REQ-1003", "missed").await?;
    let hinted = post_as(&rig.server, &requester, "REQ-1003", "hinted").await?;
    assert_eq!(seq_of(&hinted), n + 2);
    let range_before = rig.metric(RANGE).await?;
    let hint = hint_payload("REQ-1003", n + 2, &rig.user_id);
    rig.deliver(&blank, &hint).await?;
    // The worker retries with backoff and gives up after about 8 s without a network.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let snapshot = rig
        .observe_until(&observer, "REQ-1003", "a read while offline", |_| true)
        .await?;
    assert_eq!(
        seqs(&snapshot),
        [n],
        "nothing can arrive offline: {snapshot}"
    );
    assert_eq!(
        rig.metric(RANGE).await? - range_before,
        0.0,
        "offline fetches reach nobody"
    );

    // Back online (the worker may have been stopped meanwhile: then its next start is online
    // anyway), and another push repairs everything.
    if let Err(error) = rig.set_worker_offline(&worker, false).await {
        println!("the offline worker target is gone ({error}); its successor starts online");
    }
    let next = post_as(&rig.server, &requester, "REQ-1003", "back online").await?;
    rig.deliver(&blank, &message_payload(&next, &rig.user_id))
        .await?;
    let snapshot = rig
        .observe_until(&observer, "REQ-1003", "the gap repaired", |s| {
            seqs(s) == (n..=n + 3).collect::<Vec<_>>()
        })
        .await?;
    assert_each_once(&snapshot);
    assert_eq!(
        rig.metric(RANGE).await? - range_before,
        2.0,
        "n+1 and n+2, once"
    );
    assert_eq!(snapshot["chat"]["last_message"], "back online");
    observer.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}
