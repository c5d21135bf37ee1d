//! The worker's error type: what can make an event's work stop early.

use chat_sync::protocol::InvalidInput;
use chat_sync_idb::{DomError, FetchError, SyncError};
use thiserror::Error;
use wasm_bindgen::JsValue;

/// Why a service-worker event handler stopped.
#[derive(Debug, Error)]
pub enum WorkerError {
    /// A push payload that failed decoding or validation (never touches the cache).
    #[error("invalid push payload: {0}")]
    Payload(#[from] InvalidInput),
    /// No signed-in user: the push cannot be attributed to a cache.
    #[error("no signed-in user: {0}")]
    SignedOut(String),
    /// Asking the server who is signed in failed, and no earlier answer is known.
    #[error("session lookup failed: {0}")]
    Session(FetchError),
    /// The cache or the gap repair failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The app shell could not be cached or served.
    #[error("app shell: {0}")]
    Shell(String),
    /// A browser API threw.
    #[error("{}: {}", .0.name, .0.message)]
    Js(DomError),
}

impl WorkerError {
    /// Wraps a thrown JavaScript value.
    pub fn js(value: &JsValue) -> Self {
        Self::Js(DomError::from_js(value))
    }
}

impl From<chat_sync::store::StoreError> for WorkerError {
    fn from(error: chat_sync::store::StoreError) -> Self {
        Self::Sync(SyncError::Store(error))
    }
}
