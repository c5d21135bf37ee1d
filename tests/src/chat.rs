//! What chat tests share: posting as a requester over HTTP, reading a chat back from the
//! browser's IndexedDB, signing in through the app's own form, and reading the DOM hooks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Page;
use crate::server::Server;
use crate::{http, HarnessError, Result};

/// The cache database of a user, as `chat_sync_idb::database_name` names it.
pub fn database_name(user_id: &str) -> String {
    format!("supportdesk-chat-cache:{user_id}")
}

/// The Cache Storage cache of a user's media files (`chat_sync_idb::media::cache_name` of
/// their database).
pub fn media_cache_name(user_id: &str) -> String {
    format!("supportdesk-media-v3:{}", database_name(user_id))
}

/// JS counting one chat's cached messages (0 when the database does not exist yet).
pub fn count_js(database: &str, request_id: &str) -> String {
    format!(
        r#"(async () => {{
  const name = {database:?}, rid = {request_id:?};
  if (!(await indexedDB.databases()).some(d => d.name === name)) return 0;
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  try {{
    const rq = db.transaction('messages').objectStore('messages')
      .count(IDBKeyRange.bound([rid, 0], [rid, Number.MAX_SAFE_INTEGER]));
    return await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  }} finally {{ db.close(); }}
}})()"#
    )
}

/// Sends `send` (a `SendMessage`, any `client_temp_id` the caller chooses) with the session
/// `cookie` over HTTP (not through the browser); the server's reply as it is.
pub async fn send_json(server: &Server, cookie: &str, send: &Value) -> Result<http::Response> {
    http::post_json(
        &server.addr,
        "/api/chat/messages",
        Some(cookie),
        &send.to_string(),
    )
    .await
}

/// Posts a message as a requester over HTTP (not through the browser) and returns it as the
/// server stored it.
pub async fn post_as(server: &Server, cookie: &str, request_id: &str, body: &str) -> Result<Value> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (request_id, body).hash(&mut hasher);
    let send = json!({
        "request_id": request_id,
        // The same body posted twice to a chat is one message (the idempotency key).
        "client_temp_id": format!("e2e-{:016x}", hasher.finish()),
        "body": body,
        "attachments": [],
    });
    let reply = send_json(server, cookie, &send).await?;
    if reply.status != 201 && reply.status != 200 {
        return Err(HarnessError::Setup(format!(
            "post failed: {} {}",
            reply.status, reply.body
        )));
    }
    serde_json::from_str(&reply.body)
        .map_err(|e| HarnessError::Setup(format!("stored message {}: {e}", reply.body)))
}

/// Sets the server's test faults (the server must run with `--test-faults`).
pub async fn set_faults(server: &Server, faults: Value) -> Result<()> {
    let reply =
        http::post_json(&server.addr, "/api/test/faults", None, &faults.to_string()).await?;
    if reply.status != 200 {
        return Err(HarnessError::Setup(format!(
            "faults refused: {} {}",
            reply.status, reply.body
        )));
    }
    Ok(())
}

/// The chats `cookie`'s user sees, as `GET /api/chat/requests` lists them.
pub async fn chat_list(server: &Server, cookie: &str) -> Result<Vec<Value>> {
    let reply = http::send(
        &server.addr,
        "GET",
        "/api/chat/requests",
        &[("Cookie", cookie)],
        "",
    )
    .await?;
    let list: Value = serde_json::from_str(&reply.body)
        .map_err(|e| HarnessError::Setup(format!("chat list {}: {e}", reply.body)))?;
    Ok(list["requests"].as_array().cloned().unwrap_or_default())
}

/// Every message of `request_id` at the server, as `cookie`'s user reads them: range pages
/// from seq 1 on, until a page is empty or ends at the chat's `last_seq`. (A history fetch:
/// it counts in the server's `/metrics` and served log like the app's own.)
pub async fn server_messages(
    server: &Server,
    cookie: &str,
    request_id: &str,
) -> Result<Vec<Value>> {
    /// The widest range the server answers in one request.
    const SPAN: u64 = 1_000_000;
    let mut all: Vec<Value> = Vec::new();
    loop {
        let from = all
            .last()
            .and_then(|m| m["seq"].as_u64())
            .map_or(1, |seq| seq + 1);
        let path = format!(
            "/api/chat/messages?request_id={request_id}&from_seq={from}&to_seq={}",
            from + SPAN - 1
        );
        let reply = http::send(&server.addr, "GET", &path, &[("Cookie", cookie)], "").await?;
        let page: Value =
            serde_json::from_str(&reply.body).map_err(|source| HarnessError::Json {
                what: format!("{path} ({}): {}", reply.status, reply.body),
                source,
            })?;
        let batch = page["messages"].as_array().cloned().unwrap_or_default();
        let last = page["last_seq"].as_u64().unwrap_or(0);
        let done = batch
            .last()
            .and_then(|m| m["seq"].as_u64())
            .is_none_or(|seq| seq >= last);
        all.extend(batch);
        if done {
            return Ok(all);
        }
    }
}

/// The newest seq of `request_id` at the server, from `cookie`'s chat list (0 when the chat
/// is not in it).
pub async fn last_seq(server: &Server, cookie: &str, request_id: &str) -> Result<u64> {
    Ok(chat_list(server, cookie)
        .await?
        .iter()
        .find(|c| c["request_id"] == request_id)
        .and_then(|c| c["last_seq"].as_u64())
        .unwrap_or(0))
}

/// Signs in through the app's sign-in form (the DOM hooks `login-*`) and waits for the desk.
pub async fn sign_in_ui(page: &Page<'_>, username: &str, password: &str) -> Result<()> {
    page.wait_for(
        "document.querySelector('[data-testid=login-submit]') !== null",
        Duration::from_secs(20),
    )
    .await?;
    page.evaluate(&format!(
        r#"(() => {{
  const set = (id, value) => {{
    const input = document.querySelector(`[data-testid=${{id}}]`);
    input.value = value;
    input.dispatchEvent(new Event('input', {{ bubbles: true }}));
  }};
  set('login-username', {username:?});
  set('login-password', {password:?});
  document.querySelector('[data-testid=login-submit]').click();
}})()"#
    ))
    .await?;
    page.wait_for(
        "document.querySelector('[data-testid=logout]') !== null",
        Duration::from_secs(20),
    )
    .await?;
    Ok(())
}

/// The message rows in the DOM as `[seq, state, text]`, and the skeletons as `[from, to]`.
pub const ROWS_JS: &str = r#"({
  messages: [...document.querySelectorAll('[data-testid=message]')]
    .map(r => [Number(r.dataset.seq), r.dataset.state, r.querySelector('.msg__body')?.textContent ?? ''])
    .sort((a, b) => a[0] - b[0]),
  gaps: [...document.querySelectorAll('[data-testid=gap-skeleton]')]
    .map(g => [Number(g.dataset.from), Number(g.dataset.to)])
    .sort((a, b) => a[0] - b[0]),
  ready: document.querySelector('[data-testid=chat-view]')?.dataset.ready ?? null,
  indicator: document.querySelector('[data-testid=sync-indicator]') !== null,
  resync: document.querySelector('[data-testid=resync]') !== null,
})"#;

/// JS reading one chat's record and messages from the cache database, without creating the
/// database when it does not exist yet (a version-less open would create an empty one).
pub fn snapshot_js(database: &str, request_id: &str) -> String {
    format!(
        r#"(async () => {{
  const name = {database:?}, rid = {request_id:?};
  const dbs = await indexedDB.databases();
  if (!dbs.some(d => d.name === name)) return {{ exists: false, chat: null, seqs: [], chats: 0, total: 0 }};
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  const get = rq => new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  try {{
    const tx = db.transaction(['chats', 'messages'], 'readonly');
    const chat = await get(tx.objectStore('chats').get(rid));
    const msgs = await get(tx.objectStore('messages').getAll(
      IDBKeyRange.bound([rid, 0], [rid, Number.MAX_SAFE_INTEGER])));
    const chats = await get(tx.objectStore('chats').count());
    const total = await get(tx.objectStore('messages').count());
    return {{ exists: true, chat: chat ?? null, seqs: msgs.map(m => m.seq),
             bodies: msgs.map(m => m.body), chats, total }};
  }} finally {{ db.close(); }}
}})()"#
    )
}

/// The seqs of a [`snapshot_js`] result.
pub fn seqs(snapshot: &Value) -> Vec<u64> {
    snapshot["seqs"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// Types `text` and sends it, then waits until the composer took it (emptied) or said why not
/// (`composer-problem`): `taken` or `refused: <the problem>`; an error when it did neither
/// within 20 s.
pub async fn type_and_send(page: &Page<'_>, text: &str) -> Result<String> {
    let outcome = page
        .evaluate(&format!(
            r#"(async () => {{
  const box = document.querySelector('[data-testid=composer]');
  box.value = {text:?};
  box.dispatchEvent(new Event('input', {{ bubbles: true }}));
  document.querySelector('[data-testid=send]').click();
  // Let the view drop an earlier problem before looking for a new one.
  await new Promise(r => setTimeout(r, 0));
  const started = performance.now();
  while (performance.now() - started < 20000) {{
    if (box.value === '') return 'taken';
    const problem = document.querySelector('[data-testid=composer-problem]');
    if (problem) return 'refused: ' + problem.textContent;
    await new Promise(r => setTimeout(r, 5));
  }}
  return 'timeout';
}})()"#
        ))
        .await?;
    if outcome == "timeout" {
        return Err(HarnessError::Timeout {
            what: format!("the composer to take {text:?}"),
            seconds: 20.0,
        });
    }
    Ok(outcome.as_str().unwrap_or_default().to_owned())
}

/// JS looking for each of `needles` in every record of every object store of `database`
/// and in the body of every entry of every Cache Storage cache, byte for byte (a blob's
/// bytes, a record's JSON): `{ idb: [[store, needle]], caches: [[entry, needle]], media:
/// [media ids the caches hold] }`. For "no redacted body anywhere".
pub fn scan_js(database: &str, needles: &[String]) -> String {
    let needles = serde_json::to_string(needles).unwrap_or_else(|_| "[]".to_owned());
    format!(
        r#"(async () => {{
  const name = {database:?}, needles = {needles};
  const found = {{ idb: [], caches: [], media: [] }};
  const look = (text, where, list) => {{ for (const n of needles) if (text.includes(n)) list.push([where, n]); }};
  if ((await indexedDB.databases()).some(d => d.name === name)) {{
    const db = await new Promise((ok, err) => {{
      const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
    }});
    try {{
      for (const store of db.objectStoreNames) {{
        const all = await new Promise((ok, err) => {{
          const rq = db.transaction(store).objectStore(store).getAll();
          rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error);
        }});
        for (const value of all) look(value instanceof Blob ? await value.text() : JSON.stringify(value), store, found.idb);
      }}
    }} finally {{ db.close(); }}
  }}
  for (const cacheName of await caches.keys()) {{
    const cache = await caches.open(cacheName);
    for (const request of await cache.keys()) {{
      const path = new URL(request.url).pathname;
      if (path.startsWith('/api/media/')) found.media.push(decodeURIComponent(path.slice(11)));
      const response = await cache.match(request);
      look((response ? await response.text() : '') + request.url, cacheName + ' ' + path, found.caches);
    }}
  }}
  return found;
}})()"#
    )
}
