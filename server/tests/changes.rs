//! Edits, redactions, reassignment and closing (issue 16), over real HTTP against a real
//! database (each case on a SQLite file and on PostgreSQL): who may change what, what a
//! redaction erases (rows, files, the SQLite file itself), the changes-since catch-up and its
//! paging, the change events of the stream and their resume, the access a reassignment takes
//! away (HTTP, media, stream, queued pushes), and what a closed request refuses.

#[macro_use]
mod support;

use std::time::Duration;

use chat_sync::change_wire::{validate_changes_page, ChangesPage, RevokedNotice};
use chat_sync::protocol::{ChatList, PushPayload, SendMessage, MAX_BODY_LEN};
use chat_sync::types::{Attachment, ChatSummary, Message, RequestId};
use reqwest::StatusCode;
use serde_json::json;
use support::push_receiver::{subscribe, PushReceiver, TestSubscription};
use support::{assert_error, metric, Backend, Client, Sse, SseReader, TestServer};

backend_tests!(
    only_the_sender_edits_and_the_edit_is_stored,
    a_redaction_is_final_and_erases_body_and_media,
    changes_since_are_paged_in_version_order,
    hostile_changes_requests_are_refused,
    the_stream_carries_changes_and_replays_them_on_resume,
    a_reassignment_takes_the_chat_from_the_old_agent,
    a_reassignment_revokes_queued_pushes,
    a_closed_request_refuses_sends_and_edits,
    a_queued_push_sent_after_a_redaction_carries_no_body,
);

const WAIT: Duration = Duration::from_secs(10);

/// `PATCH /api/chat/messages`.
async fn edit(client: &Client, chat: &str, seq: u64, body: &str) -> reqwest::Response {
    client
        .request(reqwest::Method::PATCH, "/api/chat/messages")
        .json(&json!({"request_id": chat, "seq": seq, "body": body}))
        .send()
        .await
        .expect("edit")
}

/// `DELETE /api/chat/messages`.
async fn redact(client: &Client, chat: &str, seq: u64) -> reqwest::Response {
    client
        .request(reqwest::Method::DELETE, "/api/chat/messages")
        .json(&json!({"request_id": chat, "seq": seq}))
        .send()
        .await
        .expect("redact")
}

async fn assign(client: &Client, chat: &str, agent: &str) -> reqwest::Response {
    client
        .post("/api/chat/requests/assign")
        .json(&json!({"request_id": chat, "agent": agent}))
        .send()
        .await
        .expect("assign")
}

async fn close(client: &Client, chat: &str) -> reqwest::Response {
    client
        .post("/api/chat/requests/close")
        .json(&json!({"request_id": chat}))
        .send()
        .await
        .expect("close")
}

/// A 200 reply's JSON.
async fn ok_json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> T {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("json {text}: {e}"))
}

/// `GET /api/chat/changes`, checked against the core's validator.
async fn changes(client: &Client, chat: &str, since: u64, limit: u64) -> ChangesPage {
    let page: ChangesPage = client
        .get_json(
            &format!("/api/chat/changes?request_id={chat}&since={since}&limit={limit}"),
            StatusCode::OK,
        )
        .await;
    validate_changes_page(&page, &RequestId::new(chat), since).expect("a valid changes page");
    page
}

async fn upload(client: &Client, name: &str, bytes: &[u8]) -> Attachment {
    let response = client
        .post(&format!("/api/media?name={name}"))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "upload {name}");
    response.json().await.unwrap()
}

async fn send_with(
    client: &Client,
    chat: &str,
    key: &str,
    body: &str,
    attachments: Vec<Attachment>,
) -> Message {
    let response = client
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new(chat),
            client_temp_id: key.to_owned(),
            body: body.to_owned(),
            attachments,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn media_status(client: &Client, media_id: &str) -> StatusCode {
    client
        .get(&format!("/api/media/{media_id}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn chat_list(client: &Client) -> Vec<ChatSummary> {
    client
        .get_json::<ChatList>("/api/chat/requests", StatusCode::OK)
        .await
        .requests
}

async fn summary_of(client: &Client, chat: &str) -> ChatSummary {
    chat_list(client)
        .await
        .into_iter()
        .find(|c| c.request_id.as_str() == chat)
        .unwrap_or_else(|| panic!("{chat} is not in the list"))
}

/// The next event (heartbeats skipped): (id, event name, data).
async fn next_event(reader: &mut SseReader, wait: Duration) -> Option<(u64, String, String)> {
    loop {
        match reader.next(wait).await? {
            Sse::Comment => continue,
            Sse::Event { id, event, data } => {
                return Some((id.parse().expect("numeric id"), event, data))
            }
        }
    }
}

async fn expect_event(reader: &mut SseReader, name: &str) -> (u64, String) {
    let (id, event, data) = next_event(reader, WAIT)
        .await
        .unwrap_or_else(|| panic!("no {name} event came"));
    assert_eq!(event, name, "{data}");
    (id, data)
}

async fn only_the_sender_edits_and_the_edit_is_stored(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let (_, first) = r1.send("REQ-A", "k1", "the printer is offline").await;
    let (_, second) = alice.send("REQ-A", "k2", "restart it please").await;
    assert_eq!(first.version, 0);
    assert_eq!(first.edited_at, None);

    let edited: Message = ok_json(edit(&r1, "REQ-A", 1, "the printer is OFFLINE").await).await;
    assert_eq!(edited.body, "the printer is OFFLINE");
    assert_eq!(edited.version, 1);
    assert!(edited.edited_at.is_some());
    assert_eq!((edited.seq, &edited.id), (first.seq, &first.id));
    // Someone else's message: not even the chat's agent may edit it; outsiders are refused
    // before anything about the message is told.
    assert_error(
        edit(&alice, "REQ-A", 1, "rewritten").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-A", 2, "rewritten").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        edit(&bob, "REQ-A", 1, "rewritten").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-A", 99, "nothing there").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-NONE", 1, "no chat").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Bodies are checked like a send's.
    assert_error(
        edit(&r1, "REQ-A", 1, "bell\u{7}").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-A", 1, "   ").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-A", 1, &"x".repeat(MAX_BODY_LEN + 1)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    assert_error(
        edit(&r1, "REQ-A", 0, "seq zero").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let bad_json = r1
        .request(reqwest::Method::PATCH, "/api/chat/messages")
        .header("content-type", "application/json")
        .body("{\"request_id\": \"REQ-A\"")
        .send()
        .await
        .unwrap();
    assert_error(bad_json, StatusCode::BAD_REQUEST, "bad_json").await;
    // Refusals took no version: the next edit is version 2. Editing the last message
    // updates the chat list's preview.
    let again: Message = ok_json(edit(&alice, "REQ-A", 2, "restart it, please").await).await;
    assert_eq!(again.version, 2);
    assert_eq!(again.seq, second.seq);
    let chat = summary_of(&alice, "REQ-A").await;
    assert_eq!(chat.last_message.as_deref(), Some("restart it, please"));
    assert_eq!(chat.change_version, 2);
    assert!(!chat.closed);
    // A history fetch serves the current state.
    let page: chat_sync::protocol::MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=2",
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages[0], edited);
    assert_eq!(page.messages[1], again);
    assert_eq!(metric(&server.base, "chat_changes_stored_total").await, 2.0);
    server.stop().await;
}

async fn a_redaction_is_final_and_erases_body_and_media(backend: Backend) {
    const SECRET: &str = "my password is Hunter2-Zebra-Quokka";
    const FILE: &[u8] = b"SCREENSHOT-OF-Hunter2-Zebra-Quokka-in-a-file";
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let file = upload(&r1, "screen.bin", FILE).await;
    let sent = send_with(&r1, "REQ-A", "k1", SECRET, vec![file.clone()]).await;
    let (_, agent_message) = alice.send("REQ-A", "k2", "noted").await;
    assert_eq!(media_status(&alice, &file.media_id).await, StatusCode::OK);

    // Neither an outsider nor the requester (for the agent's message) may redact.
    assert_error(
        redact(&bob, "REQ-A", 1).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        redact(&r1, "REQ-A", agent_message.seq).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        redact(&alice, "REQ-A", 7).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The chat's agent removes the password the requester pasted.
    let tombstone: Message = ok_json(redact(&alice, "REQ-A", 1).await).await;
    assert!(tombstone.deleted);
    assert_eq!(tombstone.body, "");
    assert!(tombstone.attachments.is_empty());
    assert_eq!(tombstone.version, 1);
    assert_eq!((tombstone.seq, &tombstone.id), (sent.seq, &sent.id));
    // Idempotent, with no new version; final: no edit brings the body back.
    let again: Message = ok_json(redact(&r1, "REQ-A", 1).await).await;
    assert_eq!(again, tombstone);
    assert_error(
        edit(&r1, "REQ-A", 1, "undo").await,
        StatusCode::CONFLICT,
        "message_deleted",
    )
    .await;
    assert_eq!(summary_of(&r1, "REQ-A").await.change_version, 1);
    // The file is gone for everyone, its uploader included.
    assert_eq!(
        media_status(&alice, &file.media_id).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        media_status(&r1, &file.media_id).await,
        StatusCode::NOT_FOUND
    );
    // The last message's redaction shows in the preview.
    let (_, last) = r1.send("REQ-A", "k3", "oops, sorry").await;
    let last_tombstone: Message = ok_json(redact(&r1, "REQ-A", last.seq).await).await;
    assert_eq!(last_tombstone.version, 2);
    assert_eq!(
        summary_of(&alice, "REQ-A").await.last_message,
        Some(last_tombstone.preview(140))
    );
    let page: chat_sync::protocol::MessagesPage = alice
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=1",
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages, [tombstone]);

    // Erased in the database, not flagged: no row holds the body or the file any more.
    let db = server.state().db.clone();
    let leftovers: i64 = match &db {
        server::db::Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM messages WHERE body LIKE '%Hunter2%' \
                 OR attachments LIKE '%' || $1 || '%') \
                 + (SELECT COUNT(*) FROM media WHERE id = $1) \
                 + (SELECT COUNT(*) FROM media_chats WHERE media_id = $1) \
                 + (SELECT COUNT(*) FROM requests WHERE last_message LIKE '%Hunter2%')",
        )
        .bind(&file.media_id)
        .fetch_one(pool)
        .await
        .unwrap(),
        server::db::Db::Postgres(pool) => sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM messages WHERE body LIKE '%Hunter2%' \
                 OR attachments LIKE '%' || $1 || '%') \
                 + (SELECT COUNT(*) FROM media WHERE id = $1) \
                 + (SELECT COUNT(*) FROM media_chats WHERE media_id = $1) \
                 + (SELECT COUNT(*) FROM requests WHERE last_message LIKE '%Hunter2%')",
        )
        .bind(&file.media_id)
        .fetch_one(pool)
        .await
        .unwrap(),
    };
    assert_eq!(leftovers, 0);
    // On SQLite the bytes are gone from the files themselves (freed space is zeroed, the log
    // checkpointed): scan the database file and its log byte by byte once the server stopped.
    let path = match &server.db.as_ref().expect("db").target {
        server::DatabaseTarget::Sqlite(path) => Some(path.clone()),
        server::DatabaseTarget::Postgres(_) => None,
    };
    let TestServer { running, db, .. } = server;
    running.expect("running").shutdown().await;
    if let Some(path) = path {
        let mut scanned = 0;
        for suffix in ["", "-wal", "-shm"] {
            let file_path = format!("{}{suffix}", path.display());
            let Ok(bytes) = std::fs::read(&file_path) else {
                continue;
            };
            scanned += bytes.len();
            for needle in [b"Hunter2".as_slice(), FILE] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{file_path} still holds {:?}",
                    String::from_utf8_lossy(needle)
                );
            }
        }
        assert!(scanned > 0, "no database file was scanned");
    }
    drop(db);
}

async fn changes_since_are_paged_in_version_order(backend: Backend) {
    let server = TestServer::start(backend, |c| c.test_faults = true).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    for i in 1..=5 {
        r1.send("REQ-A", &format!("k{i}"), &format!("m{i}")).await;
    }
    let empty = changes(&alice, "REQ-A", 0, 10).await;
    assert!(empty.changes.is_empty() && !empty.more);
    assert_eq!(empty.version, 0);
    // Each change takes the next version, strictly increasing across messages and kinds.
    let mut versions = Vec::new();
    for seq in [1, 2, 3] {
        let m: Message = ok_json(edit(&r1, "REQ-A", seq, &format!("m{seq} edited")).await).await;
        versions.push(m.version);
    }
    let m: Message = ok_json(redact(&alice, "REQ-A", 4).await).await;
    versions.push(m.version);
    let m: Message = ok_json(edit(&r1, "REQ-A", 1, "m1 edited twice").await).await;
    versions.push(m.version);
    assert_eq!(versions, [1, 2, 3, 4, 5]);

    // Paged: at most `limit`, ascending by version, each message once in its current state.
    let first = changes(&alice, "REQ-A", 0, 2).await;
    let seen: Vec<(u64, u64)> = first.changes.iter().map(|m| (m.seq, m.version)).collect();
    assert_eq!(seen, [(2, 2), (3, 3)], "seq 1 moved on to version 5");
    assert!(first.more);
    assert_eq!(first.version, 5);
    assert_eq!(first.applied_through(), 3);
    let second = changes(&alice, "REQ-A", first.applied_through(), 2).await;
    let seen: Vec<(u64, u64)> = second.changes.iter().map(|m| (m.seq, m.version)).collect();
    assert_eq!(seen, [(4, 4), (1, 5)]);
    assert!(!second.more);
    assert!(second.changes[0].deleted && second.changes[0].body.is_empty());
    assert_eq!(second.changes[1].body, "m1 edited twice");
    assert_eq!(second.applied_through(), 5);
    // Only what changed after the cached version is served, and counted.
    let tail = changes(&r1, "REQ-A", 4, 100).await;
    assert_eq!(tail.changes.len(), 1);
    let caught_up = changes(&r1, "REQ-A", 5, 100).await;
    assert!(caught_up.changes.is_empty() && !caught_up.more);
    assert_eq!(metric(&server.base, "chat_changes_served_total").await, 5.0);
    // A close is a change of the chat: the version moves, no message comes with it.
    let closed: ChatSummary = ok_json(close(&alice, "REQ-A").await).await;
    assert_eq!(closed.change_version, 6);
    let after_close = changes(&r1, "REQ-A", 5, 100).await;
    assert!(after_close.changes.is_empty());
    assert_eq!(after_close.version, 6);
    assert!(after_close.closed);
    // The server's page limit bounds a page whatever the limit asked.
    let response = alice
        .post("/api/test/faults")
        .json(&json!({"page_limit": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bounded = changes(&alice, "REQ-A", 0, 100).await;
    assert_eq!(bounded.changes.len(), 1);
    assert!(bounded.more);
    server.stop().await;
}

async fn hostile_changes_requests_are_refused(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let bob = server.login("bob").await;
    r1.send("REQ-A", "k1", "hello").await;
    ok_json::<Message>(edit(&r1, "REQ-A", 1, "hello!").await).await;
    for (query, code) in [
        ("request_id=REQ-A", "invalid_range"),
        ("request_id=REQ-A&since=abc", "invalid_range"),
        ("request_id=REQ-A&since=-1", "invalid_range"),
        ("request_id=REQ-A&since=1.5", "invalid_range"),
        (
            "request_id=REQ-A&since=99999999999999999999999",
            "invalid_range",
        ),
        ("request_id=REQ-A&since=9007199254740993", "invalid_range"),
        ("request_id=REQ-A&since=2", "invalid_range"),
        ("request_id=REQ-A&since=0&limit=0", "invalid_range"),
        ("request_id=REQ-A&since=0&limit=10001", "invalid_range"),
        (
            "request_id=REQ-A&since=0&limit=1000000000000",
            "invalid_range",
        ),
        ("since=0", "bad_request"),
        ("request_id=&since=0", "bad_request"),
        ("request_id=%00%01&since=0", "bad_request"),
    ] {
        let response = r1
            .get(&format!("/api/chat/changes?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    // Another user's chat, an unknown chat, no session.
    let response = bob
        .get("/api/chat/changes?request_id=REQ-A&since=0")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = r1
        .get("/api/chat/changes?request_id=REQ-B&since=0")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = r1
        .get("/api/chat/changes?request_id=REQ-NONE&since=0")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = Client::anonymous(&server.base)
        .get("/api/chat/changes?request_id=REQ-A&since=0")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Someone else's chat for the writes too: nothing is told about its messages.
    assert_error(
        redact(&bob, "REQ-A", 1).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        close(&bob, "REQ-A").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        assign(&bob, "REQ-A", "bob").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Nothing of that moved the chat's version.
    let page = changes(&r1, "REQ-A", 0, 10).await;
    assert_eq!(page.version, 1);
    server.stop().await;
}

async fn the_stream_carries_changes_and_replays_them_on_resume(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    let mut live = SseReader::open(&alice, None).await;
    let (_, sent) = r1.send("REQ-A", "k1", "first words").await;
    let (sent_id, data) = expect_event(&mut live, "message").await;
    assert_eq!(serde_json::from_str::<Message>(&data).unwrap(), sent);
    // An edit and a redaction come as `change` events, later on the same id sequence.
    let edited: Message = ok_json(edit(&r1, "REQ-A", 1, "better words").await).await;
    let (edit_id, data) = expect_event(&mut live, "change").await;
    assert!(edit_id > sent_id);
    assert_eq!(serde_json::from_str::<Message>(&data).unwrap(), edited);
    let tombstone: Message = ok_json(redact(&alice, "REQ-A", 1).await).await;
    let (redact_id, data) = expect_event(&mut live, "change").await;
    assert!(redact_id > edit_id);
    let got: Message = serde_json::from_str(&data).unwrap();
    assert_eq!(got, tombstone);
    assert!(!data.contains("words"), "{data}");
    let (_, second) = r1.send("REQ-A", "k2", "next").await;
    let (second_id, _) = expect_event(&mut live, "message").await;
    assert!(second_id > redact_id);
    // Bob's stream saw none of it.
    let bob = server.login("bob").await;
    let mut bobs = SseReader::open(&bob, Some(&sent_id.to_string())).await;
    assert!(next_event(&mut bobs, Duration::from_millis(500))
        .await
        .is_none());
    // A resume from before the edits replays the message once, in its current state, then
    // what followed, in order.
    let mut resumed = SseReader::open(&alice, Some(&sent_id.to_string())).await;
    let (id, data) = expect_event(&mut resumed, "change").await;
    assert_eq!(id, redact_id);
    assert_eq!(serde_json::from_str::<Message>(&data).unwrap(), tombstone);
    let (id, data) = expect_event(&mut resumed, "message").await;
    assert_eq!(id, second_id);
    assert_eq!(serde_json::from_str::<Message>(&data).unwrap(), second);
    assert!(next_event(&mut resumed, Duration::from_millis(500))
        .await
        .is_none());
    // A resume after the redaction has nothing of the first message.
    let mut late = SseReader::open(&r1, Some(&redact_id.to_string())).await;
    let (id, _) = expect_event(&mut late, "message").await;
    assert_eq!(id, second_id);
    server.stop().await;
}

async fn a_reassignment_takes_the_chat_from_the_old_agent(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let requester_file = upload(&r1, "log.txt", b"requester log").await;
    let agent_file = upload(&alice, "howto.txt", b"agent how-to").await;
    send_with(
        &r1,
        "REQ-A",
        "k1",
        "log attached",
        vec![requester_file.clone()],
    )
    .await;
    send_with(&alice, "REQ-A", "k2", "try this", vec![agent_file.clone()]).await;
    let mut alices = SseReader::open(&alice, None).await;
    let mut bobs = SseReader::open(&bob, None).await;

    // Refused hand-overs: not an agent, no such user, not the assigned agent.
    assert_error(
        assign(&alice, "REQ-A", "r2").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        assign(&alice, "REQ-A", "nobody").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        assign(&r1, "REQ-A", "bob").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        assign(&alice, "REQ-NONE", "bob").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let handed: ChatSummary = ok_json(assign(&alice, "REQ-A", "bob").await).await;
    assert_eq!(handed.change_version, 1);
    assert_eq!(handed.last_seq, 2);
    // The old agent is told on its stream, the new one gets the chat.
    let (revoked_id, data) = expect_event(&mut alices, "revoked").await;
    let notice: RevokedNotice = serde_json::from_str(&data).unwrap();
    assert_eq!(notice.request_id.as_str(), "REQ-A");
    let (chat_id, data) = expect_event(&mut bobs, "chat").await;
    assert_eq!(chat_id, revoked_id, "one change, one event id");
    let gained: ChatSummary = serde_json::from_str(&data).unwrap();
    assert_eq!(gained, handed);
    // From now on the old agent is refused everything of the chat.
    let response = alice
        .get("/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=2")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = alice
        .get("/api/chat/changes?request_id=REQ-A&since=0")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = alice
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new("REQ-A"),
            client_temp_id: "k3".to_owned(),
            body: "still here?".to_owned(),
            attachments: Vec::new(),
        })
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(
        edit(&alice, "REQ-A", 2, "my own message").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        redact(&alice, "REQ-A", 1).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        assign(&alice, "REQ-A", "alice").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        close(&alice, "REQ-A").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Media: the chat's files are not the old agent's any more; their own upload still is.
    assert_eq!(
        media_status(&alice, &requester_file.media_id).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        media_status(&alice, &agent_file.media_id).await,
        StatusCode::OK
    );
    assert_eq!(
        media_status(&bob, &requester_file.media_id).await,
        StatusCode::OK
    );
    // The lists moved.
    assert!(chat_list(&alice).await.is_empty());
    let bobs_list: Vec<String> = chat_list(&bob)
        .await
        .iter()
        .map(|c| c.request_id.as_str().to_owned())
        .collect();
    assert!(bobs_list.contains(&"REQ-A".to_owned()), "{bobs_list:?}");
    assert!(bobs_list.contains(&"REQ-B".to_owned()), "{bobs_list:?}");
    // The new agent reads and writes; the old agent's stream hears nothing more of it.
    let page: chat_sync::protocol::MessagesPage = bob
        .get_json(
            "/api/chat/messages?request_id=REQ-A&from_seq=1&to_seq=2",
            StatusCode::OK,
        )
        .await;
    assert_eq!(page.messages.len(), 2);
    let tombstone: Message = ok_json(redact(&bob, "REQ-A", 1).await).await;
    assert_eq!(tombstone.version, 2);
    r1.send("REQ-A", "k4", "hello bob").await;
    expect_event(&mut bobs, "change").await;
    expect_event(&mut bobs, "message").await;
    assert!(next_event(&mut alices, Duration::from_millis(700))
        .await
        .is_none());
    // A resume from before the hand-over replays nothing of the chat to the old agent but
    // the revocation.
    let mut resumed = SseReader::open(&alice, Some("0")).await;
    let (id, _) = expect_event(&mut resumed, "revoked").await;
    assert_eq!(id, revoked_id);
    assert!(next_event(&mut resumed, Duration::from_millis(500))
        .await
        .is_none());
    server.stop().await;
}

async fn a_reassignment_revokes_queued_pushes(backend: Backend) {
    // The first server queues but does not send, so the message push for alice is still
    // queued when the chat is handed to bob.
    let first = TestServer::start(backend, |c| c.push_sender = false).await;
    let mut alices_receiver = PushReceiver::start().await;
    let mut bobs_receiver = PushReceiver::start().await;
    let alice = first.login("alice").await;
    let bob = first.login("bob").await;
    let r1 = first.login("r1").await;
    let alice_sub = TestSubscription::new();
    let bob_sub = TestSubscription::new();
    subscribe(&alice, &alice_sub, &alices_receiver.endpoint).await;
    subscribe(&bob, &bob_sub, &bobs_receiver.endpoint).await;
    r1.send("REQ-A", "k1", "confidential detail").await;
    r1.send("REQ-A", "k2", "more detail").await;
    ok_json::<ChatSummary>(assign(&alice, "REQ-A", "bob").await).await;
    let target = first.db.as_ref().expect("db").target.clone();
    let TestServer { running, db, .. } = first;
    running.expect("running").shutdown().await;
    let second = TestServer::start_on(&target, |_| {}).await;
    // Alice gets the revocation and nothing with content; bob a hint of where it ends.
    let received = tokio::time::timeout(WAIT, alices_receiver.rx.recv())
        .await
        .expect("alice's push")
        .expect("open");
    match alice_sub.decrypt(received.body) {
        PushPayload::Revoked { to, request_id } => {
            assert_eq!(to, "u_alice");
            assert_eq!(request_id.as_str(), "REQ-A");
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    let received = tokio::time::timeout(WAIT, bobs_receiver.rx.recv())
        .await
        .expect("bob's push")
        .expect("open");
    match bob_sub.decrypt(received.body) {
        PushPayload::Hint {
            to,
            request_id,
            seq,
        } => {
            assert_eq!(to, "u_bob");
            assert_eq!(request_id.as_str(), "REQ-A");
            assert_eq!(seq, 2);
        }
        other => panic!("expected a hint, got {other:?}"),
    }
    support::wait_for_metric(&second.base, "push_queue_depth", |d| d == 0.0).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(1), alices_receiver.rx.recv())
            .await
            .is_err(),
        "a queued message push reached the old agent"
    );
    second.stop().await;
    drop(db);
}

async fn a_closed_request_refuses_sends_and_edits(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let r1 = server.login("r1").await;
    let alice = server.login("alice").await;
    let bob = server.login("bob").await;
    let (_, sent) = r1.send("REQ-A", "k1", "thanks, all good").await;
    let mut alices = SseReader::open(&alice, None).await;
    let mut r1s = SseReader::open(&r1, None).await;
    assert_error(
        close(&bob, "REQ-A").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The requester closes it; both sides hear of it.
    let closed: ChatSummary = ok_json(close(&r1, "REQ-A").await).await;
    assert!(closed.closed);
    assert_eq!(closed.change_version, 1);
    for reader in [&mut alices, &mut r1s] {
        let (_, data) = expect_event(reader, "chat").await;
        let summary: ChatSummary = serde_json::from_str(&data).unwrap();
        assert!(summary.closed);
        assert_eq!(summary.change_version, 1);
    }
    // No new message, no edit; a repeat of a message stored before still answers it.
    let response = alice
        .post("/api/chat/messages")
        .json(&SendMessage {
            request_id: RequestId::new("REQ-A"),
            client_temp_id: "late".to_owned(),
            body: "one more thing".to_owned(),
            attachments: Vec::new(),
        })
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::CONFLICT, "request_closed").await;
    let (status, repeat) = r1.send("REQ-A", "k1", "thanks, all good").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repeat, sent);
    assert_error(
        edit(&r1, "REQ-A", 1, "edited after closing").await,
        StatusCode::CONFLICT,
        "request_closed",
    )
    .await;
    // A redaction still is allowed.
    let tombstone: Message = ok_json(redact(&r1, "REQ-A", 1).await).await;
    assert_eq!(tombstone.version, 2);
    // Closing again changes nothing.
    let again: ChatSummary = ok_json(close(&alice, "REQ-A").await).await;
    assert!(again.closed);
    assert_eq!(again.change_version, 2);
    let listed = summary_of(&alice, "REQ-A").await;
    assert!(listed.closed);
    assert_eq!(listed.last_seq, 1, "nothing was stored after the close");
    // The other chat is untouched.
    let other = summary_of(&bob, "REQ-B").await;
    assert!(!other.closed);
    assert_eq!(other.change_version, 0);
    server.stop().await;
}

async fn a_queued_push_sent_after_a_redaction_carries_no_body(backend: Backend) {
    const SECRET: &str = "PIN 4711-Okapi";
    let first = TestServer::start(backend, |c| c.push_sender = false).await;
    let mut receiver = PushReceiver::start().await;
    let alice = first.login("alice").await;
    let r1 = first.login("r1").await;
    let sub = TestSubscription::new();
    subscribe(&alice, &sub, &receiver.endpoint).await;
    // Queued: the message's push, then its redaction's.
    r1.send("REQ-A", "k1", SECRET).await;
    let tombstone: Message = ok_json(redact(&r1, "REQ-A", 1).await).await;
    // And an edit of another message, whose push carries the edit.
    r1.send("REQ-A", "k2", "typo heer").await;
    let edited: Message = ok_json(edit(&r1, "REQ-A", 2, "typo here").await).await;
    let target = first.db.as_ref().expect("db").target.clone();
    let TestServer { running, db, .. } = first;
    running.expect("running").shutdown().await;
    let second = TestServer::start_on(&target, |_| {}).await;
    let mut payloads = Vec::new();
    while payloads.len() < 4 {
        let received = tokio::time::timeout(WAIT, receiver.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} pushes arrived", payloads.len()))
            .expect("open");
        payloads.push(sub.decrypt(received.body));
    }
    for payload in &payloads {
        let text = serde_json::to_string(payload).unwrap();
        assert!(!text.contains("4711"), "the erased body was pushed: {text}");
        assert!(
            !text.contains("heer"),
            "an outdated body was pushed: {text}"
        );
        match payload {
            PushPayload::Change { to, message } => {
                assert_eq!(to, "u_alice");
                if message.seq == 1 {
                    assert_eq!(message, &tombstone);
                } else {
                    assert_eq!(message, &edited);
                }
            }
            other => panic!("expected a change, got {other:?}"),
        }
    }
    support::wait_for_metric(&second.base, "push_queue_depth", |d| d == 0.0).await;
    second.stop().await;
    drop(db);
}
