//! Issue 13's server half, over real HTTP against a real database (each case on a SQLite file
//! and on PostgreSQL): media served inert and only to the chat's participants, sign-out and
//! session expiry ending event streams, bounded streams and replays, sessions expiring idle
//! and absolute, sign-in backoff that cannot lock an agent out, and a push sender that
//! refuses private endpoints, caps subscriptions and is not stalled by a hanging endpoint.

#[macro_use]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use chat_sync::protocol::SendMessage;
use chat_sync::types::{Attachment, RequestId};
use reqwest::StatusCode;
use support::push_receiver::{subscribe, PushReceiver, TestSubscription};
use support::{assert_error, Backend, Client, Sse, SseReader, TestServer};

backend_tests!(
    media_is_served_inert_whatever_was_uploaded,
    media_is_readable_only_by_the_chats_participants,
    logout_ends_that_sessions_streams_at_once,
    a_stream_ends_when_its_session_is_gone_elsewhere,
    streams_per_user_are_capped,
    a_resume_too_far_behind_is_not_replayed,
    sessions_expire_idle_and_absolute_and_are_purged,
    wrong_passwords_elsewhere_never_lock_the_agent_out,
    push_endpoints_must_be_public_and_subscriptions_are_capped,
    a_hanging_push_endpoint_does_not_stall_other_users,
    writes_from_another_origin_are_refused,
    a_request_for_another_user_than_the_sessions_is_refused,
);

const WAIT: Duration = Duration::from_secs(10);

/// The eight bytes every PNG starts with, and a tiny header after them.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

async fn upload(client: &Client, name: &str, mime: &str, bytes: &[u8]) -> Attachment {
    let response = client
        .post(&format!("/api/media?name={name}"))
        .header("content-type", mime)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "upload {name}");
    response.json().await.unwrap()
}

async fn post_with(
    client: &Client,
    chat: &str,
    key: &str,
    attachments: Vec<Attachment>,
) -> StatusCode {
    client
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new(chat),
            client_temp_id: key.to_owned(),
            body: "see attached".to_owned(),
            attachments,
        })
        .send()
        .await
        .unwrap()
        .status()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Every media reply, 200 or 304: not sniffable, sandboxed, private.
fn assert_inert(response: &reqwest::Response, what: &str) {
    assert_eq!(
        header(response, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(
        header(response, "content-security-policy"),
        "sandbox; default-src 'none'",
        "{what}"
    );
    let cache = header(response, "cache-control");
    assert!(
        cache.starts_with("private") && !cache.contains("public"),
        "{what}: {cache}"
    );
}

async fn media_is_served_inert_whatever_was_uploaded(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let html = b"<!doctype html><script>fetch('/api/chat/requests')</script>".as_slice();
    let cases: [(&str, &str, &[u8], Option<&str>); 7] = [
        ("photo.png", "image/png", PNG, Some("image/png")),
        ("page.html", "text/html", html, None),
        (
            "steal.js",
            "text/javascript",
            b"window.__pwned = 1".as_slice(),
            None,
        ),
        (
            "logo.svg",
            "image/svg+xml",
            b"<svg onload=\"x()\"><script>x()</script></svg>".as_slice(),
            None,
        ),
        ("fake.png", "image/png", html, None),
        ("a\"b;c.png", "image/jpeg", PNG, None),
        ("notes.txt", "text/plain", b"just text".as_slice(), None),
    ];
    for (name, mime, bytes, inline) in cases {
        let name_query: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
        let attachment = upload(&r1, &name_query, mime, bytes).await;
        let path = format!("/api/media/{}", attachment.media_id);
        let response = r1.get(&path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_inert(&response, name);
        let disposition = header(&response, "content-disposition");
        match inline {
            Some(kind) => {
                assert_eq!(header(&response, "content-type"), kind, "{name}");
                assert!(disposition.starts_with("inline;"), "{name}: {disposition}");
            }
            None => {
                assert_eq!(
                    header(&response, "content-type"),
                    "application/octet-stream",
                    "{name} must be a download"
                );
                assert!(
                    disposition.starts_with("attachment;"),
                    "{name}: {disposition}"
                );
            }
        }
        // The fallback file name cannot end the quoted string or the header.
        let fallback = disposition.split('"').nth(1).unwrap_or_default();
        assert!(
            !fallback.is_empty() && !fallback.contains([';', '"', '\\']),
            "{disposition}"
        );
        assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
        let etag = header(&response, "etag");
        assert_eq!(response.bytes().await.unwrap().as_ref(), bytes, "{name}");
        let again = r1
            .get(&path)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
        assert_inert(&again, &format!("{name} (304)"));
    }
    server.stop().await;
}

async fn media_is_readable_only_by_the_chats_participants(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let (r1, r2) = (server.login("r1").await, server.login("r2").await);
    let (alice, bob) = (server.login("alice").await, server.login("bob").await);
    let file = upload(&r1, "report.png", "image/png", PNG).await;
    let path = format!("/api/media/{}", file.media_id);
    let status = |client: &Client| {
        let request = client.get(&path);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(&r1).await, StatusCode::OK, "the uploader");
    assert_eq!(
        status(&alice).await,
        StatusCode::NOT_FOUND,
        "not posted yet"
    );
    // Posted in REQ-A (r1's, assigned to alice): its participants may read it.
    assert_eq!(
        post_with(&r1, "REQ-A", "k1", vec![file.clone()]).await,
        StatusCode::CREATED
    );
    assert_eq!(status(&alice).await, StatusCode::OK, "REQ-A's agent");
    assert_eq!(status(&bob).await, StatusCode::NOT_FOUND, "another agent");
    assert_eq!(
        status(&r2).await,
        StatusCode::NOT_FOUND,
        "another requester"
    );
    // Nobody can open it to another chat by attaching its id there.
    assert_error(
        r2.post("/api/chat/messages")
            .json(&SendMessage {
                request_id: RequestId::new("REQ-B"),
                client_temp_id: "steal".to_owned(),
                body: String::new(),
                attachments: vec![file.clone()],
            })
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(status(&bob).await, StatusCode::NOT_FOUND, "still not bob's");
    assert_eq!(status(&r2).await, StatusCode::NOT_FOUND, "still not r2's");
    // Alice may forward what she can read into her own chat.
    assert_eq!(
        post_with(&alice, "REQ-A", "fwd", vec![file]).await,
        StatusCode::CREATED
    );
    server.stop().await;
}

/// Reads `reader` until the stream ends (`true`) or `wait` passes (`false`), skipping events.
async fn ends_within(reader: &mut SseReader, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        if reader.next(left).await.is_none() {
            return tokio::time::Instant::now() < deadline;
        }
    }
}

async fn metric(server: &TestServer, series: &str) -> f64 {
    support::metric(&server.base, series).await
}

async fn logout_ends_that_sessions_streams_at_once(backend: Backend) {
    // A long session check: only the sign-out itself can end the stream in time.
    let server = TestServer::start(backend, |c| {
        c.stream_session_check = Duration::from_secs(3600)
    })
    .await;
    let tab = server.login("alice").await;
    let other_device = server.login("alice").await;
    let mut ended = SseReader::open(&tab, None).await;
    let mut kept = SseReader::open(&other_device, None).await;
    assert_eq!(
        ended.next(WAIT).await,
        Some(Sse::Comment),
        "the opening comment"
    );
    assert_eq!(kept.next(WAIT).await, Some(Sse::Comment));
    let response = tab.post("/api/auth/logout").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        ends_within(&mut ended, Duration::from_secs(3)).await,
        "the signed-out stream goes on"
    );
    assert_eq!(
        metric(&server, "sse_streams_ended_total{reason=\"logout\"}").await,
        1.0
    );
    // The gauge counts only the stream that is left.
    support::wait_for_metric(&server.base, "sse_clients", |open| open == 1.0).await;
    // The other session's stream still delivers.
    let (_, sent) = server
        .login("r1")
        .await
        .send("REQ-A", "after-logout", "still here")
        .await;
    let (_, message) = kept
        .next_message(WAIT)
        .await
        .expect("the other session's stream ended or went quiet");
    assert_eq!(message.id, sent.id);
    // A stream cannot be opened with the ended session.
    assert_error(
        tab.get("/api/chat/events").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    server.stop().await;
}

async fn a_stream_ends_when_its_session_is_gone_elsewhere(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.stream_session_check = Duration::from_millis(200);
    })
    .await;
    let alice = server.login("alice").await;
    let mut stream = SseReader::open(&alice, None).await;
    assert_eq!(stream.next(WAIT).await, Some(Sse::Comment));
    // Another server process on the same database signs the session out: this process only
    // sees the row gone.
    let token = alice
        .cookie
        .as_deref()
        .and_then(|c| c.strip_prefix("sid="))
        .unwrap();
    server
        .state()
        .db
        .delete_session(&server::auth::token_hash(token))
        .await
        .unwrap();
    assert!(
        ends_within(&mut stream, Duration::from_secs(5)).await,
        "the stream outlived its session"
    );
    assert_eq!(
        metric(
            &server,
            "sse_streams_ended_total{reason=\"session_expired\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

async fn streams_per_user_are_capped(backend: Backend) {
    let server = TestServer::start(backend, |c| c.max_streams_per_user = 2).await;
    let alice = server.login("alice").await;
    let first = SseReader::open(&alice, None).await;
    let _second = SseReader::open(&alice, None).await;
    assert_error(
        alice.get("/api/chat/events").send().await.unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Other users are not affected, and a closed stream frees its slot.
    let _bob = SseReader::open(&server.login("bob").await, None).await;
    drop(first);
    let mut freed = false;
    for _ in 0..50 {
        let response = alice.get("/api/chat/events").send().await.unwrap();
        if response.status() == StatusCode::OK {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a closed stream's slot was never freed");
    server.stop().await;
}

async fn a_resume_too_far_behind_is_not_replayed(backend: Backend) {
    let server = TestServer::start(backend, |c| c.max_replay_events = 3).await;
    let r1 = server.login("r1").await;
    for i in 0..5 {
        r1.send("REQ-A", &format!("old-{i}"), "old").await;
    }
    let alice = server.login("alice").await;
    // One behind: replayed.
    let current = server.state().db.current_event_id().await.unwrap();
    let mut near = SseReader::open(&alice, Some(&(current - 1).to_string())).await;
    assert_eq!(near.next(WAIT).await, Some(Sse::Comment));
    assert!(
        matches!(near.next(WAIT).await, Some(Sse::Event { ref event, .. }) if event == "message")
    );
    // From the beginning: 5 behind, more than 3: a reset, then only what is new.
    let mut far = SseReader::open(&alice, Some("0")).await;
    assert_eq!(far.next(WAIT).await, Some(Sse::Comment));
    match far.next(WAIT).await {
        Some(Sse::Event { event, .. }) => assert_eq!(event, "reset"),
        other => panic!("expected a reset, got {other:?}"),
    }
    let (_, fresh) = r1.send("REQ-A", "new", "new").await;
    let (_, message) = far.next_message(WAIT).await.expect("no new message");
    assert_eq!(message.id, fresh.id, "an old message was replayed");
    server.stop().await;
}

async fn sessions_expire_idle_and_absolute_and_are_purged(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.session_idle = Duration::from_millis(1500);
        c.session_absolute = Duration::from_secs(4);
        c.session_purge_interval = Duration::from_millis(300);
    })
    .await;
    // Idle: unused for longer than the idle timeout.
    let idle = server.login("alice").await;
    assert_eq!(
        idle.get("/api/auth/me").send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        idle.get("/api/auth/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Absolute: used all the time, still over after its lifetime.
    let busy = server.login("alice").await;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            busy.get("/api/auth/me").send().await.unwrap().status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        busy.get("/api/auth/me").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Both rows are deleted by the purge.
    let mut purged = 0.0;
    for _ in 0..50 {
        purged = metric(&server, "sessions_purged_total").await;
        if purged >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged >= 2.0, "expired sessions were not purged: {purged}");
    server.stop().await;
}

/// A client connecting from another loopback address: the server sees another client.
fn client_from(base: &str, address: Ipv4Addr) -> Client {
    Client {
        http: reqwest::Client::builder()
            .local_address(IpAddr::V4(address))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        base: base.to_owned(),
        cookie: None,
    }
}

async fn wrong_passwords_elsewhere_never_lock_the_agent_out(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.login_free_failures = 3;
        c.login_attempts_per_window = 1000;
    })
    .await;
    let attacker = client_from(&server.base, Ipv4Addr::new(127, 0, 0, 2));
    let login = |client: &Client, password: &str| {
        client
            .post("/api/auth/login")
            .json(&serde_json::json!({"username": "alice", "password": password}))
            .send()
    };
    let mut throttled = false;
    for _ in 0..8 {
        let response = login(&attacker, "guess").await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
            throttled = true;
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "the guesser was never slowed down");
    // Even the right password waits out the backoff from the guessing address...
    assert_eq!(
        login(&attacker, support::PASSWORD).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...while alice at her own address signs in at once.
    let own = client_from(&server.base, Ipv4Addr::new(127, 0, 0, 1));
    assert_eq!(
        login(&own, support::PASSWORD).await.unwrap().status(),
        StatusCode::OK
    );
    // Once the backoff has passed, the right password clears it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        login(&attacker, support::PASSWORD).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        login(&attacker, "guess").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

async fn push_endpoints_must_be_public_and_subscriptions_are_capped(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.allow_insecure_push = true;
        c.max_subscriptions_per_user = 3;
    })
    .await;
    let alice = server.login("alice").await;
    let sub = TestSubscription::new();
    for endpoint in [
        "https://127.0.0.2/push/1",
        "https://10.1.2.3/push/1",
        "https://169.254.169.254/latest",
        "https://[::1]/push/1",
        "https://localhost/push",
        "https://printer.local/push",
        "http://127.0.0.2:9/push/1",
        "http://push.example.com/push",
        // Numeric forms the HTTP client reads as 127.0.0.1, and `localhost` as an absolute
        // name: each would reach the server's own loopback.
        "https://127.1/push/1",
        "https://0x7f000001/push/1",
        "https://0177.0.0.1/push/1",
        "https://localhost./push",
        "https://[::ffff:10.1.2.3]/push/1",
        "https://[64:ff9b::a01:203]/push/1",
    ] {
        assert_error(
            alice
                .post("/api/push/subscriptions")
                .json(&sub.json(endpoint))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    for i in 0..5 {
        subscribe(&alice, &sub, &format!("https://push.example.com/sub/{i}")).await;
    }
    let kept = server
        .state()
        .db
        .subscription_count("u_alice")
        .await
        .unwrap();
    assert_eq!(kept, 3, "the cap holds");
    server.stop().await;
}

async fn a_hanging_push_endpoint_does_not_stall_other_users(backend: Backend) {
    let server = TestServer::start(backend, |c| c.allow_insecure_push = true).await;
    // bob's push service accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_addr = hanging.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let bob = server.login("bob").await;
    subscribe(
        &bob,
        &TestSubscription::new(),
        &format!("http://{hang_addr}/push/bob"),
    )
    .await;
    let mut receiver = PushReceiver::start().await;
    let alice = server.login("alice").await;
    let alice_sub = TestSubscription::new();
    subscribe(&alice, &alice_sub, &receiver.endpoint).await;
    // More hanging deliveries than the sender's global slots.
    let r2 = server.login("r2").await;
    for i in 0..40 {
        r2.send("REQ-B", &format!("hang-{i}"), "to bob").await;
    }
    let started = std::time::Instant::now();
    let (_, sent) = server
        .login("r1")
        .await
        .send("REQ-A", "prompt", "to alice")
        .await;
    let received = tokio::time::timeout(Duration::from_secs(4), receiver.rx.recv())
        .await
        .expect("alice's push was held up by bob's hanging endpoint")
        .expect("receiver open");
    match alice_sub.decrypt(received.body) {
        chat_sync::protocol::PushPayload::Message { message, .. } => {
            assert_eq!(message.id, sent.id)
        }
        other => panic!("{other:?}"),
    }
    eprintln!(
        "alice's push arrived {} ms after the send",
        started.elapsed().as_millis()
    );
    server.stop().await;
}

/// A page of another origin on the same site (`SameSite=Strict` lets the cookie through) or
/// with an opaque origin (a sandboxed document) sends "simple" writes: refused before any
/// route runs, whatever the route; the browser's own origin and clients that are no browser
/// pass.
async fn writes_from_another_origin_are_refused(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let host = alice
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let foreign: [(&str, &str); 4] = [
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://127.0.0.1:1"),
        ("origin", "null"),
    ];
    for (name, value) in foreign {
        let upload = alice
            .post("/api/media?name=planted.txt")
            .header("content-type", "text/plain")
            .header(name, value)
            .body("planted")
            .send()
            .await
            .unwrap();
        assert_error(upload, StatusCode::FORBIDDEN, "forbidden").await;
        let logout = alice
            .post("/api/auth/logout")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_error(logout, StatusCode::FORBIDDEN, "forbidden").await;
        // Reads are not writes: a cross-origin page cannot read the reply anyway.
        let me = alice
            .get("/api/auth/me")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK, "{name}: {value}");
    }
    let own = alice
        .post("/api/media?name=mine.txt")
        .header("content-type", "text/plain")
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{host}"))
        .body("mine")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED, "the page's own upload");
    let own = alice
        .post("/api/media?name=mine.txt")
        .header("content-type", "text/plain")
        .header("origin", format!("http://{host}"))
        .body("mine")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.status(),
        StatusCode::CREATED,
        "the page's own upload, without fetch metadata"
    );
    upload(&alice, "tool.txt", "text/plain", b"no browser").await;
    server.stop().await;
}

/// A tab acting for alice names her on every request; once the browser's session is bob's,
/// whatever that tab asks (a read, a send, the event stream) is refused before anything is
/// read or written, and nothing it sent is stored.
async fn a_request_for_another_user_than_the_sessions_is_refused(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    // Alice's session exists too: the refusal is about whose session this is.
    let _alice = server.login("alice").await;
    let bob = server.login("bob").await;
    // The fixture's ids (`api::auth_login_me_logout` checks alice's).
    let (alice_id, bob_id) = ("u_alice", "u_bob");
    let list = bob
        .get("/api/chat/requests")
        .header("x-expect-user", alice_id)
        .send()
        .await
        .unwrap();
    assert_error(list, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let send = bob
        .post("/api/chat/messages")
        .header("x-expect-user", alice_id)
        .json(&SendMessage {
            request_id: RequestId::new("REQ-B"),
            client_temp_id: "alices-queued-reply".to_owned(),
            body: "sent from alice's tab".to_owned(),
            attachments: Vec::new(),
        })
        .send()
        .await
        .unwrap();
    assert_error(send, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let stream = bob
        .get(&format!("/api/chat/events?expect_user={alice_id}"))
        .send()
        .await
        .unwrap();
    assert_error(stream, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Nothing was stored as bob.
    let page: serde_json::Value = bob
        .get("/api/chat/messages?request_id=REQ-B&from_seq=1&to_seq=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !page.to_string().contains("sent from alice's tab"),
        "stored: {page}"
    );
    // A tab of alice's signing out does not end bob's session.
    let logout = bob
        .post("/api/auth/logout")
        .header("x-expect-user", alice_id)
        .send()
        .await
        .unwrap();
    assert_error(logout, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Naming the session's own user works as before; so does asking who it is.
    let named = bob
        .get("/api/chat/requests")
        .header("x-expect-user", bob_id)
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
    let me = bob
        .get("/api/auth/me")
        .header("x-expect-user", bob_id)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    server.stop().await;
}
