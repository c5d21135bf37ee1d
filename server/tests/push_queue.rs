//! The durable Web Push queue (`push_outbox`), over real HTTP against a real database (each
//! case on a SQLite file and on PostgreSQL): pushes queued when a server stops are sent once by
//! the next one, two servers on one database send each push once, failures are retried with
//! backoff and then given up, the queue is bounded, and queued pushes follow their
//! subscription (unsubscribed or taken over by another user: not sent).

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chat_sync::protocol::PushPayload;
use reqwest::StatusCode;
use support::push_receiver::{subscribe, PushReceiver, TestSubscription};
use support::{metric, wait_for_metric, Backend, TestServer};

backend_tests!(
    queued_pushes_survive_a_restart_and_arrive_once,
    two_servers_on_one_database_send_each_push_once,
    a_failing_push_is_retried_then_given_up,
    queued_pushes_follow_their_subscription,
);

const WAIT: Duration = Duration::from_secs(30);

/// Receives pushes until `count` have arrived; the message seqs they carry, as they came.
async fn receive_seqs(
    receiver: &mut PushReceiver,
    sub: &TestSubscription,
    count: usize,
) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        let received = tokio::time::timeout(WAIT, receiver.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} pushes arrived: {seqs:?}", seqs.len()))
            .expect("receiver open");
        match sub.decrypt(received.body) {
            PushPayload::Message { message, .. } => seqs.push(message.seq),
            other => panic!("expected a whole message, got {other:?}"),
        }
    }
    seqs
}

/// Waits until the queue is empty, then asserts nothing more reaches `receiver` for a while.
async fn assert_drained(base: &str, receiver: &mut PushReceiver) {
    wait_for_metric(base, "push_queue_depth", |depth| depth == 0.0).await;
    let extra = tokio::time::timeout(Duration::from_secs(1), receiver.rx.recv()).await;
    assert!(extra.is_err(), "a push arrived twice");
}

async fn queued_pushes_survive_a_restart_and_arrive_once(backend: Backend) {
    // The first server queues but does not send (as if its push services were unreachable,
    // or it stopped before sending), and holds at most three queued pushes.
    let first = TestServer::start(backend, |c| {
        c.push_sender = false;
        c.push_queue_max = 3;
        c.push_queue_trim_interval = Duration::from_millis(100);
    })
    .await;
    let mut receiver = PushReceiver::start().await;
    let alice = first.login("alice").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    let r1 = first.login("r1").await;
    for i in 1..=5 {
        let (status, _) = r1.send("REQ-A", &format!("m{i}"), "queued").await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Bounded: the two oldest are dropped and counted.
    wait_for_metric(
        &first.base,
        "push_dropped_total{reason=\"queue_full\"}",
        |n| n == 2.0,
    )
    .await;
    assert_eq!(metric(&first.base, "push_queue_depth").await, 3.0);
    assert!(
        metric(&first.base, "push_queue_oldest_age_seconds").await >= 0.0,
        "the age gauge is exported"
    );
    assert!(receiver.rx.try_recv().is_err(), "the first server sent");
    // Stop it and start another on the same database: the queue is still there.
    let target = first.db.as_ref().expect("db").target.clone();
    let TestServer { running, db, .. } = first;
    running.expect("running").shutdown().await;
    let second = TestServer::start_on(&target, |_| {}).await;
    let mut seqs = receive_seqs(&mut receiver, &sub, 3).await;
    seqs.sort_unstable();
    assert_eq!(seqs, [3, 4, 5], "the three newest, once each");
    assert_drained(&second.base, &mut receiver).await;
    assert_eq!(metric(&second.base, "push_sent_total").await, 3.0);
    second.stop().await;
    drop(db);
}

async fn two_servers_on_one_database_send_each_push_once(backend: Backend) {
    let first = TestServer::start(backend, |_| {}).await;
    let target = first.db.as_ref().expect("db").target.clone();
    // The second server looks for due pushes all the time, so it races the first for every
    // push the first stores (and the first, woken by its own sends, races it back).
    let second = TestServer::start_on(&target, |c| {
        c.push_poll_interval = Duration::from_millis(10);
    })
    .await;
    let mut receiver = PushReceiver::start().await;
    let sub = TestSubscription::new();
    subscribe(&first.login("alice").await, &sub, &receiver.endpoint).await;
    let senders = [first.login("r1").await, second.login("r1").await];
    const COUNT: u64 = 30;
    for i in 0..COUNT {
        let client = &senders[(i % 2) as usize];
        let (status, _) = client.send("REQ-A", &format!("m{i}"), "to both").await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let seqs = receive_seqs(&mut receiver, &sub, COUNT as usize).await;
    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for seq in &seqs {
        *times.entry(*seq).or_default() += 1;
    }
    assert!(times.values().all(|&n| n == 1), "sent twice: {times:?}");
    assert_eq!(times.len() as u64, COUNT);
    assert_drained(&first.base, &mut receiver).await;
    let by_first = metric(&first.base, "push_sent_total").await;
    let by_second = metric(&second.base, "push_sent_total").await;
    assert_eq!(by_first + by_second, COUNT as f64);
    eprintln!("pushes sent by the first server: {by_first}, by the second: {by_second}");
    second.stop().await;
    first.stop().await;
}

async fn a_failing_push_is_retried_then_given_up(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.push_retry_base = Duration::from_millis(50);
        c.push_max_attempts = 3;
    })
    .await;
    let mut receiver = PushReceiver::start().await;
    receiver.answer_with(503);
    let alice = server.login("alice").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    let r1 = server.login("r1").await;
    // Every attempt fails: three attempts, then it is given up (and counted).
    r1.send("REQ-A", "doomed", "never accepted").await;
    assert_eq!(receive_seqs(&mut receiver, &sub, 3).await, [1, 1, 1]);
    wait_for_metric(
        &server.base,
        "push_dropped_total{reason=\"attempts\"}",
        |n| n == 1.0,
    )
    .await;
    assert_drained(&server.base, &mut receiver).await;
    assert_eq!(metric(&server.base, "push_retried_total").await, 2.0);
    // A push service that recovers gets the retry.
    receiver.answer_with(201);
    receiver.answer_next_with(&[503]);
    r1.send("REQ-A", "late", "accepted on the second attempt")
        .await;
    assert_eq!(receive_seqs(&mut receiver, &sub, 2).await, [2, 2]);
    assert_drained(&server.base, &mut receiver).await;
    assert_eq!(metric(&server.base, "push_sent_total").await, 1.0);
    // The subscription itself was kept throughout: only 404/410 end it.
    assert_eq!(
        server
            .state()
            .db
            .subscription_count("u_alice")
            .await
            .unwrap(),
        1
    );
    server.stop().await;
}

async fn queued_pushes_follow_their_subscription(backend: Backend) {
    let first = TestServer::start(backend, |c| c.push_sender = false).await;
    let mut receiver = PushReceiver::start().await;
    let r1 = first.login("r1").await;
    let alice = first.login("alice").await;
    let gone = format!("{}-gone", receiver.endpoint);
    let shared = receiver.endpoint.clone();
    subscribe(&alice, &TestSubscription::new(), &gone).await;
    subscribe(&alice, &TestSubscription::new(), &shared).await;
    r1.send("REQ-A", "m1", "for alice").await;
    assert_eq!(metric(&first.base, "push_queue_depth").await, 2.0);
    // Unsubscribed: its queued push goes with it.
    let response = alice
        .request(reqwest::Method::DELETE, "/api/push/subscriptions")
        .json(&serde_json::json!({ "endpoint": gone }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(metric(&first.base, "push_queue_depth").await, 1.0);
    // The same browser now subscribes for bob (alice signed out, bob signed in): what was
    // queued for alice is not sent to it.
    let bob_sub = TestSubscription::new();
    subscribe(&first.login("bob").await, &bob_sub, &shared).await;
    assert_eq!(metric(&first.base, "push_queue_depth").await, 0.0);
    // Bob's own messages still reach it, from a server that sends.
    let target = first.db.as_ref().expect("db").target.clone();
    let TestServer { running, db, .. } = first;
    running.expect("running").shutdown().await;
    let second = TestServer::start_on(&target, |_| {}).await;
    let (_, sent) = second
        .login("r2")
        .await
        .send("REQ-B", "for-bob", "for bob")
        .await;
    let received = tokio::time::timeout(WAIT, receiver.rx.recv())
        .await
        .expect("bob's push arrives")
        .expect("receiver open");
    match bob_sub.decrypt(received.body) {
        PushPayload::Message { message, to } => {
            assert_eq!(message.id, sent.id);
            assert_eq!(to, "u_bob");
        }
        other => panic!("{other:?}"),
    }
    assert_drained(&second.base, &mut receiver).await;
    second.stop().await;
    drop(db);
}
