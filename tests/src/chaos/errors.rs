//! The failures seen in the browser whatever the verdict says: uncaught exceptions from every
//! attached target, and console lines that always mean a failure.

use std::sync::{Arc, Mutex};

use crate::rig::Rig;

/// A console line that is a failure whatever else happens: a panic, or a store transaction
/// that the browser committed under a request still to come ("The transaction has finished",
/// a `TransactionInactiveError`: work was lost and only a later catch-up would mend it).
fn is_fatal_log(text: &str) -> bool {
    text.contains("panicked")
        || text.contains("transaction has finished")
        || text.contains("TransactionInactiveError")
}

/// Records uncaught exceptions and wasm panics from every attached target.
///
/// Not `guard::ErrorWatch`: that one also counts a rejected promise with no description, and
/// the service worker rejects a Background Sync event on purpose (a string saying how many
/// queued messages wait) so the browser retries it; the schedules cut the network often
/// enough that every run would fail on it.
pub(super) fn collect_errors(rig: &Rig) -> Arc<Mutex<Vec<String>>> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let mut events = rig.browser.cdp.events();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let text = match event["method"].as_str() {
                Some("Runtime.exceptionThrown") => event["params"]["exceptionDetails"]["exception"]
                    ["description"]
                    .as_str()
                    .map(str::to_owned),
                Some("Runtime.consoleAPICalled") => Some(
                    event["params"]["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["value"].as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
                .filter(|t| is_fatal_log(t)),
                _ => None,
            };
            if let Some(text) = text {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(text.lines().take(3).collect::<Vec<_>>().join(" | "));
            }
        }
    });
    errors
}
