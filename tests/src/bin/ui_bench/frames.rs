//! Scrolling the message list frame by frame, as both scroll cases of the UI benchmark do,
//! and what a frame costs: intervals between frames, frames dropped, long tasks, and the
//! IndexedDB writes the page issues meanwhile.

use serde_json::Value;

/// A frame longer than this is dropped (1.5× the 60 Hz refresh interval).
pub const DROPPED_MS: f64 = 25.0;

/// Counts the page's IndexedDB read-write transactions and record writes from now on
/// (`window.__idbWrites`). The wasm-bindgen glue looks methods up on each call, so patching
/// the prototypes sees the app's own calls.
pub const COUNT_WRITES_JS: &str = r#"(() => {
  if (window.__idbWrites) return true;
  const counts = window.__idbWrites = { transactions: 0, records: 0 };
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (names, mode, ...rest) {
    if (mode === 'readwrite') counts.transactions++;
    return transaction.call(this, names, mode, ...rest);
  };
  for (const name of ['put', 'add', 'delete', 'clear']) {
    const method = IDBObjectStore.prototype[name];
    IDBObjectStore.prototype[name] = function (...args) {
      counts.records++;
      return method.apply(this, args);
    };
  }
  return true;
})()"#;

/// Scrolls the message list by `step` pixels a frame (negative: up) for at most `frames`
/// frames, stopping early once the edge it moves towards has been reached and stayed reached
/// for half a second. `from_bottom` starts at the newest message. Returns what the frames
/// cost ([`Frames`]); [`COUNT_WRITES_JS`] must have run for the write counts.
pub fn scroll_js(step: i32, frames: usize, from_bottom: bool) -> String {
    scroll_in_js(
        "document.querySelector('.messages')",
        step,
        frames,
        from_bottom,
        "",
    )
}

/// The floor of a scroll, measured in the same page just after it: the same frame loop (the
/// same `scrollTop` steps, the same per-frame queries) over a static list of plain rows laid
/// over the page, which the browser only has to paint. The frames it drops are the machine's
/// (a busy core, the compositor), not the list's.
pub fn floor_scroll_js(step: i32, frames: usize) -> String {
    let setup = "const scroller = document.createElement('div');
  scroller.id = 'bench-floor-scroller';
  scroller.style.cssText = 'position:fixed;inset:0;overflow:auto;z-index:99999;background:#fff';
  const rows = document.createDocumentFragment();
  // 8,000 rows of 96 px: taller than 599 frames of 1,200 px, so the floor scrolls as many
  // frames as the list does.
  for (let i = 0; i < 8000; i++) {
    const row = document.createElement('div');
    row.style.cssText = 'box-sizing:border-box;height:96px;padding:8px 16px;border-bottom:1px solid #ddd';
    row.textContent = `Row ${i}: the same words a message row would show, wrapped or not.`;
    rows.appendChild(row);
  }
  scroller.appendChild(rows);
  document.body.appendChild(scroller);
  scroller.getBoundingClientRect();
  return scroller;";
    scroll_in_js(
        &format!("(() => {{ {setup} }})()"),
        step,
        frames,
        true,
        "scroller.remove();",
    )
}

/// [`scroll_js`] over the element `scroller_js` evaluates to, running `cleanup_js` after.
fn scroll_in_js(
    scroller_js: &str,
    step: i32,
    frames: usize,
    from_bottom: bool,
    cleanup_js: &str,
) -> String {
    format!(
        r#"(async () => {{
  const scroller = {scroller_js};
  if ({from_bottom}) scroller.scrollTop = scroller.scrollHeight;
  await new Promise(r => setTimeout(r, 500));
  const counts = window.__idbWrites ?? {{ transactions: 0, records: 0 }};
  const before = {{ ...counts }};
  const longTasks = [];
  const observer = new PerformanceObserver(list => {{
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  }});
  // Firefox has no long-task entries (observing them would only warn): said in the result.
  const longTasksObserved = PerformanceObserver.supportedEntryTypes?.includes('longtask') ?? false;
  if (longTasksObserved) observer.observe({{ type: 'longtask' }});
  const intervals = [];
  const seen = new Set();
  let last = null, atEdge = 0, n = 0;
  const t0 = performance.now();
  await new Promise(resolve => {{
    const frame = t => {{
      if (last !== null) intervals.push(t - last);
      last = t;
      scroller.scrollTop += {step};
      for (const r of document.querySelectorAll('[data-testid=message]')) seen.add(r.dataset.seq);
      const edge = {step} < 0
        ? scroller.scrollTop === 0
        : scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2;
      atEdge = edge ? atEdge + 1 : 0;
      if (atEdge > 30 || ++n >= {frames}) resolve(); else requestAnimationFrame(frame);
    }};
    requestAnimationFrame(frame);
  }});
  const seconds = (performance.now() - t0) / 1000;
  observer.disconnect();
  {cleanup_js}
  return {{
    intervals, longTasks, longTasksObserved, seconds, rows: seen.size,
    mounted: document.querySelectorAll('.row').length,
    transactions: counts.transactions - before.transactions,
    records: counts.records - before.records,
  }};
}})()"#
    )
}

/// What a scroll measured.
pub struct Frames {
    /// Intervals between frames, ms.
    pub intervals: Vec<f64>,
    /// Long tasks (> 50 ms) while scrolling, with their durations in ms.
    pub long_tasks: Vec<f64>,
    /// Whether the browser reports long tasks at all (Firefox does not).
    pub long_tasks_observed: bool,
    /// Seconds the scroll took.
    pub seconds: f64,
    /// Distinct message rows shown.
    pub rows: u64,
    /// Rows in the DOM at the end.
    pub mounted: u64,
    /// Read-write transactions while scrolling.
    pub transactions: u64,
    /// Records written while scrolling.
    pub records: u64,
}

impl Frames {
    /// Reads a [`scroll_js`] result.
    pub fn from_js(value: &Value) -> Self {
        let numbers = |key: &str| -> Vec<f64> {
            value[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect()
        };
        Self {
            intervals: numbers("intervals"),
            long_tasks: numbers("longTasks"),
            long_tasks_observed: value["longTasksObserved"].as_bool().unwrap_or(false),
            seconds: value["seconds"].as_f64().unwrap_or(f64::NAN),
            rows: value["rows"].as_u64().unwrap_or(0),
            mounted: value["mounted"].as_u64().unwrap_or(0),
            transactions: value["transactions"].as_u64().unwrap_or(0),
            records: value["records"].as_u64().unwrap_or(0),
        }
    }

    /// Frames longer than [`DROPPED_MS`].
    pub fn dropped(&self) -> usize {
        self.intervals.iter().filter(|&&ms| ms > DROPPED_MS).count()
    }

    /// Read-write transactions per second.
    pub fn writes_per_second(&self) -> f64 {
        self.transactions as f64 / self.seconds
    }
}
