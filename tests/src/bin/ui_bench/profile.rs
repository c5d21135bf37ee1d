//! An optional look inside the 100,000-message scroll: with `UI_BENCH_PROFILE=<file>` the
//! benchmark records the page's CPU profile over that scroll (a `.cpuprofile` that Chrome's
//! DevTools opens; with a wasm built by `wasm-opt -g` it names our functions) and prints
//! counters of the list's work: layouts the page forced (`offsetHeight` reads that took
//! over 0.2 ms), `scrollTop` writes and their time, and rows added to the list by kind
//! (`reading`: a placeholder built before its message was read, built again after). The
//! counters and the profiler cost frame time: the figures of such a run are for finding where
//! the time goes, not for the report.

use e2e::browser::Page;
use e2e::Result;
use serde_json::json;

/// Patches the page to count the list's work (see the module docs) into `window.__listWork`.
const COUNTERS_JS: &str = r#"(() => {
  const work = window.__listWork = { forcedLayouts: 0, forcedLayoutMs: 0, scrollTopWrites: 0, scrollTopMs: 0, rowsAdded: {} };
  const height = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'offsetHeight');
  Object.defineProperty(HTMLElement.prototype, 'offsetHeight', { get() {
    const t = performance.now();
    const value = height.get.call(this);
    const took = performance.now() - t;
    if (took > 0.2) { work.forcedLayouts++; work.forcedLayoutMs += took; }
    return value;
  } });
  const top = Object.getOwnPropertyDescriptor(Element.prototype, 'scrollTop');
  Object.defineProperty(Element.prototype, 'scrollTop', { get() { return top.get.call(this); }, set(value) {
    const t = performance.now();
    top.set.call(this, value);
    work.scrollTopWrites++;
    work.scrollTopMs += performance.now() - t;
  } });
  new MutationObserver(records => {
    for (const record of records) for (const node of record.addedNodes) {
      const kind = node.classList?.contains('row--reading') ? 'reading'
        : node.classList?.contains('gap') ? 'skeleton' : 'other';
      work.rowsAdded[kind] = (work.rowsAdded[kind] ?? 0) + 1;
    }
  }).observe(document.querySelector('.messages__canvas'), { childList: true });
  return true;
})()"#;

/// A profile being recorded, and where it goes.
pub struct Profile {
    path: std::path::PathBuf,
}

impl Profile {
    /// Starts the counters and the CPU profiler when `UI_BENCH_PROFILE` names a file.
    pub async fn start_if_asked(page: &Page<'_>) -> Result<Option<Self>> {
        let Some(path) = std::env::var_os("UI_BENCH_PROFILE") else {
            return Ok(None);
        };
        page.evaluate(COUNTERS_JS).await?;
        page.call("Profiler.enable", json!({})).await?;
        page.call("Profiler.setSamplingInterval", json!({ "interval": 100 }))
            .await?;
        page.call("Profiler.start", json!({})).await?;
        Ok(Some(Self { path: path.into() }))
    }

    /// Stops the profiler, writes the profile and prints the counters.
    pub async fn finish(self, page: &Page<'_>) -> Result<()> {
        let stopped = page.call("Profiler.stop", json!({})).await?;
        let work = page.evaluate("JSON.stringify(window.__listWork)").await?;
        eprintln!("ui-bench: the list's work over the scroll: {work}");
        match std::fs::write(&self.path, stopped["profile"].to_string()) {
            Ok(()) => eprintln!("ui-bench: CPU profile in {}", self.path.display()),
            Err(error) => eprintln!("ui-bench: could not write {}: {error}", self.path.display()),
        }
        Ok(())
    }
}
