//! What chat tests share: posting as a requester over HTTP, reading a chat back from the
//! browser's IndexedDB, signing in through the app's own form, and reading the DOM hooks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Page;
use crate::server::Server;
use crate::{http, HarnessError, Result};

/// Posts a message as a requester over HTTP (not through the browser) and returns it as the
/// server stored it.
pub async fn post_as(server: &Server, cookie: &str, request_id: &str, body: &str) -> Result<Value> {
    let send = json!({
        "request_id": request_id,
        "client_temp_id": format!("e2e-{body}"),
        "body": body,
        "attachments": [],
    });
    let reply = http::post_json(
        &server.addr,
        "/api/chat/messages",
        Some(cookie),
        &send.to_string(),
    )
    .await?;
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
