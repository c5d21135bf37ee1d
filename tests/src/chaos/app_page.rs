//! What the schedules ask of an app page: wait for the desk, open a chat, and the JS that
//! reads the agent's IndexedDB (the outbox drained, a chat held whole, the whole cache).

use std::time::Duration;

use serde_json::Value;

use crate::browser::Page;
use crate::{HarnessError, Result};

/// Waits until the page shows the signed-in desk with its cache open (the panes, or the
/// failure to open it).
///
/// Not only the header: Chromium puts a page navigated away from in the back/forward cache
/// even while its IndexedDB open request is in flight, and every later open of that
/// database in the origin then waits for ever (measured with a fresh profile and a
/// navigation as soon as the header shows: 3 to 5 hangs in 12; with the back/forward cache
/// disabled, or after the cache opened, none). The schedules play faults in the app and the
/// worker, not that browser defect, which is reported in the closing notes.
pub(super) async fn wait_for_desk(page: &Page<'_>) -> Result<()> {
    page.wait_for(
        "document.querySelector('.desk__panes, .desk__failure') !== null",
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
}

/// Opens `chat` in `page`: a click on its chat-list entry when the list shows it (the
/// in-app route change), a navigation otherwise; returns once the chat view shows it.
pub(super) async fn open_chat(page: &Page<'_>, chat: &str) -> Result<()> {
    let shown = format!(
        "document.querySelector('[data-testid=chat-view]')?.dataset.requestId === {chat:?}"
    );
    if page.evaluate(&shown).await? == Value::Bool(true) {
        return Ok(());
    }
    let clicked = page
        .evaluate(&format!(
            "(() => {{ const item = document.querySelector('[data-testid=chat-item][data-request-id={chat:?}]'); \
               if (!item) return false; item.click(); return true; }})()"
        ))
        .await?;
    if clicked != Value::Bool(true) {
        let url = page
            .evaluate("location.origin")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        page.navigate(&format!("{url}/chat/{chat}")).await?;
    }
    if let Err(error) = page.wait_for(&shown, Duration::from_secs(30)).await {
        let state = page
            .evaluate(
                &format!("({{ href: location.href, clicked: {clicked}, \
                   view: document.querySelector('[data-testid=chat-view]')?.outerHTML.slice(0, 200) ?? null, \
                   items: [...document.querySelectorAll('[data-testid=chat-item]')].map(i => i.dataset.requestId) }})",
                ),
            )
            .await
            .unwrap_or_default();
        return Err(HarnessError::Setup(format!(
            "{chat} not shown after {} ({error}): {state}",
            if clicked == Value::Bool(true) {
                "a click"
            } else {
                "a navigation"
            }
        )));
    }
    page.wait_for(
        "document.querySelector('[data-testid=composer]') !== null",
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
}

fn open_db_js(user_id: &str) -> String {
    format!(
        "await new Promise((ok, err) => {{ const r = indexedDB.open({:?}); \
           r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error); }})",
        crate::chat::database_name(user_id)
    )
}

/// JS: true once the outbox store is empty.
pub(super) fn outbox_empty_js(user_id: &str) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  try {{
    const rq = db.transaction('outbox').objectStore('outbox').count();
    return (await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }})) === 0;
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}

/// JS: true once the cache holds every seq `1..=last` of `chat`.
pub(super) fn chat_complete_js(user_id: &str, chat: &str, last: u64) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  try {{
    const rq = db.transaction('messages').objectStore('messages')
      .getAllKeys(IDBKeyRange.bound([{chat:?}, 1], [{chat:?}, {last}]));
    const keys = await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
    return keys.length === {last};
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}

/// JS: every cached message of every chat as `{chat: [[seq, id, body], ...]}`, the outbox
/// size, and the ids of the chat records.
pub(super) fn cache_js(user_id: &str) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  const get = rq => new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  try {{
    const tx = db.transaction(['messages', 'outbox', 'chats'], 'readonly');
    const all = await get(tx.objectStore('messages').getAll());
    const outbox = await get(tx.objectStore('outbox').count());
    const records = await get(tx.objectStore('chats').getAllKeys());
    const chats = {{}};
    for (const m of all) (chats[m.request_id] ??= []).push([m.seq, m.id, m.body]);
    return {{ chats, outbox, records }};
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}
