//! Several real `server` processes on one PostgreSQL (the binary, started as child processes):
//! live events fan out through `LISTEN/NOTIFY` to the streams of every process, each message
//! once and in order; a listener connection killed by the database loses nothing; and the
//! pushes a killed process had queued and claimed are sent by the others, each once.
//!
//! PostgreSQL only: SQLite is one process by design. `SKIP_POSTGRES=1` skips them.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chat_sync::protocol::PushPayload;
use reqwest::StatusCode;
use server::db::Db;
use server::DatabaseTarget;
use sqlx::Connection as _;
use support::process::ServerProcess;
use support::push_receiver::{subscribe, PushReceiver, TestSubscription};
use support::{login_at, metric, seed_fixtures, wait_for_metric, Client, SseReader};

/// Long enough for a loaded debug build, far shorter than the 5 s poll the fan-out replaced.
const PROMPT: Duration = Duration::from_secs(3);

/// A fresh database with the fixtures (alice and bob; r1 owns REQ-A of alice, r2 REQ-B of
/// bob), migrated and seeded before any process starts.
async fn database() -> Option<String> {
    if support::skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return None;
    }
    let url = support::postgres::fresh_database().await;
    let db = Db::connect(&DatabaseTarget::Postgres(url.clone()))
        .await
        .expect("migrate");
    seed_fixtures(&db).await;
    db.close().await;
    Some(url)
}

/// Posts `count` messages to `request_id` as `client`, one after another.
async fn post_many(client: Client, request_id: &'static str, tag: String, count: usize) {
    for i in 0..count {
        let (status, _) = client
            .send(request_id, &format!("{tag}-{i}"), &format!("{tag} {i}"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

/// What one stream received: (event id, request id, seq) in arrival order.
type Received = Vec<(u64, String, u64)>;

/// Reads `expected` messages from a stream (each within `wait`), then makes sure nothing more
/// comes for a moment.
async fn read_stream(mut stream: SseReader, expected: usize, wait: Duration) -> Received {
    let mut got = Vec::new();
    while got.len() < expected {
        match stream.next_message(wait).await {
            Some((id, message)) => got.push((id, message.request_id.0, message.seq)),
            None => panic!("only {} of {expected} messages arrived: {got:?}", got.len()),
        }
    }
    if let Some((id, message)) = stream.next_message(Duration::from_millis(500)).await {
        panic!(
            "an extra message arrived: {id} {} {}",
            message.request_id.0, message.seq
        );
    }
    got
}

/// Every message of `request_id`, seqs `1..=count`, once, in order, with increasing event ids.
fn assert_exactly_once_in_order(got: &Received, request_id: &str, count: u64, who: &str) {
    let seqs: Vec<u64> = got
        .iter()
        .filter(|(_, r, _)| r == request_id)
        .map(|(_, _, seq)| *seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=count).collect::<Vec<_>>(),
        "{who}: {request_id} out of order, missing or repeated"
    );
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "{who}: event ids not increasing: {got:?}"
    );
}

/// Requesters post through the first process (and some through the last, so commits of two
/// processes interleave); agents stream from the others. Every stream gets every message of
/// its user exactly once, in order, promptly, and a process wakes only the streams of the
/// users a notice names.
async fn fan_out(processes: usize) {
    let Some(url) = database().await else { return };
    let mut servers = Vec::new();
    for i in 0..processes {
        servers.push(ServerProcess::spawn(&url, &format!("p{i}"), &[]).await);
    }
    let a = &servers[0];
    let last = &servers[processes - 1];
    // Streams: alice twice on the second process (which has nobody else: the wake-up
    // check), and alice and bob on the last one (with two processes, bob's is on the first).
    let mut streams = Vec::new();
    let alice_b = login_at(&servers[1].base, "alice").await;
    streams.push((
        "alice on p1",
        "REQ-A",
        SseReader::open(&alice_b, None).await,
    ));
    streams.push((
        "alice on p1 (2)",
        "REQ-A",
        SseReader::open(&alice_b, None).await,
    ));
    if processes > 2 {
        let alice_c = login_at(&last.base, "alice").await;
        streams.push((
            "alice on p2",
            "REQ-A",
            SseReader::open(&alice_c, None).await,
        ));
    }
    let bob_at = if processes > 2 { last } else { a };
    let bob = login_at(&bob_at.base, "bob").await;
    streams.push(("bob", "REQ-B", SseReader::open(&bob, None).await));

    const PER_POSTER: usize = 30;
    let mut posters = Vec::new();
    for (requester, chat) in [("r1", "REQ-A"), ("r2", "REQ-B")] {
        for (k, server) in [a, a, last].into_iter().enumerate() {
            let client = login_at(&server.base, requester).await;
            posters.push(tokio::spawn(post_many(
                client,
                chat,
                format!("{requester}-{k}"),
                PER_POSTER,
            )));
        }
    }
    let per_chat = (3 * PER_POSTER) as u64;
    let mut readers = Vec::new();
    for (who, chat, stream) in streams {
        readers.push((
            who,
            chat,
            tokio::spawn(read_stream(stream, per_chat as usize, PROMPT)),
        ));
    }
    for poster in posters {
        poster.await.expect("poster");
    }
    for (who, chat, reader) in readers {
        let got = reader.await.expect("reader");
        assert_exactly_once_in_order(&got, chat, per_chat, who);
    }

    // Every process heard every message; the second woke its two alice streams for alice's
    // messages (collapsed when they come faster than a stream reads), never for bob's.
    let total = 2.0 * per_chat as f64;
    for server in &servers {
        let notices = metric(&server.base, "fanout_notices_total").await;
        assert_eq!(notices, total, "{} received every notice once", server.name);
    }
    let wakeups = metric(&servers[1].base, "sse_stream_wakeups_total").await;
    // One wake-up per stream at the listener's connect, then at most one per alice message.
    let alice_only = 2.0 * (per_chat as f64 + 1.0);
    assert!(
        wakeups > 0.0 && wakeups <= alice_only,
        "p1 gave {wakeups} wake-ups; waking for bob's messages too would be up to {}",
        2.0 * (total + 1.0)
    );
    let lag_count = metric(&servers[1].base, "sse_event_lag_seconds_count").await;
    assert_eq!(
        lag_count,
        2.0 * per_chat as f64,
        "every event's lag is measured"
    );
    eprintln!("{processes} processes: p1 woke its streams {wakeups} times for {total} notices");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_deliver_every_message_once_and_in_order() {
    fan_out(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_deliver_every_message_once_and_in_order() {
    fan_out(3).await;
}

/// The next event from a stream reader, if one comes promptly.
async fn take(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, String, u64)>,
) -> Option<(u64, String, u64)> {
    tokio::time::timeout(PROMPT, rx.recv()).await.ok().flatten()
}

/// Kills the listener connection of a process with `pg_terminate_backend` and posts while it
/// is down: once it reconnects, its stream catches up on what was committed in the gap with
/// no further message needed, and nothing is lost or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_reconnects_and_its_streams_catch_up() {
    let Some(url) = database().await else { return };
    let a = ServerProcess::spawn(&url, "la", &[]).await;
    // The reconnect waits long enough for the test to post into the gap.
    let b = ServerProcess::spawn(&url, "lb", &["--fanout-reconnect-ms", "3000"]).await;
    let alice = login_at(&b.base, "alice").await;
    let stream = SseReader::open(&alice, None).await;
    let r1 = login_at(&a.base, "r1").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut stream = stream;
        while let Some((id, message)) = stream.next_message(Duration::from_secs(30)).await {
            if tx.send((id, message.request_id.0, message.seq)).is_err() {
                break;
            }
        }
    });
    let mut got: Received = Vec::new();
    post_many(r1.clone(), "REQ-A", "before".to_owned(), 5).await;
    for _ in 0..5 {
        got.push(take(&mut rx).await.expect("a message before the cut"));
    }

    let up = "fanout_listener_up{kind=\"postgres\"}";
    assert_eq!(metric(&b.base, up).await, 1.0);
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(server::fanout::postgres::application_name(&b.name))
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(killed, [true], "exactly one listener connection of lb");
    wait_for_metric(&b.base, up, |v| v == 0.0).await;
    // Committed while lb hears nothing.
    post_many(r1.clone(), "REQ-A", "gap".to_owned(), 5).await;
    assert_eq!(
        metric(&b.base, up).await,
        0.0,
        "the gap closed before the posts were done; the test proves nothing"
    );
    assert!(
        rx.try_recv().is_err(),
        "a message of the gap arrived while the listener was down"
    );
    // Back: the catch-up brings the gap's messages with nothing else posted.
    wait_for_metric(&b.base, "fanout_listener_connects_total", |v| v == 2.0).await;
    while got.len() < 10 {
        match take(&mut rx).await {
            Some(event) => got.push(event),
            None => panic!("the gap's messages did not arrive after the reconnect: {got:?}"),
        }
    }
    post_many(r1, "REQ-A", "after".to_owned(), 5).await;
    for _ in 0..5 {
        got.push(take(&mut rx).await.expect("a message after the reconnect"));
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "an extra message arrived"
    );
    assert_exactly_once_in_order(&got, "REQ-A", 15, "alice on lb");
    reader.abort();
}

/// A process is killed (SIGKILL) in the middle of delivering queued pushes to a push service
/// that hangs: the two processes left send every one of them, the claimed ones after their
/// lease ran out, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_of_a_killed_process_are_sent_once_by_the_others() {
    let Some(url) = database().await else { return };
    let mut receiver = PushReceiver::start().await;
    receiver.hold(true);
    // A short delivery timeout, so its claims' lease (timeouts + 5 s) is short too.
    let mut a = ServerProcess::spawn(
        &url,
        "ka",
        &[
            "--push-timeout-ms",
            "2000",
            "--push-connect-timeout-ms",
            "1000",
            "--push-claim-lease-ms",
            "1000",
        ],
    )
    .await;
    let sub = TestSubscription::new();
    subscribe(&login_at(&a.base, "alice").await, &sub, &receiver.endpoint).await;
    let r1 = login_at(&a.base, "r1").await;
    const COUNT: u64 = 8;
    post_many(r1, "REQ-A", "queued".to_owned(), COUNT as usize).await;
    // The first process holds as many deliveries as one push service gets at once (4) ...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while receiver.held.load(std::sync::atomic::Ordering::SeqCst) < 4 {
        assert!(tokio::time::Instant::now() < deadline, "ka never delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... and dies with them in flight and the rest queued.
    a.kill();
    let depth = metric_from_db(&url).await;
    assert_eq!(depth, (COUNT as i64, 4), "(queued, claimed) at the kill");
    receiver.hold(false);
    let b = ServerProcess::spawn(&url, "kb", &[]).await;
    let c = ServerProcess::spawn(&url, "kc", &[]).await;
    let mut seqs = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while seqs.values().sum::<usize>() < COUNT as usize {
        let received = tokio::time::timeout_at(deadline, receiver.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only these pushes arrived: {seqs:?}"))
            .expect("receiver open");
        match sub.decrypt(received.body) {
            PushPayload::Message { message, .. } => *seqs.entry(message.seq).or_insert(0) += 1,
            other => panic!("expected a whole message, got {other:?}"),
        }
    }
    assert_eq!(
        seqs,
        (1..=COUNT).map(|seq| (seq, 1)).collect::<BTreeMap<_, _>>(),
        "each push once"
    );
    wait_for_metric(&b.base, "push_queue_depth", |d| d == 0.0).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(1), receiver.rx.recv())
            .await
            .is_err(),
        "a push arrived twice"
    );
    let by_b = metric(&b.base, "push_sent_total").await;
    let by_c = metric(&c.base, "push_sent_total").await;
    assert_eq!(by_b + by_c, COUNT as f64);
    eprintln!("after the kill: kb sent {by_b}, kc sent {by_c}");
}

/// (rows queued, rows claimed now) in the push queue.
async fn metric_from_db(url: &str) -> (i64, i64) {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE claimed_until > \
         (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT) FROM push_outbox",
    )
    .fetch_one(&mut connection)
    .await
    .expect("queue")
}
