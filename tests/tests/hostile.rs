//! The hostile corpus (`chat_sync::hostile_corpus`) end to end, in real headless Chromium
//! against the real server:
//!
//! - a requester sends every send request of the corpus: the server stores the valid ones
//!   byte-exact and refuses the others with the corpus's status and `{error, detail}`,
//!   having written nothing; the agent opens the chat and every body, attachment name and
//!   link shows as text: nothing runs, no markup enters the DOM, no panic, and the cache
//!   equals the server's messages;
//! - the agent's app receives hostile history replies and chat lists (served by CDP
//!   `Fetch` interception in place of the server's, `e2e::intercept`): each is refused,
//!   the cache stays as it was, and the valid replies after them (hostile text in a valid
//!   shape) are cached and shown as text.
//!
//! Refused pushes are `tests/push.rs`'s `a_malformed_or_hostile_push_leaves_the_cache_untouched`,
//! over the same corpus. Evidence of execution comes from `e2e::guard`.

use std::time::{Duration, Instant};

use chat_sync::hostile_corpus::{replies, sends, text, Case};
use chat_sync::protocol::ErrorBody;
use e2e::browser::Page;
use e2e::chat::server_messages;
use e2e::guard::{collect_rows_js, ErrorWatch, EVIDENCE_JS, GUARD_JS};
use e2e::http;
use e2e::intercept::Interceptor;
use e2e::rig::{database_name, Rig};
use e2e::server::Server;
use e2e::{wait_until, HarnessError};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

fn setup(what: impl Into<String>) -> HarnessError {
    HarnessError::Setup(what.into())
}

/// Percent-encodes every byte that is not unreserved (RFC 3986), for a query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Uploads a one-byte file named `name`; returns the reply's status and JSON body.
async fn upload(
    server: &Server,
    cookie: &str,
    name: &str,
    mime: &str,
) -> e2e::Result<(u16, Value)> {
    let path = format!("/api/media?name={}", percent_encode(name));
    let reply = http::send(
        &server.addr,
        "POST",
        &path,
        &[("Cookie", cookie), ("Content-Type", mime)],
        "x",
    )
    .await?;
    let body = serde_json::from_str(&reply.body)
        .map_err(|e| setup(format!("upload of {name:?} answered {}: {e}", reply.body)))?;
    Ok((reply.status, body))
}

/// Asserts a reply is the contract's error: `status`, `{"error": code, "detail": …}`.
fn assert_refused(reply: &http::Response, status: u16, code: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.body);
    let body: ErrorBody = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{case}: not an error body ({e}): {}", reply.body));
    assert_eq!(body.error, code, "{case}: {}", reply.body);
    assert!(!body.detail.trim().is_empty(), "{case}: no detail");
}

/// JS returning every cached message record of the agent's database, by chat, ascending.
fn cache_js(database: &str) -> String {
    format!(
        r#"(async () => {{
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open({database:?}); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  const get = (rq) => new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  try {{
    const tx = db.transaction(['chats', 'messages'], 'readonly');
    const records = await get(tx.objectStore('messages').getAll());
    const chats = await get(tx.objectStore('chats').getAll());
    const byChat = {{}};
    for (const m of records) (byChat[m.request_id] ??= []).push(m);
    for (const list of Object.values(byChat)) list.sort((a, b) => a.seq - b.seq);
    return {{ messages: byChat, chats }};
  }} finally {{ db.close(); }}
}})()"#
    )
}

/// Asserts every chat's cached messages are the server's messages of those seqs, field for
/// field (nothing changed, nothing invented), and returns the cache by chat.
async fn assert_cache_is_the_servers(
    rig: &Rig,
    page: &Page<'_>,
    agent: &str,
) -> e2e::Result<Value> {
    let cache = page
        .evaluate(&cache_js(&database_name(&rig.user_id)))
        .await?;
    let chats = cache["messages"].as_object().cloned().unwrap_or_default();
    for (chat, cached) in &chats {
        let server = server_messages(&rig.server, agent, chat).await?;
        for record in cached.as_array().into_iter().flatten() {
            let seq = record["seq"].as_u64().unwrap_or(0);
            let expected = server.get(seq.saturating_sub(1) as usize);
            assert_eq!(
                Some(record),
                expected,
                "cached {chat} {seq} differs from the server's"
            );
        }
    }
    Ok(cache)
}

/// Asserts the guard and the error watch saw nothing execute and nothing panic.
async fn assert_nothing_ran(page: &Page<'_>, watch: &ErrorWatch) -> e2e::Result<()> {
    let evidence = page.evaluate(EVIDENCE_JS).await?;
    for key in ["pwned", "dialogs", "csp", "dom"] {
        assert_eq!(evidence[key], json!([]), "{key}: {evidence}");
    }
    let seen = watch.seen();
    assert!(
        seen.failures.is_empty(),
        "exceptions or panics: {:#?}",
        seen.failures
    );
    assert!(
        seen.dialogs.is_empty(),
        "dialogs opened: {:#?}",
        seen.dialogs
    );
    Ok(())
}

/// An app page with the guard installed before any script, the worker's console watched.
async fn guarded_app<'a>(rig: &'a Rig, path: &str) -> e2e::Result<Page<'a>> {
    let page = rig.browser.new_page("about:blank").await?;
    page.set_window(1200, 2400).await?;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": GUARD_JS }),
    )
    .await?;
    page.navigate(&rig.server.url(path)).await?;
    page.wait_for(
        "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'",
        WAIT,
    )
    .await?;
    // The worker's own console: a panic there is as much a failure as one in the page.
    let worker = rig.worker_session().await?;
    rig.browser
        .cdp
        .call("Runtime.enable", json!({}), Some(&worker))
        .await?;
    Ok(page)
}

/// A send with attachments, as the corpus's send requests are written.
fn send_with(request_id: &str, key: &str, body: &str, attachments: &[Value]) -> String {
    json!({ "request_id": request_id, "client_temp_id": key, "body": body, "attachments": attachments })
        .to_string()
}

#[tokio::test]
async fn hostile_sends_are_refused_cleanly_or_stored_and_shown_as_text() -> e2e::Result<()> {
    const CHAT: &str = "REQ-1003";
    let started = Instant::now();
    let rig = Rig::start("hostile-sends").await?;
    let watch = ErrorWatch::start(&rig.browser.cdp);
    let requester = http::login(&rig.server.addr, "requester3", "demo").await?;
    let agent = http::login(&rig.server.addr, "alice", "demo").await?;
    let seeded = server_messages(&rig.server, &agent, CHAT).await?.len();

    // Hostile file names are the file's name; refused ones are the contract's 400.
    let mut attachments = Vec::new();
    for (i, name) in text::attachment_names().iter().enumerate() {
        let mime = if i == 0 { "image/png" } else { "text/plain" };
        let (status, attachment) = upload(&rig.server, &requester, &name.text, mime).await?;
        assert_eq!(status, 201, "{}: {attachment}", name.name);
        assert_eq!(attachment["name"], name.text.as_str(), "{}", name.name);
        attachments.push(attachment);
    }
    for name in text::refused_attachment_names() {
        let path = format!("/api/media?name={}", percent_encode(&name.text));
        let reply = http::send(
            &rig.server.addr,
            "POST",
            &path,
            &[("Cookie", &requester)],
            "x",
        )
        .await?;
        assert_refused(&reply, 400, "bad_request", name.name);
    }

    // Every send of the corpus, then blank bodies beside attachments, which make a message.
    let mut cases = sends::send_requests(CHAT);
    for (i, body) in [
        "",
        " \n\t ",
        "<img src=x onerror=window.__pwned='att-body'>",
    ]
    .into_iter()
    .enumerate()
    {
        let split = attachments.len() / 3;
        let share = &attachments[i * split..if i == 2 {
            attachments.len()
        } else {
            (i + 1) * split
        }];
        cases.push(sends::SendCase {
            name: format!("attachments with body {body:?}"),
            json: send_with(CHAT, &format!("hostile-attachments-{i}"), body, share),
            refusal: None,
            body: Some(body.to_owned()),
        });
    }
    let (mut stored, mut refused) = (0, 0);
    for case in &cases {
        let reply = http::post_json(
            &rig.server.addr,
            "/api/chat/messages",
            Some(&requester),
            &case.json,
        )
        .await?;
        match (&case.refusal, &case.body) {
            (Some(refusal), _) => {
                assert_refused(&reply, refusal.status, refusal.error, &case.name);
                refused += 1;
            }
            (None, Some(body)) => {
                assert_eq!(reply.status, 201, "{}: {}", case.name, reply.body);
                let message: Value = serde_json::from_str(&reply.body)
                    .map_err(|e| setup(format!("{}: {e}", case.name)))?;
                assert_eq!(message["body"], body.as_str(), "{}", case.name);
                stored += 1;
                assert_eq!(
                    message["seq"],
                    (seeded + stored) as u64,
                    "{}: a refused send used a seq",
                    case.name
                );
            }
            (None, None) => return Err(setup(format!("{}: no body", case.name))),
        }
    }
    // Nothing half-written: the server holds the seeded messages and the stored ones.
    let server = server_messages(&rig.server, &agent, CHAT).await?;
    assert_eq!(server.len(), seeded + stored);
    let last = server.len() as u64;

    // The agent opens the chat and reads all of it.
    let page = guarded_app(&rig, &format!("/chat/{CHAT}")).await?;
    let rows = page.evaluate(&collect_rows_js(last)).await?;
    let mut links = 0;
    for message in &server {
        let seq = message["seq"].as_u64().unwrap_or(0);
        let row = &rows[seq.to_string()];
        assert!(row.is_object(), "row {seq} was never shown");
        assert_eq!(
            row["body"], message["body"],
            "row {seq} shows its body as text"
        );
        assert_eq!(row["foreign"], json!([]), "row {seq} holds markup");
        for href in row["links"].as_array().into_iter().flatten() {
            let href = href.as_str().unwrap_or_default();
            assert!(
                href.starts_with("https://")
                    || href.starts_with("http://")
                    || href.starts_with("/api/media/"),
                "row {seq} links to {href:?}"
            );
            links += 1;
        }
        for (i, attachment) in message["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = attachment["name"].as_str().unwrap_or_default();
            if attachment["mime"] == "image/png" {
                assert!(
                    row["alts"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|alt| alt == name)),
                    "row {seq}: {row}"
                );
            } else {
                let chips = row["chips"].as_array().cloned().unwrap_or_default();
                let downloads = row["downloads"].as_array().cloned().unwrap_or_default();
                let shown = chips.iter().any(|c| {
                    c.as_str()
                        .is_some_and(|c| c.starts_with(&format!("📎 {name} · ")))
                });
                assert!(shown, "row {seq} attachment {i}: {row}");
                assert!(
                    downloads.iter().any(|d| d == name),
                    "row {seq} attachment {i}: {row}"
                );
            }
        }
    }
    assert_nothing_ran(&page, &watch).await?;

    // The cache holds exactly the server's messages of the chat, and nothing else changed.
    let cache = assert_cache_is_the_servers(&rig, &page, &agent).await?;
    assert_eq!(
        cache["messages"][CHAT],
        json!(server),
        "the chat's cache is the server's chat"
    );
    println!(
        "hostile sends: {} requests ({stored} stored byte-exact, {refused} refused with the \
         contract's error), {} attachment names kept, {} refused; {last} rows read as text, \
         {links} links all http(s) or media; {} warnings logged; {:.1} s",
        cases.len(),
        attachments.len(),
        text::refused_attachment_names().len(),
        watch.seen().warnings.len(),
        started.elapsed().as_secs_f64()
    );
    page.close().await?;
    rig.stop().await;
    Ok(())
}

/// The chat's cached messages and record, read on `page`.
async fn cached_chat(rig: &Rig, page: &Page<'_>, chat: &str) -> e2e::Result<(Vec<Value>, Value)> {
    let cache = page
        .evaluate(&cache_js(&database_name(&rig.user_id)))
        .await?;
    let messages = cache["messages"][chat]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let record = cache["chats"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["request_id"] == chat)
        .cloned()
        .unwrap_or(Value::Null);
    Ok((messages, record))
}

#[tokio::test]
async fn hostile_replies_are_refused_and_the_cache_stays_as_it_was() -> e2e::Result<()> {
    const CHAT: &str = "REQ-1005";
    const RANGE_KEY: &str = "request_id=REQ-1005&from_seq=9&to_seq=11";
    const LIST_KEY: &str = "/api/chat/requests";
    let started = Instant::now();
    let rig = Rig::start("hostile-replies").await?;
    let watch = ErrorWatch::start(&rig.browser.cdp);
    let agent = http::login(&rig.server.addr, "alice", "demo").await?;
    let requester = http::login(&rig.server.addr, "requester5", "demo").await?;

    // A first visit caches the chat's eight messages; three more arrive while it is closed.
    let page = guarded_app(&rig, &format!("/chat/{CHAT}")).await?;
    page.wait_for(
        "document.querySelectorAll('[data-testid=message]').length === 8",
        WAIT,
    )
    .await?;
    page.close().await?;
    for body in text::markup().iter().take(3) {
        e2e::rig::post_as(&rig.server, &requester, CHAT, &body.text).await?;
    }
    let server = server_messages(&rig.server, &agent, CHAT).await?;
    assert_eq!(server.len(), 11);
    let good: Vec<chat_sync::Message> = server[8..]
        .iter()
        .map(|m| serde_json::from_value(m.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| setup(format!("a stored message: {e}")))?;

    // Every refused history reply for 9..=11, then a valid one with markup in its bodies and
    // sender names; every refused chat list of a chosen set, then one with markup in titles,
    // requester names and previews.
    let page_cases = replies::page_replies(&good, 9, 11);
    let accepted_page = page_cases
        .iter()
        .find(|c| c.name == "markup in bodies and names")
        .cloned()
        .ok_or_else(|| setup("the corpus lost its markup page"))?;
    let mut pages: Vec<Case> = page_cases.into_iter().filter(|c| !c.accepted).collect();
    let refused_pages = pages.len();
    pages.push(accepted_page.clone());
    let list: chat_sync::protocol::ChatList = serde_json::from_str(
        &http::send(&rig.server.addr, "GET", LIST_KEY, &[("Cookie", &agent)], "")
            .await?
            .body,
    )
    .map_err(|e| setup(format!("chat list: {e}")))?;
    let chosen = [
        "last_seq u64::MAX",
        "last_seq 2^53",
        "last_seq u64::MAX + 1",
        "last_seq -1",
        "request id empty",
        "request id with NUL",
        "a chat listed twice",
        "lone-high in /requests/0/title",
        "deep nesting in a title",
        "malformed: html",
    ];
    let list_cases = replies::chat_list_replies(&list);
    let mut lists: Vec<Case> = list_cases
        .iter()
        .filter(|c| !c.accepted && chosen.contains(&c.name.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        lists.len(),
        chosen.len(),
        "the corpus renamed a chosen chat list"
    );
    let refused_lists = lists.len();
    let hostile_list = list_cases
        .into_iter()
        .find(|c| c.name == "markup in titles, names and previews")
        .ok_or_else(|| setup("the corpus lost its markup list"))?;
    lists.push(hostile_list.clone());
    // Chat lists are served only once the history phase is over.
    let interceptor = Interceptor::new();
    interceptor.add(RANGE_KEY, pages, false);

    let page = rig.browser.new_page("about:blank").await?;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": GUARD_JS }),
    )
    .await?;
    let events = rig.browser.cdp.events();
    page.call(
        "Fetch.enable",
        json!({ "patterns": [
            { "urlPattern": "*/api/chat/messages*", "requestStage": "Request" },
            { "urlPattern": "*/api/chat/requests*", "requestStage": "Request" },
        ] }),
    )
    .await?;
    let steps = async {
        page.navigate(&rig.server.url(&format!("/chat/{CHAT}")))
            .await?;
        // Each refused reply fails the fetch; resync asks again at once (no backoff).
        let mut checked = 0;
        let deadline = Instant::now() + Duration::from_secs(240);
        while interceptor.left(RANGE_KEY) > 0 || checked < interceptor.served(RANGE_KEY).len() {
            let served = interceptor.served(RANGE_KEY);
            if checked < served.len() && checked < refused_pages {
                // Give the app the moment it needs to validate and refuse the reply.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let (messages, record) = cached_chat(&rig, &page, CHAT).await?;
                assert_eq!(
                    messages,
                    server[..8].to_vec(),
                    "after {:?}",
                    served[checked]
                );
                assert_eq!(
                    record["message_count"], 8,
                    "after {:?}: {record}",
                    served[checked]
                );
                assert!(
                    watch.seen().failures.is_empty(),
                    "after {:?}: {:#?}",
                    served[checked],
                    watch.seen().failures
                );
                checked += 1;
                continue;
            }
            if checked >= refused_pages && interceptor.left(RANGE_KEY) == 0 {
                break;
            }
            page.evaluate(
                "(() => { const b = document.querySelector('[data-testid=resync]');
                          if (b && !b.disabled) b.click(); })()",
            )
            .await?;
            if Instant::now() > deadline {
                return Err(HarnessError::Timeout {
                    what: format!("history replies ({} served)", served.len()),
                    seconds: 240.0,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The valid reply after them is cached as served and shown as text.
        let served_page: chat_sync::protocol::MessagesPage =
            serde_json::from_str(&accepted_page.json)
                .map_err(|e| setup(format!("the markup page: {e}")))?;
        let expected: Vec<Value> = server[..8]
            .iter()
            .cloned()
            .chain(
                served_page
                    .messages
                    .iter()
                    .map(|m| serde_json::to_value(m).unwrap_or_default()),
            )
            .collect();
        wait_until("the markup page in the cache", WAIT, || async {
            let (messages, _) = cached_chat(&rig, &page, CHAT).await?;
            Ok((messages == expected).then_some(()))
        })
        .await?;
        let rows = page.evaluate(&collect_rows_js(11)).await?;
        for message in &served_page.messages {
            let row = &rows[message.seq.to_string()];
            assert_eq!(
                row["body"],
                message.body.as_str(),
                "row {}: {row}",
                message.seq
            );
            if !row["sender"].is_null() {
                assert_eq!(
                    row["sender"],
                    message.sender.name.as_str(),
                    "row {}",
                    message.seq
                );
            }
            assert_eq!(row["foreign"], json!([]), "row {}", message.seq);
        }
        assert_nothing_ran(&page, &watch).await?;

        // Chat lists: each refused list leaves every record as it was; a page load fetches one.
        let (_, record_before) = cached_chat(&rig, &page, CHAT).await?;
        let ids = |cache: &Value| -> Vec<String> {
            let mut ids: Vec<String> = cache["chats"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["request_id"].as_str().map(str::to_owned))
                .collect();
            ids.sort();
            ids
        };
        let chats_before = ids(&page
            .evaluate(&cache_js(&database_name(&rig.user_id)))
            .await?);
        interceptor.add(LIST_KEY, lists, true);
        loop {
            let before = interceptor.served(LIST_KEY).len();
            page.navigate(&rig.server.url(&format!("/chat/{CHAT}")))
                .await?;
            wait_until("a chat list fetch", WAIT, || async {
                Ok((interceptor.served(LIST_KEY).len() > before).then_some(()))
            })
            .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            if interceptor.served(LIST_KEY).len() > refused_lists {
                // The valid list is in: what it changes is checked below.
                break;
            }
            let case = interceptor.served(LIST_KEY).pop().unwrap_or_default();
            let cache = page
                .evaluate(&cache_js(&database_name(&rig.user_id)))
                .await?;
            assert_eq!(
                ids(&cache),
                chats_before,
                "{case} made or dropped a chat record"
            );
            let (_, record) = cached_chat(&rig, &page, CHAT).await?;
            for key in [
                "backend_last_seq",
                "backend_last_seq_known",
                "title",
                "held",
                "message_count",
            ] {
                assert_eq!(
                    record[key], record_before[key],
                    "{case} changed {key}: {record_before} became {record}"
                );
            }
            assert_nothing_ran(&page, &watch).await?;
        }
        // The valid list with markup: titles, requester names and previews are shown as text.
        let hostile: chat_sync::protocol::ChatList = serde_json::from_str(&hostile_list.json)
            .map_err(|e| setup(format!("the markup list: {e}")))?;
        for summary in &hostile.requests {
            let shown = page
                .wait_for(
                    &format!(
                        "(() => {{ const i = document.querySelector('[data-testid=chat-item][data-request-id={:?}]');
                                   const t = i?.querySelector('.chat-item__title')?.textContent;
                                   return t === {} && {{ title: t,
                                     requester: i.querySelector('.chat-item__requester')?.textContent }}; }})()",
                        summary.request_id.as_str(),
                        Value::from(summary.title.as_str())
                    ),
                    WAIT,
                )
                .await?;
            assert_eq!(shown["requester"], summary.requester.name.as_str());
        }
        assert_nothing_ran(&page, &watch).await?;
        e2e::Result::Ok(())
    };
    let result = tokio::select! {
        result = steps => result,
        () = interceptor.run(&page, events) => Err(setup("the devtools connection closed")),
    };
    result?;
    println!(
        "hostile replies: {refused_pages} refused history replies and {refused_lists} refused chat \
         lists left the cache as it was; the valid reply and list with markup after them were \
         cached and shown as text; {} warnings logged; {:.1} s",
        watch.seen().warnings.len(),
        started.elapsed().as_secs_f64()
    );
    page.close().await?;
    rig.stop().await;
    Ok(())
}

/// The evidence is not vacuous: markup injected into a page the way a broken view would
/// inject it is seen by every channel of the guard (the CSP blocks the inline handler and
/// script, the guard still records them), and an exception and a panic message are seen by
/// the error watch.
#[tokio::test]
async fn the_guard_and_the_watch_see_what_the_hostile_suite_must_never_see() -> e2e::Result<()> {
    let dir = e2e::browser::scratch_dir("hostile-guard");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = e2e::browser::Browser::launch(&dir.join("profile")).await?;
    let watch = ErrorWatch::start(&browser.cdp);
    let page = browser.new_page("about:blank").await?;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": GUARD_JS }),
    )
    .await?;
    page.navigate(&server.url("/")).await?;
    page.evaluate(
        r#"(() => {
  const row = document.createElement('div');
  row.innerHTML = `<img src=x onerror="window.__pwned='img'"><script>window.__pwned='script'</script><a href="javascript:void(0)">x</a>`;
  document.body.append(row);
  window.__pwned = 'direct';
  alert('dialog');
  console.error('panicked at the guard self-test (expected): boom');
  setTimeout(() => { throw new Error('uncaught boom from the guard self-test (expected)'); });
})()"#,
    )
    .await?;
    let evidence = wait_until("the guard's record", WAIT, || async {
        let evidence = page.evaluate(EVIDENCE_JS).await?;
        let full = ["pwned", "dialogs", "csp", "dom"]
            .iter()
            .all(|k| evidence[k].as_array().is_some_and(|l| !l.is_empty()));
        Ok(full.then_some(evidence))
    })
    .await?;
    assert_eq!(
        evidence["pwned"],
        json!(["direct"]),
        "the CSP kept the handler from running: {evidence}"
    );
    let dom = evidence["dom"].to_string();
    assert!(
        dom.contains("img[onerror")
            && dom.contains("<script>")
            && dom.contains("a[href=javascript:"),
        "{dom}"
    );
    let seen = wait_until("the watch's record", WAIT, || async {
        let seen = watch.seen();
        Ok((seen.failures.len() >= 2).then_some(seen))
    })
    .await?;
    let failures = seen.failures.join("\n");
    assert!(
        failures.contains("panicked") && failures.contains("uncaught boom"),
        "{failures}"
    );
    browser.close().await;
    server.stop().await;
    Ok(())
}
