//! An optional look inside the 100,000-message scroll: with `UI_BENCH_PROFILE=<file>` the
//! benchmark records the page's CPU profile over that scroll ([`CpuProfile`]) and prints
//! counters of the list's work: layouts the page forced (`offsetHeight` reads that took
//! over 0.2 ms), `scrollTop` writes and their time, and rows added to the list by kind
//! (`reading`: a placeholder built before its message was read, built again after). The
//! counters and the profiler cost frame time: the figures of such a run are for finding where
//! the time goes, not for the report.

use e2e::browser::Page;
use e2e::cpu_profile::CpuProfile;
use e2e::Result;

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

/// The scroll's CPU profile and the list's work counters, being recorded.
pub struct Profile {
    cpu: CpuProfile,
}

impl Profile {
    /// Starts the counters and the CPU profiler when `UI_BENCH_PROFILE` names a file.
    pub async fn start_if_asked(page: &Page<'_>) -> Result<Option<Self>> {
        if std::env::var_os("UI_BENCH_PROFILE").is_none() {
            return Ok(None);
        }
        page.evaluate(COUNTERS_JS).await?;
        Ok(CpuProfile::start_if_asked(page, "UI_BENCH_PROFILE", 100)
            .await?
            .map(|cpu| Self { cpu }))
    }

    /// Stops the profiler, writes the profile and prints the counters.
    pub async fn finish(self, page: &Page<'_>) -> Result<()> {
        self.cpu.finish(page).await?;
        let work = page.evaluate("JSON.stringify(window.__listWork)").await?;
        eprintln!("ui-bench: the list's work over the scroll: {work}");
        Ok(())
    }
}
