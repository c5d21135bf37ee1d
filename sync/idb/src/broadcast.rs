//! Change notices between contexts: after every committed ingest the runtime announces what
//! changed on a `BroadcastChannel` named after the user's database, so every open tab and the
//! service worker update their views without polling.
//!
//! A `BroadcastChannel` delivers to every other channel object of the same name in the
//! origin, including other objects in the same context, but never to the posting object.

pub use chat_sync::notice::{ChangeNotice, FetchNotice, NoticeSource};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use crate::error::SyncError;
use crate::platform;

/// The channel name for a database: one channel per user's cache.
pub fn channel_name(database_name: &str) -> String {
    format!("chat-sync:{database_name}")
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
        let channel = platform::broadcast_channel(name)
            .map_err(|e| SyncError::platform("new BroadcastChannel", &e))?;
        Ok(Self { channel })
    }

    /// Announces a change to every other listener (as JSON text, which every context can
    /// parse the same way).
    pub fn announce<T: Serialize>(&self, notice: &T) -> Result<(), SyncError> {
        let text = chat_sync::notice::encode(notice);
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
    let channel = platform::broadcast_channel(name)
        .map_err(|e| SyncError::platform("new BroadcastChannel", &e))?;
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let message = event
            .data()
            .as_string()
            .ok_or_else(|| "not text".to_owned())
            .and_then(|text| {
                chat_sync::notice::decode::<T>(&text, what).map_err(|e| e.to_string())
            });
        match message {
            Ok(message) => on_message(message),
            Err(error) => crate::log_warn!(%error, what, "ignoring a malformed message"),
        }
    });
    channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    Ok(Subscription {
        channel,
        _handler: handler,
    })
}
