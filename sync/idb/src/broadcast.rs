//! Change notices between contexts: after every committed ingest the runtime announces what
//! changed on a `BroadcastChannel` named after the user's database, so every open tab and the
//! service worker update their views without polling.
//!
//! A `BroadcastChannel` delivers to every other channel object of the same name in the
//! origin, including other objects in the same context, but never to the posting object.

use chat_sync::{RequestId, Seq};
use serde::{Deserialize, Serialize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use crate::error::SyncError;

/// What one committed ingest changed in a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeNotice {
    /// The chat.
    pub request_id: RequestId,
    /// Sequences stored for the first time.
    pub new_seqs: Vec<Seq>,
    /// Held messages replaced by the server's copy.
    pub replaced: u64,
    /// The chat's unread count after the ingest.
    pub unread: u32,
    /// Outbox entries the ingest confirmed.
    pub confirmed_outbox: Vec<String>,
    /// Where the messages came from (`Push`, `Live`, `Fetch`, `SendEcho`, `FullReload`,
    /// `Change`, `Outbox`, `Revoked`).
    pub source: String,
    /// Sequences redacted by this ingest: a view drops their text, a notification closes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Seq>,
    /// The chat was taken from the agent and has left the cache.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// Unsent messages of a revoked chat that were discarded (the server refuses them now).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discarded_outbox: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl ChangeNotice {
    /// A notice about `request_id` from `source` that says nothing else yet.
    pub fn about(request_id: &RequestId, source: &str) -> Self {
        Self {
            request_id: request_id.clone(),
            new_seqs: Vec::new(),
            replaced: 0,
            unread: 0,
            confirmed_outbox: Vec::new(),
            source: source.to_owned(),
            redacted: Vec::new(),
            revoked: false,
            discarded_outbox: 0,
        }
    }
}

/// The channel name for a database: one channel per user's cache.
pub fn channel_name(database_name: &str) -> String {
    format!("chat-sync:{database_name}")
}

/// A context's history requests for a chat went on the network (`fetching: true`) or all came
/// back (`false`), announced on [`fetch_channel_name`] so a page shows its sync indicator
/// whichever context (the service worker, another tab) runs the fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchNotice {
    /// The chat.
    pub request_id: RequestId,
    /// Whether requests of `context` are on the network for it.
    pub fetching: bool,
    /// The announcing context (a random id per driver), so one context's end does not hide
    /// another's fetch.
    pub context: String,
}

/// The channel of [`FetchNotice`]s for a database.
pub fn fetch_channel_name(database_name: &str) -> String {
    format!("chat-sync-fetch:{database_name}")
}

/// The posting side.
#[derive(Debug)]
pub struct Broadcaster {
    channel: BroadcastChannel,
}

impl Broadcaster {
    /// Opens the channel `name`.
    pub fn new(name: &str) -> Result<Self, SyncError> {
        let channel = BroadcastChannel::new(name)
            .map_err(|e| SyncError::platform("new BroadcastChannel", &e))?;
        Ok(Self { channel })
    }

    /// Announces a change to every other listener (as JSON text, which every context can
    /// parse the same way).
    pub fn announce<T: Serialize>(&self, notice: &T) -> Result<(), SyncError> {
        let text = serde_json::to_string(notice).map_err(|e| SyncError::Platform {
            api: "serialize a change notice",
            cause: crate::error::DomError::new("EncodeError", e.to_string()),
        })?;
        self.channel
            .post_message(&JsValue::from_str(&text))
            .map_err(|e| SyncError::platform("BroadcastChannel.postMessage", &e))
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        self.channel.close();
    }
}

/// A listener; dropping it closes its channel and stops the callback.
pub struct Subscription {
    channel: BroadcastChannel,
    _handler: Closure<dyn FnMut(MessageEvent)>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel.name())
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Calls `on_change` for every notice announced on channel `name` by other channel objects.
/// Messages that are not notices are logged and ignored.
pub fn subscribe(
    name: &str,
    on_change: impl FnMut(ChangeNotice) + 'static,
) -> Result<Subscription, SyncError> {
    subscribe_to(name, "change notice", on_change)
}

/// Calls `on_message` for every message of type `T` (JSON text) announced on channel `name`
/// by other channel objects; anything else is logged as a malformed `what` and ignored.
pub fn subscribe_to<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &'static str,
    mut on_message: impl FnMut(T) + 'static,
) -> Result<Subscription, SyncError> {
    let channel =
        BroadcastChannel::new(name).map_err(|e| SyncError::platform("new BroadcastChannel", &e))?;
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let message = event
            .data()
            .as_string()
            .ok_or_else(|| "not text".to_owned())
            .and_then(|text| serde_json::from_str::<T>(&text).map_err(|e| e.to_string()));
        match message {
            Ok(message) => on_message(message),
            Err(error) => tracing::warn!(%error, what, "ignoring a malformed message"),
        }
    });
    channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    Ok(Subscription {
        channel,
        _handler: handler,
    })
}
