//! Sends the outbox of a long-lived context whenever it is asked to: one [`flush`] at a time
//! (a request while one runs starts exactly one more right after it), again when the earliest
//! backoff ends, and a word to the caller when the server refused the session. The tab's
//! live worker runs it for its page; the service worker flushes once per event instead.

use std::cell::Cell;
use std::rc::Rc;

use super::{flush, flush_waking};
use crate::platform;
use crate::runtime::Runtime;

thread_local! {
    /// Whether a flush of this context runs.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    /// Whether another was asked for meanwhile (`Some(wake)`).
    static AGAIN: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The shortest wait before a backoff's re-run, so an end already past does not spin.
const MIN_WAKE_MS: i64 = 50;

/// Sends `runtime`'s outbox now (`wake`: backoffs end first, [`flush_waking`]), or right
/// after the flush already running; runs again when the earliest backoff ends.
/// `on_signed_out` is called when a flush met a 401 (every entry is kept; nothing runs
/// again until asked).
pub fn pump(runtime: Rc<Runtime>, wake: bool, on_signed_out: Rc<dyn Fn()>) {
    if RUNNING.with(|running| running.replace(true)) {
        AGAIN.with(|again| again.set(Some(again.get().unwrap_or(false) || wake)));
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let mut wake = wake;
        loop {
            let flushed = if wake {
                flush_waking(&runtime, "").await
            } else {
                flush(&runtime, "").await
            };
            match flushed {
                Ok(report) if report.signed_out => on_signed_out(),
                Ok(report) => {
                    if let Some(at) = report.next_wakeup {
                        let wait = (at - platform::now_ms()).max(MIN_WAKE_MS);
                        let (runtime, on_signed_out) = (runtime.clone(), on_signed_out.clone());
                        wasm_bindgen_futures::spawn_local(async move {
                            platform::sleep(wait).await;
                            pump(runtime, false, on_signed_out);
                        });
                    }
                }
                Err(error) => crate::log_warn!(%error, "could not send the outbox"),
            }
            match AGAIN.with(Cell::take) {
                Some(again) => wake = again,
                None => break,
            }
        }
        RUNNING.with(|running| running.set(false));
    });
}
