//! Replies served in place of the server's, by CDP `Fetch` interception on one page, for
//! tests that need a broken or hostile server (`tests/hostile.rs`): the server itself only
//! ever answers what the contract allows.
//!
//! The intercepted session must have `Fetch.enable` with patterns covering the URLs. A page's
//! session sees the page's requests (and its dedicated workers'), never the service worker's:
//! to intercept the service worker's, run the interceptor on the worker's own session
//! ([`Interceptor::run_in`] with [`crate::browser::Browser::service_worker_session`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::Engine as _;
use chat_sync::hostile_corpus::Case;
use serde_json::{json, Value};
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::browser::Page;
use crate::cdp::Cdp;

/// Replies served in place of the server's, by CDP `Fetch` interception on one page: each
/// paused request whose URL contains a queue's key gets that queue's next case (with status
/// 200), every other request goes to the server.
///
/// A queue's last case may be sticky: served again for every later request, so that no
/// second fetch of the same resource (the app has two chat list readers) undoes it.
pub struct Interceptor {
    queues: Mutex<Vec<(String, VecDeque<Case>, bool)>>,
    served: Mutex<Vec<(String, String)>>,
}

impl Interceptor {
    /// An interceptor with nothing to serve (every request goes to the server).
    pub fn new() -> Self {
        Self {
            queues: Mutex::default(),
            served: Mutex::default(),
        }
    }

    /// Serves `cases` in order to requests whose URL contains `key`; the last one for good
    /// when `sticky`.
    pub fn add(&self, key: &str, cases: Vec<Case>, sticky: bool) {
        if let Ok(mut queues) = self.queues.lock() {
            queues.push((key.to_owned(), cases.into(), sticky));
        }
    }

    /// Cases served so far whose URL contains `key`.
    pub fn served(&self, key: &str) -> Vec<String> {
        self.served
            .lock()
            .map(|s| {
                s.iter()
                    .filter(|(url, _)| url.contains(key))
                    .map(|(_, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Cases still queued for URLs containing `key`.
    pub fn left(&self, key: &str) -> usize {
        self.queues
            .lock()
            .map(|q| {
                q.iter()
                    .filter(|(k, ..)| k == key)
                    .map(|(_, c, _)| c.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Answers the paused requests of `page`, read from `events` (subscribed before
    /// `Fetch.enable`), until the connection closes: run it beside the test's steps with
    /// `tokio::select!`.
    pub async fn run(&self, page: &Page<'_>, events: Receiver<Value>) {
        self.run_in(&page.browser().cdp, &page.session_id, events)
            .await
    }

    /// [`Interceptor::run`] for the target of `session` (a page's or a worker's).
    pub async fn run_in(&self, cdp: &Cdp, session: &str, mut events: Receiver<Value>) {
        let call = |method: &'static str, params: Value| cdp.call(method, params, Some(session));
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if event["method"] != "Fetch.requestPaused" || event["sessionId"] != session {
                continue;
            }
            let id = event["params"]["requestId"].clone();
            let url = event["params"]["request"]["url"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let next = self.queues.lock().ok().and_then(|mut queues| {
                queues
                    .iter_mut()
                    .find(|(key, cases, _)| url.contains(key.as_str()) && !cases.is_empty())
                    .and_then(|(_, cases, sticky)| match (cases.len(), *sticky) {
                        (1, true) => cases.front().cloned(),
                        _ => cases.pop_front(),
                    })
            });
            let reply = match next {
                Some(case) => {
                    let body =
                        base64::engine::general_purpose::STANDARD.encode(case.json.as_bytes());
                    if let Ok(mut served) = self.served.lock() {
                        served.push((url, case.name));
                    }
                    call(
                        "Fetch.fulfillRequest",
                        json!({ "requestId": id, "responseCode": 200, "body": body,
                                "responseHeaders": [{ "name": "Content-Type", "value": "application/json" }] }),
                    )
                    .await
                }
                None => call("Fetch.continueRequest", json!({ "requestId": id })).await,
            };
            if let Err(error) = reply {
                eprintln!("interceptor: {error}");
            }
        }
    }
}

impl Default for Interceptor {
    fn default() -> Self {
        Self::new()
    }
}
