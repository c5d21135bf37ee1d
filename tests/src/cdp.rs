//! A minimal Chrome DevTools Protocol client over one browser-level websocket, with flattened
//! sessions: `call` sends a command (optionally to a target's session) and awaits its reply;
//! `events` yields every event the browser sends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::{HarnessError, Result};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<std::result::Result<Value, String>>>>>;

/// A connection to a browser's DevTools endpoint.
pub struct Cdp {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<Value>,
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
        tokio::spawn(async move {
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
        })
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
