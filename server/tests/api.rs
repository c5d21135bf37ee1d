//! Integration tests over real HTTP against a real database. Every test runs twice: on a
//! SQLite file and on PostgreSQL (see `support/postgres.rs`; `SKIP_POSTGRES=1` skips that
//! half explicitly, otherwise a missing PostgreSQL fails it).

#[macro_use]
mod support;

use std::collections::HashSet;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chat_sync::protocol::{
    ChatList, CurrentUser, MessagesPage, PushPayload, SendMessage, VapidPublicKey, MAX_BODY_LEN,
};
use chat_sync::types::{Attachment, Message, RequestId, SenderRole};
use reqwest::StatusCode;
use support::push_receiver::{subscribe, PushReceiver, TestSubscription};
use support::{assert_error, Backend, Client, Sse, SseReader, TestServer};

backend_tests!(
    auth_login_me_logout,
    auth_bad_credentials_and_rate_limit,
    auth_bad_cookies,
    chat_list_is_per_user,
    range_fetch_and_page_limit,
    cursor_fetch,
    invalid_ranges_are_400,
    unknown_chat_and_forbidden,
    idempotent_send,
    send_validation,
    hostile_sends_are_stored_exactly_or_refused_cleanly,
    concurrent_senders_are_gap_free,
    two_servers_one_database_are_gap_free,
    media_upload_and_download,
    sse_live_and_resume,
    sse_reconnect_delay_is_spread,
    sse_heartbeat_and_auth,
    push_delivers_encrypted_message,
    push_large_message_is_hint,
    push_gone_subscription_is_deleted,
    push_subscription_validation,
    static_files_and_csp,
    front_end_goes_out_compressed_and_revalidates,
    metrics_counts,
    fault_injection,
    demo_seed_is_idempotent,
    simulator_posts_as_requester,
);

const WAIT: Duration = Duration::from_secs(10);

async fn auth_login_me_logout(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let anonymous = Client::anonymous(&server.base);
    let response = anonymous
        .post("/api/auth/login")
        .json(&serde_json::json!({"username": "alice", "password": support::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("sid="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let user: CurrentUser = response.json().await.unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(user.role, SenderRole::Agent);

    let alice = server.login("alice").await;
    let me: CurrentUser = alice.get_json("/api/auth/me", StatusCode::OK).await;
    assert_eq!(me.id, "u_alice");
    // Nothing of the agent is kept in the browser's HTTP cache.
    let list = alice.get("/api/chat/requests").send().await.unwrap();
    assert_eq!(list.headers()["cache-control"], "no-store");
    let r1 = server.login("r1").await;
    let me: CurrentUser = r1.get_json("/api/auth/me", StatusCode::OK).await;
    assert_eq!(me.role, SenderRole::Requester);

    let response = alice.post("/api/auth/logout").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The sign-out clears what earlier releases let the HTTP cache keep.
    assert_eq!(response.headers()["clear-site-data"], "\"cache\"");
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_error(
        alice.get("/api/auth/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        anonymous.get("/api/auth/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    server.stop().await;
}

async fn auth_bad_credentials_and_rate_limit(backend: Backend) {
    let server = TestServer::start(backend, |c| c.login_attempts_per_window = 5).await;
    let client = Client::anonymous(&server.base);
    let attempt = |username: &'static str, password: &'static str| {
        client
            .post("/api/auth/login")
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
    };
    assert_error(
        attempt("alice", "wrong").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        attempt("nobody", "wrong").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        client
            .post("/api/auth/login")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    let mut limited = false;
    for _ in 0..6 {
        let response = attempt("alice", "wrong").await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
            limited = true;
            break;
        }
    }
    assert!(limited, "login attempts were never rate limited");
    // Even the right password is refused while limited.
    assert_eq!(
        attempt("alice", support::PASSWORD).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

async fn auth_bad_cookies(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    for cookie in [
        "sid=garbage",
        "sid=",
        "sid=zz00000000000000000000000000000000000000000000000000000000000000",
        "sid=0000000000000000000000000000000000000000000000000000000000000000",
        "other=1; sid=1234",
        "\u{7f}",
    ] {
        let client = Client {
            cookie: Some(cookie.to_owned()),
            ..Client::anonymous(&server.base)
        };
        let Ok(response) = client.get("/api/chat/requests").send().await else {
            // reqwest refuses some invalid header values itself; nothing to test then.
            continue;
        };
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    server.stop().await;
}

async fn chat_list_is_per_user(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    alice.send("REQ-A", "k1", "hello there").await;
    let list: ChatList = alice.get_json("/api/chat/requests", StatusCode::OK).await;
    assert_eq!(list.requests.len(), 1);
    let chat = &list.requests[0];
    assert_eq!(chat.request_id.as_str(), "REQ-A");
    assert_eq!(chat.title, "Printer");
    assert_eq!(chat.requester.id, "u_r1");
    assert_eq!(chat.requester.name, "Requester One");
    assert_eq!(chat.last_seq, 1);
    assert_eq!(chat.last_message.as_deref(), Some("hello there"));
    assert!(chat.updated_at > 1);

    let bob = server.login("bob").await;
    let list: ChatList = bob.get_json("/api/chat/requests", StatusCode::OK).await;
    let ids: Vec<_> = list
        .requests
        .iter()
        .map(|c| c.request_id.as_str())
        .collect();
    assert_eq!(ids, ["REQ-B"]);
    let r1 = server.login("r1").await;
    let list: ChatList = r1.get_json("/api/chat/requests", StatusCode::OK).await;
    let ids: Vec<_> = list
        .requests
        .iter()
        .map(|c| c.request_id.as_str())
        .collect();
    assert_eq!(ids, ["REQ-A"]);
    assert_error(
        Client::anonymous(&server.base)
            .get("/api/chat/requests")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    server.stop().await;
}

async fn range_fetch_and_page_limit(backend: Backend) {
    let server = TestServer::start(backend, |c| c.page_limit = 10).await;
    let alice = server.login("alice").await;
    for i in 1..=25 {
        let (status, message) = alice
            .send("REQ-A", &format!("k{i}"), &format!("m{i}"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(message.seq, i);
    }
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=5&to_seq=8",
            StatusCode::OK,
        )
        .await;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [5, 6, 7, 8]);
    assert_eq!(page.last_seq, 25);
    assert_eq!(page.page_limit, 10);
    assert_eq!(page.messages[0].body, "m5");
    assert_eq!(page.messages[0].client_temp_id.as_deref(), Some("k5"));
    assert_eq!(page.request_id.as_str(), "REQ-A");
    chat_sync::protocol::validate_page(&page, &RequestId::new("REQ-A"), 5, 8).unwrap();

    // A wide range is capped at the page limit, ascending from its start.
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=3&to_seq=1000",
            StatusCode::OK,
        )
        .await;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (3..=12).collect::<Vec<_>>());
    assert_eq!(page.last_seq, 25);

    // Beyond the end: empty, still with last_seq.
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=26&to_seq=40",
            StatusCode::OK,
        )
        .await;
    assert!(page.messages.is_empty());
    assert_eq!(page.last_seq, 25);

    // The requester of the chat may read it too.
    let r1 = server.login("r1").await;
    let page: MessagesPage = r1
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=1",
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages.len(), 1);
    server.stop().await;
}

async fn cursor_fetch(backend: Backend) {
    let server = TestServer::start(backend, |c| c.page_limit = 10).await;
    let alice = server.login("alice").await;
    for i in 1..=15 {
        alice.send("REQ-A", &format!("k{i}"), "x").await;
    }
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&before_seq=11&limit=4",
            StatusCode::OK,
        )
        .await;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
    assert_eq!(page.last_seq, 15);
    // The newest page: before_seq past the end.
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&before_seq=16&limit=100",
            StatusCode::OK,
        )
        .await;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (6..=15).collect::<Vec<_>>(),
        "capped at the page limit"
    );
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&before_seq=1&limit=5",
            StatusCode::OK,
        )
        .await;
    assert!(page.messages.is_empty());
    server.stop().await;
}

async fn invalid_ranges_are_400(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    for query in [
        "request_id=REQ-A&from_seq=5&to_seq=4",
        "request_id=REQ-A&from_seq=0&to_seq=4",
        "request_id=REQ-A&from_seq=1&to_seq=0",
        "request_id=REQ-A&from_seq=abc&to_seq=4",
        "request_id=REQ-A&from_seq=1&to_seq=4x",
        "request_id=REQ-A&from_seq=-1&to_seq=4",
        "request_id=REQ-A&from_seq=1.5&to_seq=4",
        "request_id=REQ-A&from_seq=1&to_seq=99999999999999999999999",
        "request_id=REQ-A&from_seq=1&to_seq=9007199254740992",
        "request_id=REQ-A&from_seq=1&to_seq=900000000000",
        "request_id=REQ-A&from_seq=1",
        "request_id=REQ-A&to_seq=4",
        "request_id=REQ-A",
        "request_id=REQ-A&from_seq=1&to_seq=4&before_seq=3&limit=2",
        "request_id=REQ-A&before_seq=0&limit=5",
        "request_id=REQ-A&before_seq=10&limit=0",
        "request_id=REQ-A&before_seq=10&limit=1000000",
        "request_id=REQ-A&before_seq=10",
        "request_id=REQ-A&before_seq=x&limit=5",
    ] {
        let response = alice
            .get(&format!("/api/chat/messages?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_range").await;
    }
    for query in ["from_seq=1&to_seq=2", "request_id=&from_seq=1&to_seq=2"] {
        let response = alice
            .get(&format!("/api/chat/messages?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    server.stop().await;
}

async fn unknown_chat_and_forbidden(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let r2 = server.login("r2").await;
    alice.send("REQ-A", "k1", "for alice").await;
    assert_error(
        alice
            .get("/api/chat/messages?request_id=REQ-NOPE&from_seq=1&to_seq=5")
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for client in [&bob, &r2] {
        assert_error(
            client
                .get("/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=5")
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_error(
            client
                .get("/api/chat/messages?request_id=REQ-A&before_seq=5&limit=5")
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let response = client
            .post("/api/chat/messages")
            .json(&SendMessage {
                request_id: RequestId::new("REQ-A"),
                client_temp_id: "intruder".to_owned(),
                body: "hi".to_owned(),
                attachments: vec![],
            })
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let response = alice
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new("REQ-NOPE"),
            client_temp_id: "x".to_owned(),
            body: "hi".to_owned(),
            attachments: vec![],
        })
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    // Nothing was stored by the refused sends.
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=10",
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.last_seq, 1);
    server.stop().await;
}

async fn idempotent_send(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let (status, first) = alice.send("REQ-A", "tmp-1", "once").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first.seq, 1);
    assert_eq!(first.sender.id, "u_alice");
    assert_eq!(first.sender.role, SenderRole::Agent);
    assert_eq!(first.client_temp_id.as_deref(), Some("tmp-1"));
    assert!(!first.deleted);
    let (status, again) = alice.send("REQ-A", "tmp-1", "once").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    // Concurrent repeats of one key still store one message.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            alice.send("REQ-A", "tmp-2", "racy").await
        }));
    }
    let mut seqs = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let (status, message) = task.await.unwrap();
        if status == StatusCode::CREATED {
            created += 1;
        }
        seqs.insert(message.seq);
    }
    assert_eq!(created, 1);
    assert_eq!(seqs.into_iter().collect::<Vec<_>>(), [2]);
    let (_, third) = alice.send("REQ-A", "tmp-3", "next").await;
    assert_eq!(third.seq, 3, "no gap after the refused duplicates");
    assert_eq!(server.state().db.message_count("REQ-A").await.unwrap(), 3);
    // A key is its sender's: the requester posting first with the key of alice's next send
    // does not make that send a "repeat" answered with the requester's message (and dropped).
    let requester = server.login("r1").await;
    let (status, forged) = requester.send("REQ-A", "tmp-4", "first with her key").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, hers) = alice.send("REQ-A", "tmp-4", "her reply").await;
    assert_eq!(status, StatusCode::CREATED, "{hers:?}");
    assert_eq!(
        (hers.sender.id.as_str(), hers.body.as_str()),
        ("u_alice", "her reply")
    );
    assert_eq!((forged.seq, hers.seq), (4, 5));
    let (status, again) = alice.send("REQ-A", "tmp-4", "her reply").await;
    assert_eq!((status, again), (StatusCode::OK, hers));
    server.stop().await;
}

async fn send_validation(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let post_raw = |body: String| {
        alice
            .post("/api/chat/messages")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(
        post_raw("{\"request_id\":".to_owned()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    assert_error(
        post_raw("{\"request_id\": 5}".to_owned()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    assert_error(
        alice
            .post("/api/chat/messages")
            .body("{}")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    let body = |request_id: &str, key: &str, text: String, attachments: Vec<Attachment>| {
        serde_json::to_string(&SendMessage {
            request_id: RequestId::new(request_id),
            client_temp_id: key.to_owned(),
            body: text,
            attachments,
        })
        .unwrap()
    };
    // Larger than the message limit but within the request body limit.
    assert_error(
        post_raw(body("REQ-A", "big", "x".repeat(MAX_BODY_LEN + 1), vec![]))
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    // Larger than the request body limit. The server answers before reading the body and
    // drops the connection, so this request must not leave it in the client's pool: the
    // next request could be sent on it as it closes (`IncompleteMessage`).
    assert_error(
        alice
            .post("/api/chat/messages")
            .header("content-type", "application/json")
            .header("connection", "close")
            .body(body("REQ-A", "huge", "x".repeat(2 * 1024 * 1024), vec![]))
            .send()
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    for bad in [
        body("REQ-A", "", "hi".to_owned(), vec![]),
        body("REQ-A", &"k".repeat(300), "hi".to_owned(), vec![]),
        body("REQ-A", "empty", "   ".to_owned(), vec![]),
        body("", "k", "hi".to_owned(), vec![]),
        body(&"R".repeat(200), "k", "hi".to_owned(), vec![]),
        body(
            "REQ-A",
            "att",
            "hi".to_owned(),
            vec![Attachment {
                media_id: "med_missing".to_owned(),
                name: "a.txt".to_owned(),
                mime: "text/plain".to_owned(),
                size: 1,
            }],
        ),
    ] {
        assert_error(
            post_raw(bad).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let (status, ok) = alice.send("REQ-A", "fine", "fine").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ok.seq, 1, "no refused send consumed a sequence number");
    server.stop().await;
}

/// Every send request of the hostile corpus: a valid body (markup, Unicode tricks, exactly
/// the size limit) is stored byte-exact; anything else is refused with the status and error
/// code the corpus names, storing nothing and using no sequence number. Hostile attachment
/// names are kept as the file's name, or refused with 400.
async fn hostile_sends_are_stored_exactly_or_refused_cleanly(backend: Backend) {
    use chat_sync::hostile_corpus::{sends, text};
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let mut stored = Vec::new();
    let cases = sends::send_requests("REQ-A");
    for case in &cases {
        let response = alice
            .post("/api/chat/messages")
            .header("content-type", "application/json")
            .body(case.json.clone())
            .send()
            .await
            .unwrap();
        match (case.refusal, &case.body) {
            (Some(refusal), _) => {
                let status = StatusCode::from_u16(refusal.status).unwrap();
                assert_error(response, status, refusal.error).await;
            }
            (None, Some(body)) => {
                assert_eq!(response.status(), StatusCode::CREATED, "{}", case.name);
                let message: Message = response.json().await.unwrap();
                assert_eq!(&message.body, body, "{}", case.name);
                assert_eq!(message.seq, stored.len() as u64 + 1, "{}", case.name);
                stored.push(message);
            }
            (None, None) => panic!("{}: a stored case without its body", case.name),
        }
    }
    // Nothing half-written: the chat holds exactly the stored messages, byte-exact.
    let last = stored.len() as u64;
    let mut fetched = Vec::new();
    while (fetched.len() as u64) < last {
        let from = fetched.len() as u64 + 1;
        let page: MessagesPage = alice
            .get_json(
                &format!(
                    "/api/chat/messages?request_id=REQ-A&from_seq={from}&to_seq={}",
                    last + 10
                ),
                StatusCode::OK,
            )
            .await;
        assert_eq!(page.last_seq, last);
        assert!(!page.messages.is_empty());
        fetched.extend(page.messages);
    }
    assert_eq!(fetched, stored);

    for name in text::attachment_names() {
        let response = alice
            .post("/api/media")
            .query(&[("name", &name.text)])
            .header("content-type", "text/plain")
            .body(vec![1u8])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{}", name.name);
        let attachment: Attachment = response.json().await.unwrap();
        assert_eq!(attachment.name, name.text, "{}", name.name);
    }
    for name in text::refused_attachment_names() {
        let response = alice
            .post("/api/media")
            .query(&[("name", &name.text)])
            .body(vec![1u8])
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    println!(
        "{} send requests: {} stored byte-exact, {} refused",
        cases.len(),
        stored.len(),
        cases.len() - stored.len()
    );
    server.stop().await;
}

async fn concurrent_senders_are_gap_free(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let r1 = server.login("r1").await;
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 15;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let client = if w % 2 == 0 {
            alice.clone()
        } else {
            r1.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..PER_WRITER {
                let (status, message) = client
                    .send("REQ-A", &format!("w{w}-{i}"), &format!("writer {w} #{i}"))
                    .await;
                assert_eq!(status, StatusCode::CREATED);
                seqs.push(message.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one writer's seqs increase"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let n = (WRITERS * PER_WRITER) as u64;
    assert_eq!(all, (1..=n).collect::<Vec<_>>());
    let page: MessagesPage = alice
        .get_json(
            &format!("/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq={n}"),
            StatusCode::OK,
        )
        .await;
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    assert_eq!(page.last_seq, n);
    server.stop().await;
}

/// Two server instances with their own connection pools on one database (as two processes
/// would be) hammer one chat: sequences stay strictly increasing and gap-free.
async fn two_servers_one_database_are_gap_free(backend: Backend) {
    let first = TestServer::start(backend, |_| {}).await;
    let target = first.db.as_ref().unwrap().target.clone();
    let second = TestServer::start_on(&target, |_| {}).await;
    let on_first = first.login("alice").await;
    // Sessions live in the database, so the same cookie works on both instances.
    let on_second = Client {
        base: second.base.clone(),
        ..on_first.clone()
    };
    const PER_WRITER: usize = 10;
    let mut tasks = Vec::new();
    for w in 0..12 {
        let client = if w % 2 == 0 {
            on_first.clone()
        } else {
            on_second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..PER_WRITER {
                let (status, message) = client.send("REQ-A", &format!("p{w}-{i}"), "x").await;
                assert_eq!(status, StatusCode::CREATED);
                seqs.push(message.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=(12 * PER_WRITER) as u64).collect::<Vec<_>>());
    second.stop().await;
    first.stop().await;
}

async fn media_upload_and_download(backend: Backend) {
    let server = TestServer::start(backend, |c| c.max_media_bytes = 64 * 1024).await;
    let alice = server.login("alice").await;
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let response = alice
        .post("/api/media?name=shot.png")
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let attachment: Attachment = response.json().await.unwrap();
    assert_eq!(attachment.name, "shot.png");
    assert_eq!(attachment.mime, "image/png");
    assert_eq!(attachment.size, 5000);

    let response = alice
        .get(&format!("/api/media/{}", attachment.media_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The bytes are no PNG: served as a download, whatever the upload claimed.
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10);
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
    let response = alice
        .get(&format!("/api/media/{}", attachment.media_id))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert!(response.bytes().await.unwrap().is_empty());

    // A message may carry it; the stored description is the server's.
    let response = alice
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new("REQ-A"),
            client_temp_id: "with-file".to_owned(),
            body: String::new(),
            attachments: vec![Attachment {
                size: 1,
                name: "lie.exe".to_owned(),
                ..attachment.clone()
            }],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let message: Message = response.json().await.unwrap();
    assert_eq!(message.attachments, vec![attachment.clone()]);

    assert_error(
        alice.get("/api/media/med_nope").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        alice
            .post("/api/media?name=big.bin")
            // Answered before the body is read: keep the closing connection out of the pool.
            .header("connection", "close")
            .body(vec![0u8; 65 * 1024])
            .send()
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    assert_error(
        alice
            .post("/api/media?name=empty.bin")
            .body(Vec::new())
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        alice
            .post("/api/media?name=..%2Fetc%2Fpasswd")
            .body(vec![1u8])
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        Client::anonymous(&server.base)
            .get(&format!("/api/media/{}", attachment.media_id))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    server.stop().await;
}

/// Every stream opens with the browser's reconnection delay (`retry:`), between 1 and 3 s
/// and drawn per stream, so the browsers of a restarted server do not all come back at once.
async fn sse_reconnect_delay_is_spread(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let mut delays = HashSet::new();
    for _ in 0..12 {
        let mut stream = SseReader::open(&alice, None).await;
        assert!(
            matches!(stream.next(WAIT).await, Some(Sse::Comment)),
            "the stream opens with a comment"
        );
        let delay = stream.retry_ms.expect("the first block sets retry:");
        assert!((1_000..=3_000).contains(&delay), "retry: {delay}");
        delays.insert(delay);
    }
    // Twelve draws from 2,001 values: all equal would mean no spread at all.
    assert!(delays.len() > 1, "one delay for every stream: {delays:?}");
    server.stop().await;
}

async fn sse_live_and_resume(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let r1 = server.login("r1").await;
    alice.send("REQ-A", "before", "before the stream").await;

    let mut stream = SseReader::open(&alice, None).await;
    // Give the stream a moment to subscribe, then send from both sides and from bob's chat.
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice.send("REQ-A", "a1", "live 1").await;
    bob.send("REQ-B", "b1", "not for alice").await;
    r1.send("REQ-A", "r1", "live 2").await;
    let (id1, m1) = stream.next_message(WAIT).await.expect("event 1");
    let (id2, m2) = stream.next_message(WAIT).await.expect("event 2");
    assert_eq!((m1.body.as_str(), m1.seq), ("live 1", 2));
    assert_eq!((m2.body.as_str(), m2.seq), ("live 2", 3));
    assert!(id2 > id1);
    drop(stream);

    // While disconnected, more messages arrive; resuming from id2 yields exactly them.
    for i in 0..5 {
        r1.send("REQ-A", &format!("gap{i}"), &format!("missed {i}"))
            .await;
    }
    bob.send("REQ-B", "b2", "still not for alice").await;
    let mut resumed = SseReader::open(&alice, Some(&id2.to_string())).await;
    let mut seqs = Vec::new();
    let mut last_id = id2;
    for _ in 0..5 {
        let (id, message) = resumed.next_message(WAIT).await.expect("resumed event");
        assert!(id > last_id, "event ids increase");
        last_id = id;
        assert_eq!(message.request_id.as_str(), "REQ-A");
        seqs.push(message.seq);
    }
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
    // Live events continue on the resumed stream, with no duplicate before them.
    alice.send("REQ-A", "after", "after resume").await;
    let (_, next) = resumed.next_message(WAIT).await.expect("live after resume");
    assert_eq!(next.seq, 9);

    // Resuming from 0 replays the whole history of alice's chats, in order, once.
    let mut replay = SseReader::open(&alice, Some("0")).await;
    let mut seqs = Vec::new();
    for _ in 0..9 {
        let (_, message) = replay.next_message(WAIT).await.expect("replayed");
        assert_eq!(message.request_id.as_str(), "REQ-A");
        seqs.push(message.seq);
    }
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    // An id beyond the newest event resumes from the present: new messages still arrive.
    let mut future = SseReader::open(&alice, Some("999999999")).await;
    alice.send("REQ-A", "future", "after a future id").await;
    let (_, message) = future
        .next_message(WAIT)
        .await
        .expect("event after a future id");
    assert_eq!(message.seq, 10);
    drop(future);
    let response = alice
        .get("/api/chat/events")
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    drop(resumed);
    drop(replay);
    server.stop().await;
}

async fn sse_heartbeat_and_auth(backend: Backend) {
    let server = TestServer::start(backend, |c| c.sse_heartbeat = Duration::from_millis(300)).await;
    let alice = server.login("alice").await;
    let mut stream = SseReader::open(&alice, None).await;
    assert_eq!(stream.next(WAIT).await, Some(Sse::Comment));
    let metrics = server.metrics().await;
    assert!(metrics.contains("sse_clients 1"), "{metrics}");
    assert_error(
        Client::anonymous(&server.base)
            .get("/api/chat/events")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // Shutdown ends open streams instead of waiting for them forever.
    let stop = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;
    assert!(stop.is_ok(), "graceful shutdown hung on an open SSE stream");
}

/// A browser-side subscription: P-256 key pair and auth secret.
async fn push_delivers_encrypted_message(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let key: VapidPublicKey = Client::anonymous(&server.base)
        .get_json("/api/push/vapid-public-key", StatusCode::OK)
        .await;
    let raw = URL_SAFE_NO_PAD.decode(&key.public_key).unwrap();
    assert_eq!(raw.len(), 65);
    assert_eq!(raw[0], 4, "uncompressed P-256 point");

    let mut receiver = PushReceiver::start().await;
    let alice = server.login("alice").await;
    let r1 = server.login("r1").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    let (_, sent) = r1.send("REQ-A", "push-1", "please push me").await;

    let received = tokio::time::timeout(WAIT, receiver.rx.recv())
        .await
        .expect("a push arrives")
        .expect("receiver open");
    let headers = &received.headers;
    assert_eq!(headers["content-encoding"], "aes128gcm");
    assert_eq!(headers["ttl"], "43200");
    assert_eq!(headers["urgency"], "high");
    let authorization = headers["authorization"].to_str().unwrap();
    assert!(authorization.starts_with("vapid t="), "{authorization}");
    assert!(
        authorization.contains(&format!("k={}", key.public_key)),
        "{authorization}"
    );
    match sub.decrypt(received.body) {
        PushPayload::Message { message, to } => {
            assert_eq!(message, sent);
            let me: CurrentUser = alice.get_json("/api/auth/me", StatusCode::OK).await;
            assert_eq!(to, me.id, "the push names its recipient");
        }
        other => panic!("expected the whole message, got {other:?}"),
    }
    // The key stays the same across restarts on the same database.
    let target = server.db.as_ref().unwrap().target.clone();
    let keep_db = server.db.is_some();
    assert!(keep_db);
    let restarted_key = {
        let state_key = server.state().vapid.public_key_b64.clone();
        state_key
    };
    assert_eq!(restarted_key, key.public_key);
    let TestServer { running, db, .. } = server;
    if let Some(running) = running {
        running.shutdown().await;
    }
    let again = TestServer::start_on(&target, |_| {}).await;
    assert_eq!(again.state().vapid.public_key_b64, key.public_key);
    again.stop().await;
    drop(db);
}

async fn push_large_message_is_hint(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let mut receiver = PushReceiver::start().await;
    let alice = server.login("alice").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    let (_, sent) = alice.send("REQ-A", "big", &"long text ".repeat(400)).await;
    let received = tokio::time::timeout(WAIT, receiver.rx.recv())
        .await
        .expect("a push arrives")
        .expect("receiver open");
    assert_eq!(
        sub.decrypt(received.body),
        PushPayload::Hint {
            to: alice
                .get_json::<CurrentUser>("/api/auth/me", StatusCode::OK)
                .await
                .id,
            request_id: RequestId::new("REQ-A"),
            seq: sent.seq
        }
    );
    server.stop().await;
}

async fn push_gone_subscription_is_deleted(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let mut receiver = PushReceiver::start().await;
    receiver.answer_with(410);
    let alice = server.login("alice").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    assert_eq!(
        server
            .state()
            .db
            .subscription_count("u_alice")
            .await
            .unwrap(),
        1
    );
    alice.send("REQ-A", "m1", "first").await;
    tokio::time::timeout(WAIT, receiver.rx.recv())
        .await
        .expect("a push arrives")
        .expect("receiver open");
    let deadline = tokio::time::Instant::now() + WAIT;
    while server
        .state()
        .db
        .subscription_count("u_alice")
        .await
        .unwrap()
        != 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription not deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    alice.send("REQ-A", "m2", "second").await;
    let more = tokio::time::timeout(Duration::from_secs(1), receiver.rx.recv()).await;
    assert!(more.is_err(), "no push to a deleted subscription");
    let metrics = server.metrics().await;
    assert!(metrics.contains("push_failed_total 1"), "{metrics}");
    server.stop().await;
}

async fn push_subscription_validation(backend: Backend) {
    let server = TestServer::start(backend, |c| c.allow_insecure_push = false).await;
    let alice = server.login("alice").await;
    let sub = TestSubscription::new();
    let post = |body: serde_json::Value| alice.post("/api/push/subscriptions").json(&body).send();
    for endpoint in [
        "http://127.0.0.1:9/push",
        "http://push.example.com/x",
        "ftp://x/y",
        "not a url",
    ] {
        assert_error(
            post(sub.json(endpoint)).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let mut bad_key = sub.json("https://push.example.com/a");
    bad_key["keys"]["p256dh"] = serde_json::json!("AAAA");
    assert_error(
        post(bad_key).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let mut bad_auth = sub.json("https://push.example.com/a");
    bad_auth["keys"]["auth"] = serde_json::json!("AAAA");
    assert_error(
        post(bad_auth).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        post(serde_json::json!({"endpoint": 1})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    let response = post(sub.json("https://push.example.com/a")).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        server
            .state()
            .db
            .subscription_count("u_alice")
            .await
            .unwrap(),
        1
    );
    // Bob cannot delete alice's subscription; alice can.
    let bob = server.login("bob").await;
    let delete = |client: &Client| {
        client
            .request(reqwest::Method::DELETE, "/api/push/subscriptions")
            .json(&serde_json::json!({"endpoint": "https://push.example.com/a"}))
            .send()
    };
    assert_eq!(delete(&bob).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .state()
            .db
            .subscription_count("u_alice")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        delete(&alice).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .state()
            .db
            .subscription_count("u_alice")
            .await
            .unwrap(),
        0
    );
    assert_error(
        Client::anonymous(&server.base)
            .post("/api/push/subscriptions")
            .json(&sub.json("https://push.example.com/a"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    server.stop().await;
}

async fn static_files_and_csp(backend: Backend) {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .unwrap();
    std::fs::write(
        dist.path().join("sw.js"),
        "self.addEventListener('push', () => {});",
    )
    .unwrap();
    std::fs::write(dist.path().join("app-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.path().join("manifest.webmanifest"), "{}").unwrap();
    let dist_path = dist.path().to_path_buf();
    let server = TestServer::start(backend, move |c| c.dist = Some(dist_path)).await;
    let client = Client::anonymous(&server.base);
    let get = |path: &'static str| client.get(path).send();

    let response = get("/").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-eval'") || csp.contains("wasm-unsafe-eval"));
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-cache"));
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<title>app</title>"));

    let response = get("/sw.js").await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-cache"));
    let response = get("/app-0123456789abcdef_bg.wasm").await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let response = get("/manifest.webmanifest").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // App routes answer the shell.
    let response = get("/chat/REQ-A").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<title>app</title>"));
    // Missing assets, unknown API paths and traversal are 404.
    assert_eq!(
        get("/missing-1234.js").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        client
            .request(reqwest::Method::PUT, "/api/chat/messages")
            .send()
            .await
            .unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    assert_error(
        get("/api/nope").await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = get("/../../etc/passwd").await.unwrap();
    assert!(!response.text().await.unwrap().contains("root:"));
    let response = get("/%2e%2e/%2e%2e/etc/passwd").await.unwrap();
    assert!(!response.text().await.unwrap().contains("root:"));
    server.stop().await;
}

/// The front end goes out in the best encoding the client takes, with a validator: a
/// revalidation of an unchanged file is a 304 without a body, and a file rebuilt under the
/// running server is sent anew. The build's `.br` file is sent when it decodes to its file,
/// never when it is stale, and never on its own.
async fn front_end_goes_out_compressed_and_revalidates(backend: Backend) {
    use std::io::Read as _;
    let dist = tempfile::tempdir().unwrap();
    let worker = "const answer = () => 42;\n".repeat(2_000);
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .unwrap();
    std::fs::write(dist.path().join("worker.js"), &worker).unwrap();
    // A stale Brotli file from an earlier build: it must never be sent for this worker.js.
    let stale = server::front_end::brotli(b"the previous build", 11).unwrap();
    std::fs::write(dist.path().join("worker.js.br"), &stale).unwrap();
    let dist_path = dist.path().to_path_buf();
    let server = TestServer::start(backend, move |c| c.dist = Some(dist_path)).await;
    let client = Client::anonymous(&server.base);
    let get = |path: &'static str, headers: &[(&'static str, String)]| {
        let mut request = client.get(path);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    let decode = |encoding: &str, body: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            "br" => brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap(),
            "gzip" => flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap(),
            other => panic!("unexpected encoding {other}"),
        };
        out
    };

    for (accept, expected) in [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip")] {
        let response = get("/worker.js", &[("accept-encoding", accept.to_owned())])
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["content-encoding"], expected, "{accept}");
        assert_eq!(headers["vary"], "Accept-Encoding");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"));
        let body = response.bytes().await.unwrap();
        assert_ne!(&body[..], &stale[..], "the stale Brotli file was sent");
        assert!(
            body.len() < worker.len() / 20,
            "{expected}: {} bytes",
            body.len()
        );
        assert_eq!(decode(expected, &body), worker.as_bytes());
        // Revalidation: 304, no body, whichever encoding the client holds.
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let again = get("/worker.js", &[("if-none-match", etag.clone())])
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{etag}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
    // A client that takes no encoding gets the file as it is.
    let response = get("/worker.js", &[]).await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    let old_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.text().await.unwrap(), worker);
    // The build's own Brotli file is never a file of its own.
    assert_eq!(
        get("/worker.js.br", &[]).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A new build under the running server: the old tag no longer matches, and the build's
    // Brotli file, which now fits, is what goes out.
    // The old `.br` goes and the new file arrives, and it is asked for before its new `.br`
    // arrives, as a deploy that copies files one by one allows.
    let rebuilt = "const answer = () => 43; // rebuilt\n".repeat(2_000);
    let best = server::front_end::brotli(rebuilt.as_bytes(), 11).unwrap();
    std::fs::remove_file(dist.path().join("worker.js.br")).unwrap();
    std::fs::write(dist.path().join("worker.js"), &rebuilt).unwrap();
    let response = get("/worker.js", &[("if-none-match", old_etag)])
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a changed file was answered 304"
    );
    assert_eq!(response.text().await.unwrap(), rebuilt);
    std::fs::write(dist.path().join("worker.js.br"), &best).unwrap();
    let response = get("/worker.js", &[("accept-encoding", "br".to_owned())])
        .await
        .unwrap();
    assert_eq!(&response.bytes().await.unwrap()[..], &best[..]);

    let metrics = server.metrics().await;
    assert!(
        metrics.contains("frontend_requests_total{file=\"worker.js\"} 7"),
        "{metrics}"
    );
    server.stop().await;
}

async fn metrics_counts(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let alice = server.login("alice").await;
    for i in 0..4 {
        alice.send("REQ-A", &format!("k{i}"), "x").await;
    }
    let _: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=3",
            StatusCode::OK,
        )
        .await;
    let _: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&before_seq=5&limit=2",
            StatusCode::OK,
        )
        .await;
    let _ = alice
        .get("/api/chat/messages?request_id=REQ-A&from_seq=3&to_seq=1")
        .send()
        .await
        .unwrap();
    let response = Client::anonymous(&server.base)
        .get("/metrics")
        .send()
        .await
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for line in [
        "chat_messages_served_total{kind=\"range\"} 3",
        "chat_messages_served_total{kind=\"cursor\"} 2",
        "http_requests_total{route=\"/api/chat/messages\",status=\"201\"} 4",
        "http_requests_total{route=\"/api/chat/messages\",status=\"200\"} 2",
        "http_requests_total{route=\"/api/chat/messages\",status=\"400\"} 1",
        "http_requests_total{route=\"/api/auth/login\",status=\"200\"} 1",
        "chat_messages_stored_total 4",
        "push_sent_total 0",
        "sse_clients 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    server.stop().await;
}

async fn fault_injection(backend: Backend) {
    let off = TestServer::start(backend, |_| {}).await;
    let client = Client::anonymous(&off.base);
    assert_error(
        client.get("/api/test/faults").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        client
            .post("/api/test/faults")
            .json(&serde_json::json!({"error_rate": 1.0}))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    off.stop().await;

    let server = TestServer::start(backend, |c| c.test_faults = true).await;
    let alice = server.login("alice").await;
    for i in 0..5 {
        alice.send("REQ-A", &format!("k{i}"), "x").await;
    }
    let set = |body: serde_json::Value| alice.post("/api/test/faults").json(&body).send();
    assert_eq!(
        set(serde_json::json!({"page_limit": 2, "latency_ms": 150}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let current: serde_json::Value = alice.get_json("/api/test/faults", StatusCode::OK).await;
    assert_eq!(current["page_limit"], 2);
    let started = std::time::Instant::now();
    let page: MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=5",
            StatusCode::OK,
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(page.messages.len(), 2);
    assert_eq!(page.page_limit, 2);
    assert_eq!(page.last_seq, 5);
    set(serde_json::json!({"error_rate": 1.0})).await.unwrap();
    assert_error(
        alice
            .get("/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=5")
            .send()
            .await
            .unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "injected_fault",
    )
    .await;
    assert_error(
        set(serde_json::json!({"error_rate": 2.0})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        set(serde_json::json!({"bogus": 1})).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_json",
    )
    .await;
    // Dropped pushes: the receiver sees nothing, the counter moves.
    set(serde_json::json!({"drop_push_rate": 1.0}))
        .await
        .unwrap();
    let mut receiver = PushReceiver::start().await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    alice.send("REQ-A", "dropped", "x").await;
    let got = tokio::time::timeout(Duration::from_secs(1), receiver.rx.recv()).await;
    assert!(got.is_err(), "a dropped push was delivered");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("push_dropped_total{reason=\"fault\"} 1"),
        "{metrics}"
    );
    set(serde_json::json!({})).await.unwrap();
    let (status, _) = alice.send("REQ-A", "after", "x").await;
    assert_eq!(status, StatusCode::CREATED);
    server.stop().await;
}

async fn demo_seed_is_idempotent(backend: Backend) {
    let db = support::TestDb::new(backend).await;
    let started = std::time::Instant::now();
    let first = TestServer::start_on(&db.target, |c| c.demo = true).await;
    eprintln!("demo seed took {:?}", started.elapsed());
    let login = |server: &TestServer, username: &'static str| {
        let client = Client::anonymous(&server.base);
        async move {
            let response = client
                .post("/api/auth/login")
                .json(&serde_json::json!({"username": username, "password": "demo"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{username}");
            let cookie = response.headers()["set-cookie"].to_str().unwrap();
            Client {
                cookie: Some(cookie.split(';').next().unwrap().to_owned()),
                ..client
            }
        }
    };
    let alice = login(&first, "alice").await;
    let bob = login(&first, "bob").await;
    let a: ChatList = alice.get_json("/api/chat/requests", StatusCode::OK).await;
    let b: ChatList = bob.get_json("/api/chat/requests", StatusCode::OK).await;
    assert!(!a.requests.is_empty() && !b.requests.is_empty());
    let mut sizes: Vec<u64> = a
        .requests
        .iter()
        .chain(b.requests.iter())
        .map(|c| c.last_seq)
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes.first(), Some(&1));
    assert_eq!(sizes.last(), Some(&10_000));
    let total: u64 = sizes.iter().sum();
    for i in 1..=8 {
        let requester = login(
            &first,
            [
                "requester1",
                "requester2",
                "requester3",
                "requester4",
                "requester5",
                "requester6",
                "requester7",
                "requester8",
            ][i - 1],
        )
        .await;
        let list: ChatList = requester
            .get_json("/api/chat/requests", StatusCode::OK)
            .await;
        assert!(!list.requests.is_empty(), "requester{i} owns requests");
    }
    // The biggest chat is complete and fetchable page by page.
    let big = a
        .requests
        .iter()
        .chain(b.requests.iter())
        .find(|c| c.last_seq == 10_000)
        .unwrap();
    let owner = if a.requests.iter().any(|c| c.request_id == big.request_id) {
        &alice
    } else {
        &bob
    };
    let page: MessagesPage = owner
        .get_json(
            &format!(
                "/api/chat/messages?request_id={}&from_seq=9501&to_seq=10000",
                big.request_id
            ),
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages.len(), 500);
    first.stop().await;

    let second = TestServer::start_on(&db.target, |c| c.demo = true).await;
    let alice = login(&second, "alice").await;
    let bob = login(&second, "bob").await;
    let a2: ChatList = alice.get_json("/api/chat/requests", StatusCode::OK).await;
    let b2: ChatList = bob.get_json("/api/chat/requests", StatusCode::OK).await;
    let total2: u64 = a2
        .requests
        .iter()
        .chain(b2.requests.iter())
        .map(|c| c.last_seq)
        .sum();
    assert_eq!(a2.requests.len(), a.requests.len());
    assert_eq!(b2.requests.len(), b.requests.len());
    assert_eq!(total2, total, "a second --demo start adds nothing");
    second.stop().await;
}

async fn simulator_posts_as_requester(backend: Backend) {
    let server = TestServer::start(backend, |c| {
        c.simulate = true;
        c.simulate_interval = Duration::from_millis(100);
    })
    .await;
    let alice = server.login("alice").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list: ChatList = alice.get_json("/api/chat/requests", StatusCode::OK).await;
        if list.requests[0].last_seq > 0 {
            let page: MessagesPage = alice
                .get_json(
                    "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=1",
                    StatusCode::OK,
                )
                .await;
            assert_eq!(page.messages[0].sender.id, "u_r1");
            assert_eq!(page.messages[0].sender.role, SenderRole::Requester);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator posted nothing to alice's chat"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
