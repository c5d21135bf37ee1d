//! In-browser benchmark: the Rust store against plain-JS IndexedDB doing the same work on the
//! same data in the same run. Run in release mode in headless Chromium (see README.md); each
//! figure is the median of repeated runs, printed as one JSON line per operation.
// These tests need a browser: natively they compile to nothing.
#![cfg(target_arch = "wasm32")]

use chat_sync::ingest::{IngestContext, Source};
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{Message, RequestId, Seq};
use chat_sync_idb::codec::encode;
use chat_sync_idb::platform::precise_now;
use chat_sync_idb::IdbStore;
use js_sys::{Array, Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const RUNS: usize = 41;

const JS_OPEN: &str = r#"
return new Promise((resolve, reject) => {
  const tx = db.transaction(['chats', 'messages'], 'readonly');
  const r = tx.objectStore('chats').get(rid);
  r.onerror = () => reject(r.error);
  r.onsuccess = () => {
    const held = r.result.held;
    let left = limit, lo = held[0][0];
    const hi = held[held.length - 1][1];
    for (let i = held.length - 1; i >= 0; i--) {
      const len = held[i][1] - held[i][0] + 1;
      if (len >= left) { lo = held[i][1] + 1 - left; break; }
      left -= len; lo = held[i][0];
    }
    const g = tx.objectStore('messages').getAll(IDBKeyRange.bound([rid, lo], [rid, hi]));
    g.onerror = () => reject(g.error);
    g.onsuccess = () => resolve(g.result.length);
  };
});"#;

const JS_OPEN_FLOOR: &str = r#"
return new Promise((resolve, reject) => {
  const tx = db.transaction(['messages'], 'readonly');
  const store = tx.objectStore('messages');
  const range = IDBKeyRange.bound([rid, 0], [rid, Number.MAX_SAFE_INTEGER]);
  if (typeof store.getAllRecords === 'function') {
    const g = store.getAllRecords({ query: range, count: limit, direction: 'prev' });
    g.onerror = () => reject(g.error);
    g.onsuccess = () => resolve(g.result.length);
  } else {
    const out = [];
    const c = store.openCursor(range, 'prev');
    c.onerror = () => reject(c.error);
    c.onsuccess = () => {
      const cursor = c.result;
      if (cursor && out.length < limit) { out.push(cursor.value); cursor.continue(); }
      else resolve(out.length);
    };
  }
});"#;

const JS_INGEST: &str = r#"
return new Promise((resolve, reject) => {
  const tx = db.transaction(['messages', 'chats', 'outbox'], 'readwrite');
  const chats = tx.objectStore('chats');
  const store = tx.objectStore('messages');
  const r = chats.get(rid);
  r.onsuccess = () => {
    const rec = r.result;
    for (const m of msgs) {
      store.put(m);
      rec.held.push([m.seq, m.seq]);
      rec.message_count += 1;
    }
    chats.put(rec);
  };
  tx.oncomplete = () => resolve(msgs.length);
  tx.onabort = () => reject(tx.error);
});"#;

const JS_HELD: &str = r#"
return new Promise((resolve, reject) => {
  const tx = db.transaction(['chats'], 'readonly');
  const r = tx.objectStore('chats').get(rid);
  r.onerror = () => reject(r.error);
  r.onsuccess = () => {
    const held = r.result.held.slice().sort((a, b) => a[0] - b[0]);
    const gaps = [];
    for (let i = 1; i < held.length; i++) {
      if (held[i][0] > held[i - 1][1] + 1) gaps.push([held[i - 1][1] + 1, held[i][0] - 1]);
    }
    resolve(gaps.length);
  };
});"#;

fn js(args: &str, body: &str) -> Function {
    Function::new_with_args(args, body)
}

async fn call(f: &Function, args: &[JsValue]) -> JsValue {
    let array = Array::new();
    for a in args {
        array.push(a);
    }
    let promise: Promise = f.apply(&JsValue::NULL, &array).expect("call").into();
    JsFuture::from(promise).await.expect("js operation")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn ctx() -> IngestContext {
    IngestContext {
        now: 1,
        chat_open: false,
        own_user_id: None,
        source: Source::Fetch,
        backend_last: None,
    }
}

fn report(scenario: &str, op: &str, rust: f64, js: f64, extra: &str) {
    console_log!(
        "{{\"bench\":\"chat-sync-idb\",\"scenario\":\"{scenario}\",\"op\":\"{op}\",\"rust_ms\":{rust:.3},\"js_ms\":{js:.3},\"ratio\":{:.2}{extra}}}",
        rust / js
    );
}

async fn scenario(name: &str, chats: usize, per_chat: Seq) {
    let store = IdbStore::open_named(&format!(
        "bench-{name}-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    ))
    .await
    .expect("open");
    for c in 0..chats {
        let id = format!("chat{c:03}");
        let chat = RequestId::from(id.as_str());
        let mut from = 1;
        while from <= per_chat {
            let to = (from + 999).min(per_chat);
            store
                .ingest(&chat, messages(&id, from, to), &ctx())
                .await
                .expect("seed");
            from = to + 1;
        }
    }
    let id = format!("chat{:03}", chats / 2);
    let chat = RequestId::from(id.as_str());
    let db: JsValue = store.database().connection().await.expect("db").into();
    let rid = JsValue::from_str(&id);
    let (js_open, js_floor, js_ingest, js_held) = (
        js("db, rid, limit", JS_OPEN),
        js("db, rid, limit", JS_OPEN_FLOOR),
        js("db, rid, msgs", JS_INGEST),
        js("db, rid", JS_HELD),
    );
    let limit = JsValue::from_f64(50.0);

    // Open: the newest 50 into Rust structs, against plain JS reading the same 50 records.
    let (mut rust, mut plain, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = precise_now();
        let window = store.newest(&chat, 50).await.expect("newest");
        rust.push(precise_now() - t);
        assert_eq!(window.messages.len(), 50);
        let t = precise_now();
        assert_eq!(
            call(&js_open, &[db.clone(), rid.clone(), limit.clone()])
                .await
                .as_f64(),
            Some(50.0)
        );
        plain.push(precise_now() - t);
        let t = precise_now();
        call(&js_floor, &[db.clone(), rid.clone(), limit.clone()]).await;
        floor.push(precise_now() - t);
    }
    let floor = median(floor);
    report(
        name,
        "open_newest_50",
        median(rust.clone()),
        median(plain),
        &format!(
            ",\"js_getAllRecords_or_cursor_ms\":{floor:.3},\"ratio_to_getAllRecords\":{:.2}",
            median(rust) / floor
        ),
    );

    // Held-range lookup: the chat record's ranges and gaps, no message read.
    let (mut rust, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = precise_now();
        let record = store.chat(&chat).await.expect("chat").expect("record");
        let _gaps = record.held.gaps(record.backend_last_seq);
        rust.push(precise_now() - t);
        let t = precise_now();
        call(&js_held, &[db.clone(), rid.clone()]).await;
        plain.push(precise_now() - t);
    }
    report(name, "held_range_lookup", median(rust), median(plain), "");

    // Ingest of one message and of a 100-message page, each a new seq range.
    let mut next: Seq = per_chat + 1;
    for (op, size) in [("ingest_1", 1u64), ("ingest_page_100", 100)] {
        let (mut rust, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let batch: Vec<Message> = messages(&id, next, next + size - 1);
            next += size;
            let t = precise_now();
            store.ingest(&chat, batch, &ctx()).await.expect("ingest");
            rust.push(precise_now() - t);
            let js_batch = Array::new();
            for m in messages(&id, next, next + size - 1) {
                js_batch.push(&encode(&m, "bench").expect("encode"));
            }
            next += size;
            let t = precise_now();
            call(&js_ingest, &[db.clone(), rid.clone(), js_batch.into()]).await;
            plain.push(precise_now() - t);
        }
        report(name, op, median(rust), median(plain), "");
    }
    store.wipe().await.expect("wipe");
}

#[wasm_bindgen_test]
async fn bench_10k_message_chat() {
    scenario("10k_message_chat", 1, 10_000).await;
}

#[wasm_bindgen_test]
async fn bench_100_chats() {
    scenario("100_chats_x_100", 100, 100).await;
}
