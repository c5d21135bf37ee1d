//! Attacks on the agent, end to end in real headless Chromium against the real server (part
//! of the hostile suite; `tests/hostile.rs` covers hostile text and replies):
//!
//! - a requester uploads a script, an HTML page that loads it, an SVG with script and HTML
//!   claiming to be a PNG, and posts links to them: the agent opening each link (first from
//!   the network, then from the service worker's media cache) runs nothing, nothing is
//!   exfiltrated, and the cached replies keep the server's inert headers;
//! - signing out with three tabs open ends everything: every tab shows sign-in, no event
//!   stream stays open at the server, no context re-creates the wiped database, and no
//!   draft is left in `localStorage`;
//! - after a session change on a shared machine, a push addressed to the previous agent
//!   stores and shows nothing, while the new agent's pushes are kept;
//! - a file cached for one agent is never served to the next agent of the same browser:
//!   after alice's session ends without a sign-out and bob signs in, asking for a file of
//!   alice's chat reaches the server and is refused, through the service worker (which
//!   answers only from the signed-in agent's own media cache) and around it (the browser's
//!   HTTP cache holds no copy, since media replies are `no-store`);
//! - a page of another origin on the same site (another port of the same host), which the
//!   `SameSite=Strict` cookie does not stop, can neither upload a file as the agent nor sign
//!   them out with a "simple" cross-origin `POST`;
//! - a requester's links cannot pose as somewhere else: a right-to-left override, a
//!   look-alike Cyrillic host and user info before the real host are all shown for what
//!   they are, each link's text being exactly where it goes;
//! - a desk tab of the previous agent that was away (offline) while her session ended and
//!   another agent signed in never syncs with the new agent's cookie: nothing the server
//!   answers him lands in her cache, and the tab leaves her desk;
//! - nothing of the agent is in the browser's HTTP cache, while she works or after she signs
//!   out: API replies are `no-store` and the sign-out's reply clears the origin's cache;
//! - signing out closes the notifications, which quote the agent's customers and which the
//!   system would otherwise keep showing to whoever uses the machine next;
//! - a sign-out made offline (which cannot end the session: the cookie is `HttpOnly`) is
//!   finished by the first push or page once the network is back, and meanwhile no page
//!   resumes the session and no push re-creates the wiped cache;
//! - "Sign out" in a tab the previous agent left open ends nothing of the next agent's: his
//!   tabs keep his desk, and his session stays alive at the server;
//! - push endpoints on loopback or private addresses are refused with a clear 400, even with
//!   the test flag that allows the suites' own loopback receiver;
//! - a requester who posts first with the `client_temp_id` of the agent's unsent message
//!   neither deletes it from the agent's outbox (as if it were its echo) nor makes the
//!   server answer the agent's send as a repeat of the requester's message: it is sent.

use std::time::Duration;

use e2e::browser::Page;
use e2e::chat::{
    chat_list, count_js, database_name, media_cache_name, post_as, send_json, server_messages,
    sign_in_ui, type_and_send,
};
use e2e::guard::{EVIDENCE_JS, GUARD_JS};
use e2e::http;
use e2e::rig::{message_payload, Rig};
use e2e::server::Server;
use e2e::{wait_until, HarnessError};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// Successful uploads, as the server counts them: an exfiltrating script would add one.
const UPLOADS: &str = "http_requests_total{route=\"/api/media\",status=\"201\"}";

fn setup(what: impl Into<String>) -> HarnessError {
    HarnessError::Setup(what.into())
}

/// Uploads `body` as `mime` named `name` with the requester's session; returns the
/// attachment the server describes.
async fn upload(
    server: &Server,
    cookie: &str,
    name: &str,
    mime: &str,
    body: &str,
) -> e2e::Result<Value> {
    let reply = http::send(
        &server.addr,
        "POST",
        &format!("/api/media?name={name}"),
        &[("Cookie", cookie), ("Content-Type", mime)],
        body,
    )
    .await?;
    if reply.status != 201 {
        return Err(setup(format!(
            "upload of {name}: {} {}",
            reply.status, reply.body
        )));
    }
    serde_json::from_str(&reply.body).map_err(|e| setup(e.to_string()))
}

/// requester1 uploads `text` as a file named `name` and attaches it in alice's chat
/// (REQ-1001) with the message `body` (key `key`); returns the file's media id.
async fn requester_attaches(
    server: &Server,
    name: &str,
    text: &str,
    key: &str,
    body: &str,
) -> e2e::Result<String> {
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let file = upload(server, &requester, name, "text/plain", text).await?;
    let media_id = file["media_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| setup(format!("no media id: {file}")))?;
    let send = json!({
        "request_id": "REQ-1001",
        "client_temp_id": key,
        "body": body,
        "attachments": [file],
    });
    let reply = send_json(server, &requester, &send).await?;
    if reply.status != 201 {
        return Err(setup(format!(
            "the message: {} {}",
            reply.status, reply.body
        )));
    }
    Ok(media_id)
}

/// Navigates `page` to `url` without waiting for a load event (a download never fires one)
/// and returns the navigation's error text, if any.
async fn open_link(page: &Page<'_>, url: &str) -> e2e::Result<Option<String>> {
    let reply = page.call("Page.navigate", json!({ "url": url })).await?;
    // Whatever the document would do, it has done well within this (the exfiltrating
    // script below needs two local requests).
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(reply["errorText"].as_str().map(str::to_owned))
}

/// A requester's files that would run script on the agent's origin if any were rendered as
/// a document: the script steals the agent's chat list by uploading it as the agent.
#[tokio::test]
async fn uploaded_scripts_pages_and_svgs_never_run_when_the_agent_opens_them() -> e2e::Result<()> {
    let rig = Rig::start("attack-media").await?;
    let server = &rig.server;
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let steal = "window.__pwned = 'script'; document.title = 'pwned'; \
        fetch('/api/chat/requests').then(r => r.text()).then(t => \
        fetch('/api/media?name=stolen', { method: 'POST', body: t }));";
    let js = upload(server, &requester, "steal.js", "text/javascript", steal).await?;
    let js_id = js["media_id"].as_str().unwrap_or_default().to_owned();
    let page = format!(
        "<!doctype html><title>invoice</title><script src=\"/api/media/{js_id}\"></script>\
         <script>window.__pwned = 'inline'; document.title = 'pwned';</script>"
    );
    let html = upload(server, &requester, "invoice.html", "text/html", &page).await?;
    let svg = upload(
        server,
        &requester,
        "logo.svg",
        "image/svg+xml",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned='svg onload'\">\
         <script>window.__pwned = 'svg'; document.title = 'pwned';</script></svg>",
    )
    .await?;
    let fake_png = upload(
        server,
        &requester,
        "photo.png",
        "image/png",
        "<html><script>window.__pwned = 'png'; document.title = 'pwned';</script></html>",
    )
    .await?;
    let files = [
        ("html", html),
        ("script", js),
        ("svg", svg),
        ("html as png", fake_png),
    ];
    let links: Vec<(&str, String)> = files
        .iter()
        .map(|(what, a)| (*what, a["media_id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    // The requester attaches the files in the chat and posts links to them, as an attacker
    // would: the agent may read them (they were posted in her chat).
    let text = links
        .iter()
        .map(|(what, id)| format!("{what}: {}", server.url(&format!("/api/media/{id}"))))
        .collect::<Vec<_>>()
        .join("\n");
    let send = json!({
        "request_id": "REQ-1001",
        "client_temp_id": "attack-links",
        "body": text,
        "attachments": files.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>(),
    });
    let reply = send_json(server, &requester, &send).await?;
    if reply.status != 201 {
        return Err(setup(format!(
            "the attack message: {} {}",
            reply.status, reply.body
        )));
    }

    let uploads_before = rig.metric(UPLOADS).await?;
    rig.browser
        .cdp
        .call(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "deny" }),
            None,
        )
        .await?;
    let tab = rig.browser.new_page("about:blank").await?;
    tab.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": GUARD_JS }),
    )
    .await?;
    // Twice: the first visit goes to the network and fills the worker's media cache, the
    // second is answered from that cache.
    for visit in ["network", "media cache"] {
        for (what, id) in &links {
            let url = server.url(&format!("/api/media/{id}"));
            let error = open_link(&tab, &url).await?;
            let seen = tab
                .evaluate(&format!(
                    "({{ href: location.href, title: document.title, evidence: {EVIDENCE_JS} }})"
                ))
                .await?;
            eprintln!("{visit}: {what}: navigation error {error:?}, page {seen}");
            assert_ne!(seen["title"], "pwned", "{visit}: {what} ran: {seen}");
            for record in ["pwned", "dialogs", "dom"] {
                let found = seen["evidence"][record].as_array().map_or(0, Vec::len);
                assert_eq!(found, 0, "{visit}: {what} left {record} evidence: {seen}");
            }
            tab.call("Page.navigate", json!({ "url": "about:blank" }))
                .await?;
        }
    }
    assert_eq!(
        rig.metric(UPLOADS).await? - uploads_before,
        0.0,
        "a script uploaded what it stole"
    );

    // The worker's cache holds each file with the server's inert headers.
    let observer = rig.observer().await?;
    let cache = media_cache_name(&rig.user_id);
    for (what, id) in &links {
        let headers = observer
            .evaluate(&format!(
                "caches.open({cache:?}).then(c => c.match('/api/media/{id}'))
                   .then(r => r ? Object.fromEntries(r.headers.entries()) : null)"
            ))
            .await?;
        eprintln!("cached {what}: {headers}");
        assert!(
            headers.is_object(),
            "{what} was not cached through the worker"
        );
        assert_eq!(
            headers["x-content-type-options"], "nosniff",
            "{what}: {headers}"
        );
        let policy = headers["content-security-policy"]
            .as_str()
            .unwrap_or_default();
        assert!(policy.contains("sandbox"), "{what}: {headers}");
        let disposition = headers["content-disposition"].as_str().unwrap_or_default();
        assert!(
            disposition.starts_with("attachment"),
            "{what} is not a download: {headers}"
        );
        assert_eq!(
            headers["content-type"], "application/octet-stream",
            "{what}: {headers}"
        );
        let cache = headers["cache-control"].as_str().unwrap_or_default();
        assert!(
            cache.contains("private") && !cache.contains("public"),
            "{what}: {headers}"
        );
    }
    observer.close().await?;
    tab.close().await?;
    rig.stop().await;
    Ok(())
}

/// Alice's media cache and the browser's HTTP cache both hold a file of her chat when her
/// session ends without a sign-out (it expired, or ended in another browser): neither may
/// answer bob, who signs in next on the same browser and may not read it.
#[tokio::test]
async fn a_file_cached_for_one_agent_is_never_served_to_the_next() -> e2e::Result<()> {
    let rig = Rig::start("attack-media-owner").await?;
    let server = &rig.server;
    let media_id = requester_attaches(
        server,
        "passport.txt",
        "passport number X1234567",
        "attack-passport",
        "my passport, as asked",
    )
    .await?;
    let fetch_status = format!("fetch('/api/media/{media_id}').then(r => r.status)");
    const CONTROLLED: &str = "navigator.serviceWorker.controller !== null";

    // Alice opens the file from her desk: the worker caches it, the browser too.
    let desk = rig.browser.new_page(&server.url("/")).await?;
    desk.wait_for(
        &format!("document.querySelector('[data-testid=logout]') !== null && {CONTROLLED}"),
        WAIT,
    )
    .await?;
    assert_eq!(desk.evaluate(&fetch_status).await?, 200, "alice reads it");
    let in_alices_cache = format!(
        "caches.open({:?}).then(c => c.match('/api/media/{media_id}')).then(r => !!r)",
        media_cache_name(&rig.user_id)
    );
    desk.wait_for(&in_alices_cache, WAIT).await?;

    // Her session ends at the server, not through the app's sign-out: nothing is wiped.
    let ended = desk
        .evaluate("fetch('/api/auth/logout', { method: 'POST' }).then(r => r.status)")
        .await?;
    assert_eq!(ended, 204);
    desk.close().await?;

    // Bob signs in on the same browser.
    let tab = rig.browser.new_page(&server.url("/")).await?;
    sign_in_ui(&tab, "bob", "demo").await?;
    tab.wait_for(CONTROLLED, WAIT).await?;
    let bob = http::login(&server.addr, "bob", "demo").await?;
    let at_server = http::send(
        &server.addr,
        "GET",
        &format!("/api/media/{media_id}"),
        &[("Cookie", bob.as_str())],
        "",
    )
    .await?;
    assert_eq!(
        at_server.status, 404,
        "the server lets bob read alice's file"
    );

    // Around the service worker first: not from the browser's HTTP cache. (Asked second,
    // it would find the entry already replaced by the worker's revalidated 404.)
    tab.call("Network.enable", json!({})).await?;
    tab.call("Network.setBypassServiceWorker", json!({ "bypass": true }))
        .await?;
    let around_worker = tab.evaluate(&fetch_status).await?;
    assert_eq!(
        around_worker, 404,
        "the browser's HTTP cache served bob alice's copy"
    );
    tab.call("Network.setBypassServiceWorker", json!({ "bypass": false }))
        .await?;
    // Through the service worker: not from alice's media cache.
    let through_worker = tab.evaluate(&fetch_status).await?;
    assert_eq!(
        through_worker, 404,
        "the service worker served bob a file of alice's cache"
    );
    // Alice's copy was never served to anyone else, and it goes once bob is confirmed: she
    // left nothing unsent (see the_next_agent_signing_in_removes_what_the_previous_left).
    let observer = rig.observer().await?;
    let alices_cache_gone = format!(
        "caches.has({:?}).then(has => !has)",
        media_cache_name(&rig.user_id)
    );
    observer.wait_for(&alices_cache_gone, WAIT).await?;
    observer.close().await?;
    tab.close().await?;
    rig.stop().await;
    Ok(())
}

/// Serves `html` to every request, on a port of its own: another origin of the same site as
/// the server (same host, another port), which `SameSite` cookies do not tell apart.
async fn serve_page(html: String) -> e2e::Result<(String, tokio::task::JoinHandle<()>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| setup(format!("bind the attacker's site: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| setup(format!("the attacker's address: {e}")))?;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok((format!("http://{addr}/"), task))
}

/// Another local web app on the agent's machine (here: another port of the server's host)
/// posts to the desk's API with the agent's cookie, which `SameSite=Strict` lets through
/// (ports do not make another site). It cannot send JSON without a preflight, but a "simple"
/// `text/plain` `POST` can upload a file as the agent and sign them out. Both are refused:
/// the server takes writes only from its own origin (`Sec-Fetch-Site`, else `Origin`).
#[tokio::test]
async fn another_origin_on_the_same_site_cannot_write_with_the_agents_cookie() -> e2e::Result<()> {
    let rig = Rig::start("attack-cross-origin").await?;
    let server = &rig.server;
    let target = server.url("");
    let target = target.trim_end_matches('/');
    let attack = format!(
        r#"<!doctype html><title>cat pictures</title><script>
window.__done = (async () => {{
  const out = {{}};
  for (const [name, path] of [['upload', '/api/media?name=planted.txt'], ['logout', '/api/auth/logout']]) {{
    try {{
      const r = await fetch('{target}' + path, {{ method: 'POST', mode: 'no-cors',
        credentials: 'include', headers: {{ 'Content-Type': 'text/plain' }},
        body: 'planted by another origin' }});
      out[name] = r.type;
    }} catch (e) {{ out[name] = String(e); }}
  }}
  return out;
}})();
</script>"#
    );
    let (site, task) = serve_page(attack).await?;
    let uploads_before = rig.metric(UPLOADS).await?;
    let refused_before = rig
        .metric("http_requests_total{route=\"/api/media\",status=\"403\"}")
        .await?;
    let page = rig.browser.new_page(&site).await?;
    let sent = page.wait_for("window.__done", WAIT).await?;
    eprintln!("the attacker's requests: {sent}");
    page.close().await?;
    task.abort();

    assert_eq!(
        rig.metric(UPLOADS).await? - uploads_before,
        0.0,
        "another origin uploaded a file as the agent"
    );
    assert!(
        rig.metric("http_requests_total{route=\"/api/media\",status=\"403\"}")
            .await?
            > refused_before,
        "the attacker's upload never reached the server: the test proves nothing"
    );
    let desk = rig.browser.new_page(&server.url("/")).await?;
    let me = desk
        .evaluate("fetch('/api/auth/me').then(r => r.status)")
        .await?;
    assert_eq!(me, 200, "another origin signed the agent out");
    // The desk's own writes still pass.
    let own = desk
        .evaluate(
            "fetch('/api/media?name=mine.txt', { method: 'POST',
               headers: { 'Content-Type': 'text/plain' }, body: 'mine' }).then(r => r.status)",
        )
        .await?;
    assert_eq!(own, 201, "the desk's own upload was refused");
    desk.close().await?;
    rig.stop().await;
    Ok(())
}

/// A requester's phishing links, each written to read as somewhere it does not go: the agent
/// sees every link as exactly where it goes (its text is the browser's parse of its target),
/// with no character in it that reorders or hides text, a look-alike host in punycode, and a
/// URL with user info (`https://bank@evil/`, which goes to `evil`) left as plain text.
#[tokio::test]
async fn a_requesters_links_show_exactly_where_they_go() -> e2e::Result<()> {
    let rig = Rig::start("attack-links").await?;
    let server = &rig.server;
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let body = "phishing: https://example.com/\u{202E}fdp.exe and https://p\u{0430}ypal.com/login \
                and https://support.example@evil.example/reset end";
    post_as(server, &requester, "REQ-1001", body).await?;
    let page = rig.browser.new_page(&server.url("/chat/REQ-1001")).await?;
    let row = "[...document.querySelectorAll('[data-testid=message]')]
                 .find(m => m.textContent.includes('phishing:'))";
    page.wait_for(&format!("{row} !== undefined"), WAIT).await?;
    let links = page
        .evaluate(&format!(
            "[...{row}.querySelectorAll('a')].map(a => ({{ text: a.textContent,
                href: a.href, host: new URL(a.href).host }}))"
        ))
        .await?;
    eprintln!("links shown: {links}");
    let links = links.as_array().cloned().unwrap_or_default();
    for link in &links {
        let text = link["text"].as_str().unwrap_or_default();
        assert_eq!(text, link["href"], "a link reads other than where it goes");
        assert!(
            !text.chars().any(|c| c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "a link's text hides or reorders: {text:?}"
        );
        assert_ne!(link["host"], "evil.example", "the user-info link is a link");
    }
    let hosts: Vec<&str> = links.iter().filter_map(|l| l["host"].as_str()).collect();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    assert_eq!(hosts[0], "example.com");
    assert!(
        hosts[1].starts_with("xn--"),
        "the look-alike host is not shown in punycode: {hosts:?}"
    );
    let text = page
        .evaluate(&format!("{row}.querySelector('.msg__body').textContent"))
        .await?;
    assert!(
        text.as_str()
            .unwrap_or_default()
            .contains("https://support.example@evil.example/reset"),
        "the user-info URL is not kept as text: {text}"
    );
    page.close().await?;
    rig.stop().await;
    Ok(())
}

/// JS: whether the database `database` holds a chat record for `request_id`.
fn chat_record_js(database: &str, request_id: &str) -> String {
    format!(
        r#"(async () => {{
  const name = {database:?};
  if (!(await indexedDB.databases()).some(d => d.name === name)) return false;
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  try {{
    const rq = db.transaction('chats').objectStore('chats').get({request_id:?});
    return await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result !== undefined); rq.onerror = () => err(rq.error); }});
  }} finally {{ db.close(); }}
}})()"#
    )
}

/// Alice's desk tab has lost the network when her session ends (it expired, or ended in
/// another browser) and bob signs in in another tab. When her tab is back, every request it
/// makes carries bob's cookie: nothing the server answers bob may land in alice's cache
/// (his chats, or her chats let go of because his list lacks them), and the tab must leave
/// her desk instead of going on as her with his session.
#[tokio::test]
async fn a_tab_of_the_previous_agent_never_syncs_with_the_next_agents_session() -> e2e::Result<()> {
    let rig = Rig::start("attack-stale-tab").await?;
    let server = &rig.server;
    let alice_db = database_name(&rig.user_id);
    let tab = rig.browser.new_page(&server.url("/chat/REQ-1001")).await?;
    tab.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    wait_until("alice's live stream", WAIT, || async {
        Ok((server.metric("sse_clients").await? == 1.0).then_some(()))
    })
    .await?;
    let observer = rig.observer().await?;
    let alices = observer
        .wait_for(
            &format!(
                "{}.then(n => n > 0 ? n : null)",
                count_js(&alice_db, "REQ-1001")
            ),
            WAIT,
        )
        .await?;
    let alice_name = tab
        .evaluate("document.querySelector('.desk__user').textContent")
        .await?;
    // Her cache must outlive bob's sign-in: what matters here is what her tab then writes
    // into it.
    begin_a_reply(&tab).await?;

    rig.browser.emulate_offline(&tab.session_id, true).await?;
    let ended = observer
        .evaluate("fetch('/api/auth/logout', { method: 'POST' }).then(r => r.status)")
        .await?;
    assert_eq!(ended, 204);
    let other = rig.browser.new_page(&server.url("/")).await?;
    sign_in_ui(&other, "bob", "demo").await?;
    other.close().await?;
    let bob = http::login(&server.addr, "bob", "demo").await?;
    let bobs_chat = chat_list(server, &bob).await?[0]["request_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| setup("bob has no chat"))?;
    post_as(server, &bob, &bobs_chat, "bob's note, for bob's eyes").await?;

    // Alice's tab is back.
    rig.browser.emulate_offline(&tab.session_id, false).await?;
    tab.wait_for(
        &format!(
            "(() => {{ const user = document.querySelector('.desk__user');
                       return !user || user.textContent !== {alice_name}; }})()"
        ),
        WAIT,
    )
    .await
    .map_err(|e| {
        setup(format!(
            "alice's tab still shows her desk with bob's session: {e}"
        ))
    })?;
    // Whatever the tab did meanwhile has had time to land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        observer.evaluate(&count_js(&alice_db, &bobs_chat)).await?,
        0,
        "bob's messages landed in alice's cache"
    );
    assert_eq!(
        observer
            .evaluate(&chat_record_js(&alice_db, &bobs_chat))
            .await?,
        false,
        "bob's chat landed in alice's cache"
    );
    assert_eq!(
        observer.evaluate(&count_js(&alice_db, "REQ-1001")).await?,
        alices,
        "alice's cache lost her chat to bob's chat list"
    );
    observer.close().await?;
    tab.close().await?;
    rig.stop().await;
    Ok(())
}

/// JS: the status with which the browser's HTTP cache alone answers `path`
/// (`only-if-cached`: nothing is sent), or 0 when it holds nothing for it.
fn http_cached_status_js(path: &str) -> String {
    format!(
        "fetch({path:?}, {{ cache: 'only-if-cached', mode: 'same-origin' }})
           .then(r => r.status, () => 0)"
    )
}

/// After "Sign out" nothing of the agent may stay in the browser, the HTTP cache included:
/// IndexedDB, Cache Storage and `localStorage` are wiped by the app, but the HTTP cache is
/// the browser's, and a chat list, a page of messages or a customer's file kept there would
/// be on disk for whoever uses the machine next.
#[tokio::test]
async fn signing_out_leaves_nothing_of_the_agent_in_the_browsers_http_cache() -> e2e::Result<()> {
    let rig = Rig::start("attack-http-cache").await?;
    let server = &rig.server;
    let media_id = requester_attaches(
        server,
        "contract.txt",
        "the customer's contract",
        "attack-contract",
        "the contract, as asked",
    )
    .await?;
    let desk = rig.browser.new_page(&server.url("/chat/REQ-1001")).await?;
    desk.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    let paths = [
        "/api/chat/requests".to_owned(),
        "/api/chat/messages?request_id=REQ-1001&from_seq=1&to_seq=50".to_owned(),
        "/api/auth/me".to_owned(),
        format!("/api/media/{media_id}"),
    ];
    // The agent's own reads, as the desk makes them.
    for path in &paths {
        let status = desk
            .evaluate(&format!(
                "fetch({path:?}).then(r => r.text().then(() => r.status))"
            ))
            .await?;
        assert_eq!(status, 200, "{path}");
    }
    // The same reads around the service worker, straight into the HTTP cache.
    desk.call("Network.enable", json!({})).await?;
    desk.call("Network.setBypassServiceWorker", json!({ "bypass": true }))
        .await?;
    for path in &paths {
        desk.evaluate(&format!("fetch({path:?}).then(r => r.text())"))
            .await?;
    }
    // Nothing of it was kept there even while she is signed in (`no-store`): the session
    // may end without a sign-out, and what the HTTP cache holds no sign-out can reach.
    for path in &paths {
        let status = desk.evaluate(&http_cached_status_js(path)).await?;
        assert_eq!(status, 0, "the HTTP cache kept {path}");
    }
    desk.call("Network.setBypassServiceWorker", json!({ "bypass": false }))
        .await?;
    sign_out_ui(&desk).await?;

    let observer = rig.observer().await?;
    observer.call("Network.enable", json!({})).await?;
    observer
        .call("Network.setBypassServiceWorker", json!({ "bypass": true }))
        .await?;
    let mut kept = Vec::new();
    for path in &paths {
        let status = observer.evaluate(&http_cached_status_js(path)).await?;
        eprintln!("after sign-out, the HTTP cache answers {path}: {status}");
        if status != 0 {
            kept.push(format!("{path} ({status})"));
        }
    }
    assert!(
        kept.is_empty(),
        "the browser's HTTP cache still answers after sign-out: {kept:?}"
    );
    observer.close().await?;
    desk.close().await?;
    rig.stop().await;
    Ok(())
}

/// JS: the bodies of the notifications the service worker shows.
const NOTIFICATION_BODIES_JS: &str =
    "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.body))";

/// A pushed message shows a notification quoting the customer; the agent signs out on a
/// shared machine. The notification must go with everything else: the system keeps it in
/// its notification centre, for whoever sits down next.
#[tokio::test]
async fn signing_out_closes_the_notifications_that_quote_customers() -> e2e::Result<()> {
    let rig = Rig::start("attack-notifications").await?;
    rig.grant_notifications().await?;
    let server = &rig.server;
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let secret = post_as(server, &requester, "REQ-1001", "my card number is 4111…").await?;
    let blank = rig.blank().await?;
    rig.deliver(&blank, &message_payload(&secret, &rig.user_id))
        .await?;
    let desk = rig.browser.new_page(&server.url("/")).await?;
    desk.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    let shown = desk
        .wait_for(
            &format!("{NOTIFICATION_BODIES_JS}.then(b => b.length ? b : null)"),
            WAIT,
        )
        .await?;
    assert!(
        shown.to_string().contains("card number"),
        "no notification quoted the customer: {shown}"
    );
    sign_out_ui(&desk).await?;
    let left = desk.evaluate(NOTIFICATION_BODIES_JS).await?;
    assert_eq!(
        left,
        json!([]),
        "notifications quoting the customer outlived the sign-out"
    );
    desk.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

/// The status `/api/auth/me` answers the session cookie `cookie` (`sid=…`) with.
async fn session_status(server: &Server, cookie: &str) -> e2e::Result<u16> {
    Ok(http::send(
        &server.addr,
        "GET",
        "/api/auth/me",
        &[("Cookie", cookie)],
        "",
    )
    .await?
    .status)
}

/// Alice signs out with her tab and the service worker offline: everything local is wiped,
/// but the server never heard, and the browser keeps her live session in an `HttpOnly`
/// cookie no page can delete. Once the network is back, the first push for her must end
/// that session instead of re-creating her wiped cache, and the next person to open the app
/// must see sign-in, not her desk refilled from the server.
#[tokio::test]
async fn a_sign_out_made_offline_ends_the_session_once_the_network_is_back() -> e2e::Result<()> {
    let rig = Rig::start("attack-offline-sign-out").await?;
    let server = &rig.server;
    let alice_db = database_name(&rig.user_id);
    let desk = rig.browser.new_page(&server.url("/")).await?;
    desk.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    let sid = browser_session_cookie(&rig).await?;
    assert_eq!(session_status(server, &sid).await?, 200);

    let worker = rig
        .browser
        .service_worker_session(&server.url("/sw.js"))
        .await?;
    rig.browser.emulate_offline(&desk.session_id, true).await?;
    rig.browser.emulate_offline(&worker, true).await?;
    sign_out_ui(&desk).await?;
    assert_eq!(
        session_status(server, &sid).await?,
        200,
        "the session ended although the browser was offline"
    );
    assert_eq!(
        desk.evaluate(&database_exists_js(&alice_db)).await?,
        false,
        "the offline sign-out did not wipe the cache"
    );

    // The network is back. A push for alice comes before anyone opens the app.
    rig.browser.emulate_offline(&worker, false).await?;
    rig.browser.emulate_offline(&desk.session_id, false).await?;
    desk.close().await?;
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let message = post_as(server, &requester, "REQ-1001", "are you there?").await?;
    let blank = rig.blank().await?;
    rig.deliver(&blank, &message_payload(&message, &rig.user_id))
        .await?;
    wait_until("the session ended by the worker", WAIT, || async {
        Ok((session_status(server, &sid).await? == 401).then_some(()))
    })
    .await
    .map_err(|e| {
        setup(format!(
            "the offline sign-out's session is still alive: {e}"
        ))
    })?;
    let observer = rig.observer().await?;
    assert_eq!(
        observer.evaluate(&database_exists_js(&alice_db)).await?,
        false,
        "the push re-created alice's wiped cache"
    );
    observer.close().await?;

    // Whoever opens the app next sees sign-in.
    let next = rig.browser.new_page(&server.url("/")).await?;
    next.wait_for(SIGN_IN_SHOWN, WAIT).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        next.evaluate("document.querySelector('[data-testid=logout]') === null")
            .await?,
        true,
        "the next person sees alice's desk"
    );
    next.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

/// The browser's session cookie (`sid=…`), read over CDP.
async fn browser_session_cookie(rig: &Rig) -> e2e::Result<String> {
    let cookies = rig
        .browser
        .cdp
        .call("Storage.getCookies", json!({}), None)
        .await?;
    cookies["cookies"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == "sid"))
        .and_then(|c| c["value"].as_str())
        .map(|value| format!("sid={value}"))
        .ok_or_else(|| setup(format!("no session cookie: {cookies}")))
}

/// Alice's desk tab is away (offline) while her session ends and bob signs in in another
/// tab; then she clicks "Sign out" in her old tab. That must end nothing of bob's: his tab
/// keeps his desk (her tab's notice names her, not him), and once the network is back, the
/// sign-out her tab could not send is not taken out on his session.
#[tokio::test]
async fn signing_out_in_the_previous_agents_tab_ends_nothing_of_the_next_agents() -> e2e::Result<()>
{
    let rig = Rig::start("attack-stale-sign-out").await?;
    let server = &rig.server;
    let old = rig.browser.new_page(&server.url("/")).await?;
    old.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    // Her cache, and so her desk, must outlive bob's sign-in for her to sign out in it.
    old.navigate(&server.url("/chat/REQ-1001")).await?;
    begin_a_reply(&old).await?;
    let worker = rig
        .browser
        .service_worker_session(&server.url("/sw.js"))
        .await?;
    rig.browser.emulate_offline(&old.session_id, true).await?;
    let observer = rig.observer().await?;
    let ended = observer
        .evaluate("fetch('/api/auth/logout', { method: 'POST' }).then(r => r.status)")
        .await?;
    assert_eq!(ended, 204);
    observer.close().await?;
    let bobs = rig.browser.new_page(&server.url("/")).await?;
    sign_in_ui(&bobs, "bob", "demo").await?;
    let bob_name = bobs
        .evaluate("document.querySelector('.desk__user').textContent")
        .await?;
    let bob_cookie = browser_session_cookie(&rig).await?;

    // Alice signs out in her old tab, still offline (the worker too, so nothing reaches the
    // server before the network is back).
    rig.browser.emulate_offline(&worker, true).await?;
    sign_out_ui(&old).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        bobs.evaluate(&format!(
            "document.querySelector('.desk__user')?.textContent === {bob_name}"
        ))
        .await?,
        true,
        "bob's desk stopped for alice's sign-out"
    );

    rig.browser.emulate_offline(&worker, false).await?;
    rig.browser.emulate_offline(&old.session_id, false).await?;
    old.close().await?;
    let next = rig.browser.new_page(&server.url("/")).await?;
    next.wait_for(
        &format!("document.querySelector('.desk__user')?.textContent === {bob_name}"),
        WAIT,
    )
    .await
    .map_err(|e| setup(format!("a new tab does not show bob's desk: {e}")))?;
    assert_eq!(
        session_status(server, &bob_cookie).await?,
        200,
        "alice's sign-out ended bob's session"
    );
    next.close().await?;
    bobs.close().await?;
    rig.stop().await;
    Ok(())
}

/// Types the start of a reply in the open chat's composer, which keeps it as a draft: unsent
/// work, so the agent's cache is kept when the next agent signs in (see
/// `the_next_agent_signing_in_removes_what_the_previous_left`, which covers a cache without).
async fn begin_a_reply(page: &Page<'_>) -> e2e::Result<()> {
    page.wait_for(
        "(() => { const box = document.querySelector('[data-testid=composer]');
                  if (!box) return false;
                  box.value = 'half a reply';
                  box.dispatchEvent(new Event('input', { bubbles: true }));
                  return true; })()",
        WAIT,
    )
    .await?;
    Ok(())
}

/// Clicks "Sign out" and waits for the fresh page the sign-out loads (the old page may show
/// the sign-in form for a moment before it is replaced).
async fn sign_out_ui(page: &Page<'_>) -> e2e::Result<()> {
    page.evaluate(
        "window.__before_sign_out = true; document.querySelector('[data-testid=logout]').click()",
    )
    .await?;
    page.wait_for(
        &format!("window.__before_sign_out === undefined && {SIGN_IN_SHOWN}"),
        WAIT,
    )
    .await?;
    Ok(())
}

/// Whether `page` shows the sign-in form.
const SIGN_IN_SHOWN: &str = "document.querySelector('[data-testid=login-username]') !== null";

/// JS: whether a database named `name` exists (without opening, which would create it).
fn database_exists_js(name: &str) -> String {
    format!("indexedDB.databases().then(l => l.some(d => d.name === {name:?}))")
}

/// An agent's session that ends without a sign-out here (it expired, or ended elsewhere)
/// wipes nothing; the next agent who signs in on this browser would find that cache on disk,
/// readable through the developer tools though never opened for them: the previous agent's
/// customers, chats the server would refuse them. Signing in removes it (alice left nothing
/// unsent; a cache with unsent work is kept whole, see the in-browser
/// `clearing_other_agents_removes_their_caches_but_keeps_unsent_work`).
#[tokio::test]
async fn the_next_agent_signing_in_removes_what_the_previous_left() -> e2e::Result<()> {
    let rig = Rig::start("attack-leftover-cache").await?;
    let server = &rig.server;
    let alices = database_name(&rig.user_id);
    let desk = rig.browser.new_page(&server.url("/chat/REQ-1001")).await?;
    desk.wait_for(
        "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'",
        WAIT,
    )
    .await?;
    desk.wait_for(&database_exists_js(&alices), WAIT).await?;
    // Her session ends at the server, not through the app's sign-out: nothing is wiped.
    let ended = desk
        .evaluate("fetch('/api/auth/logout', { method: 'POST' }).then(r => r.status)")
        .await?;
    assert_eq!(ended, 204);
    desk.close().await?;
    let observer = rig.observer().await?;
    assert_eq!(
        observer.evaluate(&database_exists_js(&alices)).await?,
        true,
        "the session's end alone removed the cache"
    );

    let tab = rig.browser.new_page(&server.url("/")).await?;
    sign_in_ui(&tab, "bob", "demo").await?;
    tab.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    let gone = format!("{}.then(found => !found)", database_exists_js(&alices));
    // Waits for the removal (it runs in the background of bob's sign-in); times out, and
    // fails, while alice's database is still listed.
    observer.wait_for(&gone, WAIT).await?;
    observer.close().await?;
    tab.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn signing_out_with_three_tabs_open_ends_the_session_everywhere() -> e2e::Result<()> {
    let rig = Rig::start("attack-sign-out").await?;
    let server = &rig.server;
    let database = database_name(&rig.user_id);
    let mut tabs = Vec::new();
    for path in ["/", "/chat/REQ-1001", "/chat/REQ-1003"] {
        let tab = rig.browser.new_page(&server.url(path)).await?;
        tab.wait_for(
            "document.querySelector('[data-testid=logout]') !== null",
            WAIT,
        )
        .await?;
        tabs.push(tab);
    }
    // One tab leads the live stream; the others follow.
    wait_until("one live stream", WAIT, || async {
        Ok((server.metric("sse_clients").await? == 1.0).then_some(()))
    })
    .await?;
    // An unsent draft in the second tab.
    tabs[1]
        .wait_for(
            "document.querySelector('[data-testid=composer]') !== null",
            WAIT,
        )
        .await?;
    tabs[1]
        .evaluate(
            "(() => { const box = document.querySelector('[data-testid=composer]');
               box.value = 'the password is hunter2';
               box.dispatchEvent(new Event('input', { bubbles: true })); })()",
        )
        .await?;
    let drafts_js =
        "Object.keys(localStorage).filter(k => k.startsWith('supportdesk:draft:')).length";
    assert_eq!(
        tabs[1].evaluate(drafts_js).await?,
        1,
        "the draft was not kept"
    );

    tabs[0]
        .evaluate("document.querySelector('[data-testid=logout]').click()")
        .await?;
    for (i, tab) in tabs.iter().enumerate() {
        tab.wait_for(SIGN_IN_SHOWN, WAIT)
            .await
            .map_err(|e| setup(format!("tab {i} still shows the desk: {e}")))?;
    }
    wait_until("no event stream left open at the server", WAIT, || async {
        Ok((server.metric("sse_clients").await? == 0.0).then_some(()))
    })
    .await?;
    let ended = server
        .metric("sse_streams_ended_total{reason=\"logout\"}")
        .await?;
    eprintln!("streams ended by the sign-out: {ended}");
    assert!(
        ended >= 1.0,
        "/metrics does not show the stream ended by the sign-out"
    );
    // Every context has had time to react (reopen, reconnect, take over the live lock).
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (i, tab) in tabs.iter().enumerate() {
        assert_eq!(
            tab.evaluate(&database_exists_js(&database)).await?,
            false,
            "tab {i}: the wiped database exists again"
        );
        assert_eq!(
            tab.evaluate(drafts_js).await?,
            0,
            "tab {i}: a draft survived"
        );
        assert!(
            tab.evaluate(SIGN_IN_SHOWN).await?.as_bool() == Some(true),
            "tab {i}"
        );
    }
    assert_eq!(
        server.metric("sse_clients").await?,
        0.0,
        "a stream reopened"
    );
    // The session is gone at the server too.
    let me = tabs[1]
        .evaluate("fetch('/api/auth/me').then(r => r.status)")
        .await?;
    assert_eq!(me, 401);
    for tab in tabs {
        tab.close().await?;
    }
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn after_a_session_change_a_push_for_the_previous_agent_stores_and_shows_nothing(
) -> e2e::Result<()> {
    let rig = Rig::start("attack-push-owner").await?;
    rig.grant_notifications().await?;
    let server = &rig.server;
    let alice_id = rig.user_id.clone();
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    // A message of alice's customer, as the server would push it to alice.
    let secret = post_as(server, &requester, "REQ-1001", "my card number is 4111…").await?;

    // Alice signs out and Bob signs in on the same browser.
    let desk = rig.browser.new_page(&server.url("/")).await?;
    desk.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    sign_out_ui(&desk).await?;
    sign_in_ui(&desk, "bob", "demo").await?;
    let bob_id = desk
        .evaluate("fetch('/api/auth/me').then(r => r.json()).then(u => u.id)")
        .await?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| setup("no user id for bob"))?;
    let bob = http::login(&server.addr, "bob", "demo").await?;
    let bobs_chat = chat_list(server, &bob).await?[0]["request_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| setup("bob has no chat"))?;
    desk.close().await?;

    let blank = rig.blank().await?;
    // The stale subscription's push, addressed to alice, then one of bob's own.
    rig.push(&blank, &message_payload(&secret, &alice_id))
        .await?;
    let mine = post_as(server, &bob, &bobs_chat, "bob's own answer").await?;
    rig.deliver(&blank, &message_payload(&mine, &bob_id))
        .await?;
    let observer = rig.observer().await?;
    let bob_db = database_name(&bob_id);
    wait_until("bob's own push in his cache", WAIT, || async {
        let count = observer.evaluate(&count_js(&bob_db, &bobs_chat)).await?;
        Ok((count.as_u64().unwrap_or(0) >= 1).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        observer.evaluate(&count_js(&bob_db, "REQ-1001")).await?,
        0,
        "alice's customer's message reached bob's cache"
    );
    assert_eq!(
        observer
            .evaluate(&database_exists_js(&database_name(&alice_id)))
            .await?,
        false,
        "the push re-created alice's wiped cache"
    );
    let shown = observer
        .evaluate(
            "navigator.serviceWorker.getRegistration().then(r => r.getNotifications())
               .then(ns => ns.map(n => n.body))",
        )
        .await?;
    let bodies = shown.as_array().cloned().unwrap_or_default();
    assert!(
        bodies
            .iter()
            .all(|b| !b.as_str().unwrap_or_default().contains("card number")),
        "alice's customer's message was shown to bob: {shown}"
    );
    observer.close().await?;
    blank.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn push_endpoints_on_loopback_or_private_addresses_are_refused() -> e2e::Result<()> {
    // The flag that lets the other suites use their own loopback receiver over http.
    let rig = Rig::start_with("attack-push-endpoint", &["--allow-insecure-push"]).await?;
    let page = rig.browser.new_page(&rig.server.url("/")).await?;
    page.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        WAIT,
    )
    .await?;
    for endpoint in [
        "https://127.0.0.2/push/1",
        "https://10.1.2.3/push/1",
        "https://192.168.0.10/push/1",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push/1",
        "https://localhost/push/1",
        "http://127.0.0.2:9/push/1",
    ] {
        let reply = page
            .evaluate(&format!(
                r#"fetch('/api/push/subscriptions', {{
                  method: 'POST', headers: {{ 'Content-Type': 'application/json' }},
                  body: JSON.stringify({{ endpoint: {endpoint:?}, keys: {{
                    p256dh: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U',
                    auth: 'tBHItJI5svbpez7KI4CCXg' }} }}) }})
                  .then(async r => ({{ status: r.status, body: await r.json() }}))"#
            ))
            .await?;
        eprintln!("{endpoint}: {reply}");
        assert_eq!(reply["status"], 400, "{endpoint}: {reply}");
        assert_eq!(reply["body"]["error"], "bad_request", "{endpoint}: {reply}");
        let detail = reply["body"]["detail"].as_str().unwrap_or_default();
        assert!(!detail.trim().is_empty(), "{endpoint}: no reason given");
    }
    page.close().await?;
    rig.stop().await;
    Ok(())
}

/// JS listing the keys (`client_temp_id`s) of the outbox of `database`.
fn outbox_keys_js(database: &str) -> String {
    format!(
        r#"(async () => {{
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open({database:?}); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  try {{
    const rq = db.transaction('outbox').objectStore('outbox').getAllKeys();
    return await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  }} finally {{ db.close(); }}
}})()"#
    )
}

/// Blocks (or lets through again) the app's sends, `POST /api/chat/messages`, in the target
/// of `session` (a page's, with its dedicated workers, whose live worker sends the outbox, or
/// the service worker's); history reads and the live stream pass.
async fn block_sends(rig: &Rig, session: &str, blocked: bool) -> e2e::Result<()> {
    const SENDS: &str = "*/api/chat/messages";
    let urls: Vec<&str> = if blocked { vec![SENDS] } else { Vec::new() };
    rig.browser
        .cdp
        .cut(session, blocked.then_some(SENDS))
        .await?;
    rig.browser
        .cdp
        .call("Network.enable", json!({}), Some(session))
        .await?;
    rig.browser
        .cdp
        .call(
            "Network.setBlockedURLs",
            json!({ "urls": urls }),
            Some(session),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_requester_posting_with_the_key_of_an_unsent_message_cannot_make_it_vanish(
) -> e2e::Result<()> {
    const CHAT: &str = "REQ-1003";
    const REPLY: &str = "the agent's reply, not sent yet";
    let rig = Rig::start("attack-forged-key").await?;
    let server = &rig.server;
    let database = database_name(&rig.user_id);
    let tab = rig
        .browser
        .new_page(&server.url(&format!("/chat/{CHAT}")))
        .await?;
    tab.wait_for(
        "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'",
        WAIT,
    )
    .await?;
    // The agent's send cannot leave the tab nor the worker (Background Sync); the live
    // stream still brings the requester's messages.
    let worker = rig
        .browser
        .service_worker_session(&server.url("/sw.js"))
        .await?;
    block_sends(&rig, &tab.session_id, true).await?;
    block_sends(&rig, &worker, true).await?;
    type_and_send(&tab, REPLY).await?;
    let keys = wait_until("the reply in the outbox", WAIT, || async {
        let keys = tab.evaluate(&outbox_keys_js(&database)).await?;
        Ok(keys
            .as_array()
            .filter(|k| k.len() == 1)
            .and_then(|k| k[0].as_str().map(str::to_owned)))
    })
    .await?;

    // The requester, who somehow learned the key, posts first with it.
    let agent = http::login(&server.addr, "alice", "demo").await?;
    let chats = chat_list(server, &agent).await?;
    let requester_name = chats
        .iter()
        .find(|c| c["request_id"] == CHAT)
        .and_then(|c| c["requester"]["id"].as_str())
        .map(|id| id.trim_start_matches("u_").to_owned())
        .ok_or_else(|| setup(format!("{CHAT} is not listed")))?;
    let requester = http::login(&server.addr, &requester_name, "demo").await?;
    let forged = json!({
        "request_id": CHAT, "client_temp_id": keys, "body": "posted first with her key",
        "attachments": [],
    });
    let reply = send_json(server, &requester, &forged).await?;
    assert_eq!(reply.status, 201, "{}", reply.body);
    tab.wait_for(
        "[...document.querySelectorAll('[data-testid=message]')].some(r => r.textContent.includes('posted first with her key'))",
        WAIT,
    )
    .await?;
    // Let the worker's push (if any) and the tab's ingest settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left = tab.evaluate(&outbox_keys_js(&database)).await?;
    assert_eq!(
        left,
        json!([keys]),
        "the requester's message removed the agent's unsent reply from the outbox"
    );

    // The network comes back: the reply is sent, and stored as the agent's.
    block_sends(&rig, &tab.session_id, false).await?;
    block_sends(&rig, &worker, false).await?;
    tab.evaluate("window.dispatchEvent(new Event('online'))")
        .await?;
    let stored = wait_until("the reply at the server", WAIT, || async {
        let messages = server_messages(server, &agent, CHAT).await?;
        Ok(messages
            .into_iter()
            .find(|m| m["body"] == REPLY)
            .map(|m| m["sender"]["id"].clone()))
    })
    .await?;
    assert_eq!(
        stored,
        json!(rig.user_id),
        "the reply is stored as the agent's"
    );
    tab.wait_for(
        &format!("[...document.querySelectorAll('[data-testid=message][data-state=sent]')].some(r => r.textContent.includes({REPLY:?}))"),
        WAIT,
    )
    .await?;
    rig.stop().await;
    Ok(())
}
