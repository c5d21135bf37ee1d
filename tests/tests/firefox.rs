//! The core scenarios in headless Firefox through geckodriver (W3C WebDriver), against the
//! real server. WebDriver has no network emulation, so the network cut is the server itself
//! going down ([`Server::stop_for_now`]) and coming back on the same address and database
//! ([`Server::start_again`]); the app's shell then comes from its service worker.
//!
//! Judged by the DOM hooks of SPEC.md, by alice's IndexedDB read from an app page, and by the
//! server's `/metrics` (`chat_messages_served_total{kind="range"|"cursor"}`: messages served
//! by history fetches; the counters start at 0 with every server start). Demo data
//! (`server/src/demo_seed.rs`): alice's `REQ-1001` (1 message), `REQ-1003` (3) and
//! `REQ-1005` (8).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use e2e::browser::scratch_dir;
use e2e::chat::{chat_list, post_as};
use e2e::http;
use e2e::server::Server;
use e2e::webdriver::Firefox;
use e2e::HarnessError;
use serde_json::{json, Value};

const RANGE: &str = "chat_messages_served_total{kind=\"range\"}";
const CURSOR: &str = "chat_messages_served_total{kind=\"cursor\"}";
const WAIT: Duration = Duration::from_secs(30);
/// How long a repair or a delivery may take once the server is back. The live channel
/// reconnects with a backoff of up to 30 s and the outbox retries with one of up to 60 s.
/// (Firefox fires the stream's `open`, which starts the catch-up, only with the first body
/// bytes: a server that does not open its streams with a comment adds up to its 15 s
/// heartbeat.)
const AFTER_RESTART: Duration = Duration::from_secs(90);

/// One message, as the server and the cache both hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    id: String,
    seq: u64,
    body: String,
}

/// One message row of the chat view: `seq` is absent on a row still in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    seq: Option<u64>,
    state: String,
    body: String,
}

/// The message rows in the DOM, in seq order (pending rows, without a seq, last).
const ROWS_JS: &str = r#"[...document.querySelectorAll('[data-testid=message]')].map(r => ({
  seq: r.dataset.seq === undefined ? null : Number(r.dataset.seq),
  state: r.dataset.state,
  body: r.querySelector('.msg__body')?.textContent ?? '',
})).sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity))"#;

/// Reads one chat's messages from the cache database (`arguments[0]`, `arguments[1]`:
/// database and chat), without creating the database when it does not exist. (An arrow
/// function has no `arguments` of its own: these are the script's.)
const CACHED_JS: &str = r#"return (async () => {
  const [name, rid] = arguments;
  if (!(await indexedDB.databases()).some(d => d.name === name)) return [];
  const db = await new Promise((ok, err) => {
    const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  });
  try {
    const rq = db.transaction('messages').objectStore('messages')
      .getAll(IDBKeyRange.bound([rid, 0], [rid, Number.MAX_SAFE_INTEGER]));
    const msgs = await new Promise((ok, err) => { rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); });
    return msgs.map(m => ({ id: m.id, seq: m.seq, body: m.body }));
  } finally { db.close(); }
})();"#;

/// Counts the entries of the outbox (`arguments[0]`: database).
const OUTBOX_JS: &str = r#"return (async () => {
  const db = await new Promise((ok, err) => {
    const r = indexedDB.open(arguments[0]); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  });
  try {
    const rq = db.transaction('outbox').objectStore('outbox').count();
    return await new Promise((ok, err) => { rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); });
  } finally { db.close(); }
})();"#;

/// Polls inside the page, every 5 ms, until the chat view of `arguments[0]` is ready with
/// `arguments[1]` rows, and answers how long after the navigation started that was (ms), or
/// `null` after 20 s. Measured in the page: a WebDriver round trip per poll would blur it.
const READY_AT_JS: &str = r#"const [rid, rows, done] = arguments;
const ready = () => {
  const view = document.querySelector('[data-testid=chat-view]');
  return view?.dataset.requestId === rid && view.dataset.ready === 'true'
    && document.querySelectorAll('[data-testid=message]').length === rows;
};
const tick = () => {
  if (ready()) return done(performance.now());
  if (performance.now() > 20000) return done(null);
  setTimeout(tick, 5);
};
tick();"#;

/// A server with demo data and a headless Firefox (its own geckodriver) for one test.
async fn start(name: &str) -> e2e::Result<(Server, Firefox)> {
    let dir = scratch_dir(name);
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let firefox = Firefox::launch(&dir.join("firefox")).await?;
    firefox.set_window_size(1280, 4000).await?;
    Ok((server, firefox))
}

/// Opens `/chat/{chat}`, signs alice in through the app's form, waits for the chat's
/// `expected` rows and for the service worker to control the page (the shell is cached from
/// then on, which the cuts rely on).
async fn sign_in_at(
    firefox: &Firefox,
    server: &Server,
    chat: &str,
    expected: usize,
) -> e2e::Result<()> {
    firefox
        .navigate(&server.url(&format!("/chat/{chat}")))
        .await?;
    firefox.submit_sign_in("alice", "demo", WAIT).await?;
    wait_chat_ready(firefox, chat, expected).await?;
    firefox
        .wait_for(
            "navigator.serviceWorker.getRegistration()
               .then(r => r?.active?.state === 'activated' && !!navigator.serviceWorker.controller)",
            WAIT,
        )
        .await?;
    Ok(())
}

/// Waits until the chat view of `chat` is ready and shows `expected` rows.
async fn wait_chat_ready(firefox: &Firefox, chat: &str, expected: usize) -> e2e::Result<()> {
    firefox
        .wait_for(
            &format!(
                "(() => {{ const v = document.querySelector('[data-testid=chat-view]');
                   return v?.dataset.requestId === {chat:?} && v.dataset.ready === 'true'
                     && document.querySelectorAll('[data-testid=message]').length === {expected}; }})()"
            ),
            WAIT,
        )
        .await
        .map(|_| ())
}

/// Opens `chat` from the chat list, as the agent would (no page load).
async fn open_from_list(firefox: &Firefox, chat: &str) -> e2e::Result<()> {
    firefox
        .execute(
            "document.querySelector(`[data-testid=chat-item][data-request-id=\"${arguments[0]}\"]`).click();",
            json!([chat]),
        )
        .await
        .map(|_| ())
}

/// Opens `chat` from the chat list and waits until it is ready with `expected` rows.
async fn click_chat(firefox: &Firefox, chat: &str, expected: usize) -> e2e::Result<()> {
    open_from_list(firefox, chat).await?;
    wait_chat_ready(firefox, chat, expected).await
}

/// The chat view's message rows.
async fn rows(firefox: &Firefox) -> e2e::Result<Vec<Row>> {
    let value = firefox.evaluate(ROWS_JS).await?;
    Ok(value
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Row {
            seq: r["seq"].as_u64(),
            state: r["state"].as_str().unwrap_or_default().to_owned(),
            body: r["body"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}

/// Waits until the rows satisfy `done`, and returns them; on a timeout the error says what
/// the rows were.
async fn wait_rows(
    firefox: &Firefox,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[Row]) -> bool,
) -> e2e::Result<Vec<Row>> {
    let result = e2e::wait_until(what, timeout, || async {
        let rows = rows(firefox).await?;
        Ok(done(&rows).then_some(rows))
    })
    .await;
    match result {
        Err(HarnessError::Timeout { what, seconds }) => Err(HarnessError::Timeout {
            what: format!(
                "{what} (rows: {:?})",
                rows(firefox).await.unwrap_or_default()
            ),
            seconds,
        }),
        other => other,
    }
}

/// Rows that are all sent, at exactly the seqs of `messages`, with their bodies.
fn rows_match(rows: &[Row], messages: &[Msg]) -> bool {
    rows.len() == messages.len()
        && rows
            .iter()
            .zip(messages)
            .all(|(r, m)| r.seq == Some(m.seq) && r.state == "sent" && r.body == m.body)
}

/// Waits until the chat view shows exactly the server's messages of `chat`, all sent (the
/// server is read again on every poll: an outbox message may still be on its way), and
/// returns them.
async fn wait_view_is_server(
    firefox: &Firefox,
    server: &Server,
    cookie: &str,
    chat: &str,
    timeout: Duration,
) -> e2e::Result<Vec<Msg>> {
    let what = format!("the view of {chat} to equal the server");
    let result = e2e::wait_until(&what, timeout, || async {
        let expected = server_messages(server, cookie, chat).await?;
        Ok(rows_match(&rows(firefox).await?, &expected).then_some(expected))
    })
    .await;
    match result {
        Err(HarnessError::Timeout { what, seconds }) => Err(HarnessError::Timeout {
            what: format!(
                "{what} (rows: {:?}; server: {:?})",
                rows(firefox).await.unwrap_or_default(),
                server_messages(server, cookie, chat)
                    .await
                    .unwrap_or_default()
            ),
            seconds,
        }),
        other => other,
    }
}

/// Types `text` into the composer and sends it; waits until the composer took it (emptied)
/// and fails if it said why not (`composer-problem`).
async fn type_and_send(firefox: &Firefox, text: &str) -> e2e::Result<()> {
    firefox
        .execute(
            r#"const box = document.querySelector('[data-testid=composer]');
box.value = arguments[0];
box.dispatchEvent(new Event('input', { bubbles: true }));
document.querySelector('[data-testid=send]').click();"#,
            json!([text]),
        )
        .await?;
    let outcome = firefox
        .wait_for(
            "document.querySelector('[data-testid=composer]').value === '' ? 'taken'
               : document.querySelector('[data-testid=composer-problem]')?.textContent",
            WAIT,
        )
        .await?;
    if outcome != "taken" {
        return Err(HarnessError::Setup(format!(
            "the composer refused {text:?}: {outcome}"
        )));
    }
    Ok(())
}

/// alice's cache database name (her user id from `/api/auth/me`).
async fn database(server: &Server, cookie: &str) -> e2e::Result<String> {
    let reply = http::send(
        &server.addr,
        "GET",
        "/api/auth/me",
        &[("Cookie", cookie)],
        "",
    )
    .await?;
    let me: Value = serde_json::from_str(&reply.body).map_err(|source| HarnessError::Json {
        what: "/api/auth/me".into(),
        source,
    })?;
    let id = me["id"]
        .as_str()
        .ok_or_else(|| HarnessError::Setup(format!("/api/auth/me answered {}", reply.body)))?;
    Ok(e2e::chat::database_name(id))
}

/// One chat's cached messages, read on the current (app) page.
async fn cached(firefox: &Firefox, database: &str, chat: &str) -> e2e::Result<Vec<Msg>> {
    let value = firefox.execute(CACHED_JS, json!([database, chat])).await?;
    Ok(messages_of(&value))
}

/// Unsent entries in the outbox, read on the current (app) page.
async fn outbox_len(firefox: &Firefox, database: &str) -> e2e::Result<u64> {
    let value = firefox.execute(OUTBOX_JS, json!([database])).await?;
    Ok(value.as_u64().unwrap_or(u64::MAX))
}

/// Every message of `chat` at the server, as alice reads them.
async fn server_messages(server: &Server, cookie: &str, chat: &str) -> e2e::Result<Vec<Msg>> {
    let messages = e2e::chat::server_messages(server, cookie, chat).await?;
    Ok(messages_of(&Value::Array(messages)))
}

fn messages_of(list: &Value) -> Vec<Msg> {
    let mut messages: Vec<Msg> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Msg {
            id: m["id"].as_str().unwrap_or_default().to_owned(),
            seq: m["seq"].as_u64().unwrap_or(0),
            body: m["body"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    messages.sort_by_key(|m| m.seq);
    messages
}

/// Asserts that the cache of `chat` holds exactly the server's messages (ids, seqs, bodies),
/// each once. It waits up to `WAIT` for the two to agree first, since a live message may still
/// be on its way; the assertion then compares the full lists.
async fn assert_cache_is_server(
    firefox: &Firefox,
    server: &Server,
    cookie: &str,
    chat: &str,
) -> e2e::Result<Vec<Msg>> {
    let database = database(server, cookie).await?;
    let expected = server_messages(server, cookie, chat).await?;
    let _ = e2e::wait_until("the cache to equal the server", WAIT, || async {
        Ok((cached(firefox, &database, chat).await? == expected).then_some(()))
    })
    .await;
    let held = cached(firefox, &database, chat).await?;
    let ids: HashSet<&str> = held.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), held.len(), "{chat}: a message is cached twice");
    assert_eq!(held, expected, "{chat}: the cache differs from the server");
    Ok(expected)
}

/// The requester of `chat`, signed in over HTTP (demo user names are their ids without `u_`).
async fn requester_of(server: &Server, agent: &str, chat: &str) -> e2e::Result<String> {
    let chats = chat_list(server, agent).await?;
    let username = chats
        .iter()
        .find(|c| c["request_id"] == chat)
        .and_then(|c| c["requester"]["id"].as_str())
        .ok_or_else(|| HarnessError::Setup(format!("{chat} is not alice's")))?
        .trim_start_matches("u_")
        .to_owned();
    http::login(&server.addr, &username, "demo").await
}

/// a. A chat cached with 8 messages, 30 more posted while no app page is open; the server
/// goes down; the chat reopened shows its 8 cached rows at once (from the shell cache and
/// IndexedDB, with the server down); when the server is back, exactly the 30 missing messages
/// are fetched, by range, and the cache equals the server.
#[tokio::test]
async fn a_partial_chat_opens_from_the_cache_and_repairs_only_what_is_missing() -> e2e::Result<()> {
    const CHAT: &str = "REQ-1005";
    const MISSED: usize = 30;
    let (server, firefox) = start("firefox-partial").await?;
    let alice = http::login(&server.addr, "alice", "demo").await?;
    sign_in_at(&firefox, &server, CHAT, 8).await?;
    let database = database(&server, &alice).await?;
    let first = cached(&firefox, &database, CHAT).await?;
    assert_eq!(
        first.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );

    // No app page open (its live stream would deliver them): the cache misses these.
    firefox.navigate(&server.url("/metrics")).await?;
    let requester = requester_of(&server, &alice, CHAT).await?;
    for i in 1..=MISSED {
        post_as(&server, &requester, CHAT, &format!("posted while away {i}")).await?;
    }

    // The server's messages, read now: after the restart the test reads no history until
    // it has taken the counters (its own reads are range fetches too).
    let expected = server_messages(&server, &alice, CHAT).await?;
    assert_eq!(expected.len(), 8 + MISSED);
    assert_eq!(expected[..8], first[..], "the first 8 as cached");

    // The network cut: the chat opens with the server down, from the cache alone.
    server.stop_for_now().await?;
    firefox
        .navigate(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    let ready_at = firefox.execute_async(READY_AT_JS, json!([CHAT, 8])).await?;
    let ready_ms = ready_at.as_f64().ok_or_else(|| HarnessError::Timeout {
        what: "the 8 cached rows with the server down".into(),
        seconds: 20.0,
    })?;
    let offline_rows = rows(&firefox).await?;
    assert!(
        rows_match(&offline_rows, &first),
        "cached rows shown offline: {offline_rows:?}"
    );
    assert_eq!(cached(&firefox, &database, CHAT).await?, first);

    // Back: only the 30 missing messages are fetched.
    server.start_again().await?;
    let back = Instant::now();
    let range_before = server.metric(RANGE).await?;
    let cursor_before = server.metric(CURSOR).await?;
    wait_rows(&firefox, "all 38 rows, sent", AFTER_RESTART, |rows| {
        rows_match(rows, &expected)
    })
    .await?;
    let repaired_after = back.elapsed();
    firefox
        .wait_for(
            "document.querySelector('[data-testid=sync-indicator]') === null
               && document.querySelectorAll('[data-testid=gap-skeleton]').length === 0",
            WAIT,
        )
        .await?;
    // A stray second fetch would come right after the first: give it time to be counted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by_range = server.metric(RANGE).await? - range_before;
    let by_cursor = server.metric(CURSOR).await? - cursor_before;
    let held = assert_cache_is_server(&firefox, &server, &alice, CHAT).await?;
    println!(
        "firefox partial: cached rows shown {ready_ms:.0} ms after navigation with the server \
         down; repaired {:.1} s after the restart; fetched {by_range} by range, {by_cursor} \
         by cursor; cache {} = server {}",
        repaired_after.as_secs_f64(),
        held.len(),
        expected.len()
    );
    assert_eq!(by_range, MISSED as f64, "messages fetched by range");
    assert_eq!(by_cursor, 0.0, "messages fetched by cursor");

    firefox.close().await;
    server.stop().await;
    Ok(())
}

/// b. The app open on a chat, the server goes down; two messages written then stay pending,
/// also across a reload (the shell from the service worker, the outbox from IndexedDB); the
/// server back, the outbox delivers each once, in order, and the rows turn sent.
#[tokio::test]
async fn messages_sent_while_the_server_is_down_are_delivered_once_when_it_is_back(
) -> e2e::Result<()> {
    const CHAT: &str = "REQ-1003";
    let (server, firefox) = start("firefox-send").await?;
    let alice = http::login(&server.addr, "alice", "demo").await?;
    sign_in_at(&firefox, &server, CHAT, 3).await?;
    let database = database(&server, &alice).await?;
    let before = server_messages(&server, &alice, CHAT).await?;

    server.stop_for_now().await?;
    let texts = [
        "written with the server down 1",
        "written with the server down 2",
    ];
    for text in texts {
        type_and_send(&firefox, text).await?;
    }
    let is_pending = |rows: &[Row]| {
        let pending: Vec<&str> = rows
            .iter()
            .filter(|r| r.state == "pending" && r.seq.is_none())
            .map(|r| r.body.as_str())
            .collect();
        pending == texts && rows.iter().filter(|r| r.state == "sent").count() == 3
    };
    wait_rows(&firefox, "two pending rows", WAIT, is_pending).await?;
    assert_eq!(outbox_len(&firefox, &database).await?, 2);

    // A reload with the server down: Firefox gets the shell from the service worker, the
    // app the pending messages from the outbox.
    firefox.reload().await?;
    wait_rows(
        &firefox,
        "two pending rows after the reload",
        WAIT,
        is_pending,
    )
    .await?;
    assert_eq!(outbox_len(&firefox, &database).await?, 2);

    server.start_again().await?;
    let back = Instant::now();
    let delivered = wait_rows(&firefox, "both rows sent", AFTER_RESTART, |rows| {
        rows.len() == 5 && rows.iter().all(|r| r.state == "sent")
    })
    .await?;
    let delivered_after = back.elapsed();
    let stored = server_messages(&server, &alice, CHAT).await?;
    assert_eq!(stored.len(), before.len() + 2, "{stored:?}");
    for text in texts {
        let copies = stored.iter().filter(|m| m.body == text).count();
        assert_eq!(copies, 1, "{text:?} is stored {copies} times");
    }
    let new: Vec<(u64, &str)> = stored[before.len()..]
        .iter()
        .map(|m| (m.seq, m.body.as_str()))
        .collect();
    assert_eq!(new, vec![(4, texts[0]), (5, texts[1])]);
    assert!(rows_match(&delivered, &stored), "{delivered:?}");
    let held = assert_cache_is_server(&firefox, &server, &alice, CHAT).await?;
    let left = outbox_len(&firefox, &database).await?;
    println!(
        "firefox send: 2 pending across a reload with the server down; delivered {:.1} s after \
         the restart; stored once each at seqs 4, 5; cache {} = server {}; outbox {left}",
        delivered_after.as_secs_f64(),
        held.len(),
        stored.len()
    );
    assert_eq!(left, 0, "the outbox is empty");

    firefox.close().await;
    server.stop().await;
    Ok(())
}

/// c. A whole session with two cuts, messages from both sides in every chat (live, by
/// catch-up, from the outbox): every chat alice opened holds exactly the server's messages.
#[tokio::test]
async fn nothing_is_lost_over_a_session_with_two_cuts() -> e2e::Result<()> {
    const CHATS: [(&str, usize); 3] = [("REQ-1001", 1), ("REQ-1003", 3), ("REQ-1005", 8)];
    let (server, firefox) = start("firefox-session").await?;
    let alice = http::login(&server.addr, "alice", "demo").await?;
    sign_in_at(&firefox, &server, CHATS[0].0, CHATS[0].1).await?;
    for (chat, count) in &CHATS[1..] {
        click_chat(&firefox, chat, *count).await?;
    }
    let mut requesters = Vec::new();
    for (chat, _) in CHATS {
        requesters.push((chat, requester_of(&server, &alice, chat).await?));
    }

    // Cut 1, the app open on REQ-1005: alice writes; the server back, requesters write in
    // every chat while the live stream reconnects.
    server.stop_for_now().await?;
    type_and_send(&firefox, "alice during cut 1").await?;
    server.start_again().await?;
    for (chat, cookie) in &requesters {
        for i in 1..=3 {
            post_as(&server, cookie, chat, &format!("{chat} after cut 1, {i}")).await?;
        }
    }
    wait_view_is_server(&firefox, &server, &alice, CHATS[2].0, AFTER_RESTART).await?;

    // Cut 2 with no app page open: requesters write; the app comes back on REQ-1003 and
    // alice answers there.
    firefox.navigate(&server.url("/metrics")).await?;
    server.stop_for_now().await?;
    server.start_again().await?;
    for (chat, cookie) in &requesters {
        for i in 1..=4 {
            post_as(&server, cookie, chat, &format!("{chat} after cut 2, {i}")).await?;
        }
    }
    firefox
        .navigate(&server.url(&format!("/chat/{}", CHATS[1].0)))
        .await?;
    wait_view_is_server(&firefox, &server, &alice, CHATS[1].0, WAIT).await?;
    type_and_send(&firefox, "alice after cut 2").await?;

    // Every chat alice opened: the view and the cache equal the server.
    let mut figures = Vec::new();
    for (chat, _) in CHATS {
        open_from_list(&firefox, chat).await?;
        wait_view_is_server(&firefox, &server, &alice, chat, WAIT).await?;
        let held = assert_cache_is_server(&firefox, &server, &alice, chat).await?;
        figures.push(format!("{chat} {}", held.len()));
    }
    let database = database(&server, &alice).await?;
    assert_eq!(outbox_len(&firefox, &database).await?, 0);
    // The test's own reads of the server are range fetches, so only the cursor (the
    // full-reload fallback) is judged here, since the last start.
    let by_cursor = server.metric(CURSOR).await?;
    println!(
        "firefox session: after 2 cuts, cache = server = view for {}; outbox empty; \
         {by_cursor} messages fetched by cursor since the last start",
        figures.join(", ")
    );
    assert_eq!(by_cursor, 0.0, "messages fetched by cursor");

    firefox.close().await;
    server.stop().await;
    Ok(())
}
