//! A minimal Chrome DevTools Protocol client over one browser-level websocket, with flattened
//! sessions: `call` sends a command (optionally to a target's session) and awaits its reply;
//! `events` yields every event the browser sends.
//!
//! It can also cut a page's requests that match a pattern, its dedicated workers' included
//! ([`Cdp::cut`]): network emulation or blocked URLs set on a page do not reliably reach a
//! worker the page started (its live worker, which streams, catches up and sends), and
//! emulation cannot be set on the worker's own session (nor did `Fetch.enable` there pause
//! anything, measured 2026-12-06). `Fetch.enable` on the page's session does pause its
//! workers' requests; the connection's reader fails each paused request of a cut session as
//! a lost network fails it, as it comes. While a page is cut, Chromium no longer serves its
//! navigations from the service worker (an offline reload then fails), so a test cuts only
//! around what it sends, never across a navigation it needs served offline.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::{HarnessError, Result};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<std::result::Result<Value, String>>>>>;

/// The server's API, as a `Fetch` URL pattern (the app shell and media come from the service
/// worker's caches).
pub const API_PATTERN: &str = "*/api/*";

/// Ids of the commands the reader sends itself, far from [`Cdp::call`]'s.
const READER_IDS: u64 = 1 << 52;

/// A connection to a browser's DevTools endpoint.
pub struct Cdp {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<Value>,
    cuts: Arc<Mutex<HashSet<String>>>,
}

impl Cdp {
    /// Connects to `ws://…/devtools/browser/…`.
    pub async fn connect(url: &str) -> Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(4096);
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let replies = pending.clone();
        let event_sender = events.clone();
        let cuts: Arc<Mutex<HashSet<String>>> = Arc::default();
        let reader_cuts = cuts.clone();
        let reader_out = outgoing.clone();
        tokio::spawn(async move {
            let mut reader_id = READER_IDS;
            let mut send = |method: &str, params: Value, session: &str| {
                reader_id += 1;
                let command = json!({ "id": reader_id, "method": method, "params": params, "sessionId": session });
                let _ = reader_out.send(Message::Text(command.to_string().into()));
            };
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match value.get("id").and_then(Value::as_u64) {
                    Some(id) => {
                        let waiter = replies.lock().ok().and_then(|mut p| p.remove(&id));
                        if let Some(waiter) = waiter {
                            let reply = match value.get("error") {
                                Some(error) => Err(error["message"]
                                    .as_str()
                                    .unwrap_or("unknown error")
                                    .to_owned()),
                                None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                            };
                            let _ = waiter.send(reply);
                        }
                    }
                    None => {
                        let cut = value["method"] == "Fetch.requestPaused"
                            && reader_cuts.lock().is_ok_and(|cuts| {
                                cuts.contains(value["sessionId"].as_str().unwrap_or_default())
                            });
                        if cut {
                            send(
                                "Fetch.failRequest",
                                json!({ "requestId": value["params"]["requestId"], "errorReason": "InternetDisconnected" }),
                                value["sessionId"].as_str().unwrap_or_default(),
                            );
                        }
                        let _ = event_sender.send(value);
                    }
                }
            }
        });
        Ok(Self {
            outgoing,
            pending,
            next_id: AtomicU64::new(1),
            events,
            cuts,
        })
    }

    /// Cuts the requests matching `pattern` (a `Fetch` URL pattern, such as [`API_PATTERN`])
    /// of the page `session` and of its dedicated workers, or restores them (`None`): each
    /// fails as a lost network fails it (`net::ERR_INTERNET_DISCONNECTED`). See the module
    /// docs for what a cut page cannot do.
    pub async fn cut(&self, session: &str, pattern: Option<&str>) -> Result<()> {
        if let Ok(mut cuts) = self.cuts.lock() {
            if pattern.is_some() {
                cuts.insert(session.to_owned());
            } else {
                cuts.remove(session);
            }
        }
        match pattern {
            Some(pattern) => {
                self.call(
                    "Fetch.enable",
                    json!({ "patterns": [{ "urlPattern": pattern }] }),
                    Some(session),
                )
                .await?
            }
            None => self.call("Fetch.disable", json!({}), Some(session)).await?,
        };
        Ok(())
    }

    /// Sends `method` with `params`, to `session` when given, and awaits the result.
    pub async fn call(&self, method: &str, params: Value, session: Option<&str>) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (reply, waiter) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id, reply);
        }
        self.outgoing
            .send(Message::Text(command.to_string().into()))
            .map_err(|_| HarnessError::Setup("the devtools connection is closed".into()))?;
        let reply = tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
            .await
            .map_err(|_| HarnessError::Timeout {
                what: format!("a reply to {method}"),
                seconds: 30.0,
            })?
            .map_err(|_| HarnessError::Setup("the devtools connection closed".into()))?;
        reply.map_err(|message| HarnessError::Protocol {
            method: method.to_owned(),
            message,
        })
    }

    /// Every event from now on (`method`, `params`, `sessionId`).
    pub fn events(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
}
