//! Evidence that hostile text stayed text, for the hostile suite (`tests/hostile.rs`):
//!
//! - [`GUARD_JS`], installed on a page before any of its scripts runs, records every
//!   attempt to execute: a write to `window.__pwned` (from the page or a same-origin frame),
//!   a call of `alert`/`confirm`/`prompt`/`print`, a Content-Security-Policy violation
//!   (an inline script or handler that got into the DOM), and every script, frame, object or
//!   `on*` attribute or `javascript:` URL that enters the DOM after start-up;
//! - [`ErrorWatch`] records every uncaught exception, wasm panic and console error of every
//!   page and attached worker, and every JavaScript dialog the browser opens;
//! - [`collect_rows_js`] scrolls a chat from the newest message to the oldest and returns
//!   what each message row shows, so a virtualized list of any length can be judged.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::cdp::Cdp;

/// Installed with `Page.addScriptToEvaluateOnNewDocument`: records, in `window.__hostile`,
/// everything a hostile string would do if it ever executed or became markup.
pub const GUARD_JS: &str = r#"
(() => {
  const hostile = { pwned: [], dialogs: [], csp: [], dom: [] };
  Object.defineProperty(window, '__hostile', { value: hostile });
  Object.defineProperty(window, '__pwned', {
    configurable: false,
    get() { return undefined; },
    set(value) { hostile.pwned.push(String(value)); },
  });
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    window[name] = (...args) => { hostile.dialogs.push(name + ' ' + args.join(' ')); };
  }
  document.addEventListener('securitypolicyviolation', (e) => {
    hostile.csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
  }, true);
  let started = false;
  addEventListener('load', () => { started = true; });
  const unsafeUrl = (v) => /^\s*(javascript|vbscript|data:text\/html)/i.test(v ?? '');
  const check = (el) => {
    if (!(el instanceof Element)) return;
    const tag = el.tagName.toLowerCase();
    // Scripts of the page itself are parsed before load; any script after it is injected.
    if ((tag === 'script' && started) || ['iframe', 'frame', 'object', 'embed', 'base'].includes(tag)
        || (tag === 'meta' && el.hasAttribute('http-equiv'))) {
      hostile.dom.push(`<${tag}> ${el.outerHTML.slice(0, 120)}`);
    }
    for (const a of el.attributes) {
      if (a.name.startsWith('on') || (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name) && unsafeUrl(a.value))) {
        hostile.dom.push(`${tag}[${a.name}=${a.value.slice(0, 80)}]`);
      }
    }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') check(r.target);
      for (const n of r.addedNodes) {
        check(n);
        if (n.querySelectorAll) n.querySelectorAll('*').forEach(check);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true });
})();
"#;

/// JS reading the guard's record: `{pwned, dialogs, csp, dom}`, each a list that must stay
/// empty.
pub const EVIDENCE_JS: &str = "JSON.parse(JSON.stringify(window.__hostile ?? { missing: true }))";

/// Every uncaught exception, wasm panic and console error or warning seen on the browser's
/// connection (pages and any worker whose session has `Runtime.enable`), and every
/// JavaScript dialog the browser opened.
#[derive(Clone, Default)]
pub struct ErrorWatch {
    seen: Arc<Mutex<Seen>>,
}

/// What an [`ErrorWatch`] saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Uncaught exceptions and console errors that mention a panic or a wasm trap.
    pub failures: Vec<String>,
    /// Other console errors.
    pub errors: Vec<String>,
    /// Console warnings (the app logs refused input at this level).
    pub warnings: Vec<String>,
    /// `Page.javascriptDialogOpening` events.
    pub dialogs: Vec<String>,
}

impl ErrorWatch {
    /// Starts watching the events of `cdp`.
    pub fn start(cdp: &Cdp) -> Self {
        let watch = Self::default();
        let seen = watch.seen.clone();
        let mut events = cdp.events();
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let Ok(mut seen) = seen.lock() else { return };
                record(&mut seen, &event);
            }
        });
        watch
    }

    /// What was seen so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn record(seen: &mut Seen, event: &Value) {
    let params = &event["params"];
    let from = event["sessionId"].as_str().unwrap_or("browser");
    match event["method"].as_str() {
        Some("Runtime.exceptionThrown") => {
            let details = &params["exceptionDetails"];
            let text = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("exception");
            seen.failures.push(format!("{from}: {}", first_lines(text)));
        }
        Some("Runtime.consoleAPICalled") => {
            let text = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    a["value"]
                        .as_str()
                        .or(a["description"].as_str())
                        .unwrap_or("")
                        .to_owned()
                })
                .collect::<Vec<_>>()
                .join(" ");
            let text = format!("{from}: {}", first_lines(&text));
            match params["type"].as_str() {
                Some("error" | "assert") if is_failure(&text) => seen.failures.push(text),
                Some("error" | "assert") => seen.errors.push(text),
                Some("warning") => seen.warnings.push(text),
                _ => {}
            }
        }
        Some("Page.javascriptDialogOpening") => seen.dialogs.push(format!(
            "{from}: {} {}",
            params["type"].as_str().unwrap_or("dialog"),
            params["message"].as_str().unwrap_or("")
        )),
        _ => {}
    }
}

fn is_failure(text: &str) -> bool {
    ["panicked", "RuntimeError", "unreachable", "Uncaught"]
        .iter()
        .any(|marker| text.contains(marker))
}

fn first_lines(text: &str) -> String {
    text.lines().take(3).collect::<Vec<_>>().join(" | ")
}

/// JS that scrolls the chat view (`.messages`) from the bottom to the top, waiting at the top
/// for older history to load, until every seq in `1..=last` has been seen as a message row
/// (or 60 s pass), and returns, per seq: the body's text, the sender's name (when the row
/// shows one), the attachment chips' texts, `download` names and thumbnail `alt` texts, every
/// link's `href`, and the tags of any element in the row that no message row should hold.
pub fn collect_rows_js(last: u64) -> String {
    format!(
        r#"(async () => {{
  const last = {last};
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const rows = {{}};
  const take = () => {{
    for (const row of document.querySelectorAll('[data-testid=message]')) {{
      const seq = Number(row.dataset.seq);
      if (!seq) continue;
      const foreign = [...row.querySelectorAll('*')]
        .filter((e) => !['DIV', 'SPAN', 'A', 'TIME', 'IMG', 'BUTTON'].includes(e.tagName)
          || (e.tagName === 'IMG' && !e.classList.contains('attachment__thumb')))
        .map((e) => e.tagName);
      rows[seq] = {{
        body: row.querySelector('.msg__body')?.textContent ?? null,
        sender: row.querySelector('.msg__sender')?.textContent ?? null,
        chips: [...row.querySelectorAll('.attachment--file')].map((a) => a.textContent),
        downloads: [...row.querySelectorAll('.attachment--file')].map((a) => a.getAttribute('download')),
        alts: [...row.querySelectorAll('img')].map((i) => i.getAttribute('alt')),
        links: [...row.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
        foreign,
      }};
    }}
  }};
  const list = document.querySelector('.messages');
  const deadline = Date.now() + 60000;
  const missing = () => {{
    let count = 0;
    for (let s = 1; s <= last; s++) if (!rows[s]) count++;
    return count;
  }};
  // Sweeps from the bottom to the top, half a viewport at a time (rows are read from the
  // cache as they come near the viewport), until every seq was seen; at the top, older
  // history loads.
  while (missing() > 0 && Date.now() < deadline) {{
    list.scrollTop = list.scrollHeight;
    await sleep(150);
    take();
    while (list.scrollTop > 0 && Date.now() < deadline) {{
      list.scrollTop = Math.max(0, list.scrollTop - list.clientHeight * 0.5);
      await sleep(80);
      take();
    }}
    await sleep(400);
    take();
  }}
  return rows;
}})()"#
    )
}
