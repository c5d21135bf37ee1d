//! Errors: the `DOMException` → [`StoreError`] mapping that keeps the browser's name and
//! message, and the runtime's own typed error with its causes.

use chat_sync::outbox::OutboxError;
use chat_sync::protocol::InvalidInput;
use chat_sync::store::StoreError;
use js_sys::Reflect;
use thiserror::Error;
use wasm_bindgen::JsValue;

/// A `DOMException` (or any thrown JavaScript value) reduced to its name and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomError {
    /// The exception's `name`, e.g. `QuotaExceededError`.
    pub name: String,
    /// The exception's `message`.
    pub message: String,
}

impl DomError {
    /// Reads `name` and `message` from a thrown value; a value without them (a string, or
    /// `null` when a request failed without an error) is described as well as it can be.
    pub fn from_js(value: &JsValue) -> Self {
        let text = |key: &str| {
            Reflect::get(value, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
        };
        if value.is_object() {
            if let (Some(name), message) = (text("name"), text("message")) {
                return Self {
                    name,
                    message: message.unwrap_or_default(),
                };
            }
        }
        Self {
            name: "Error".to_owned(),
            message: value.as_string().unwrap_or_else(|| format!("{value:?}")),
        }
    }

    /// An error raised by this crate rather than the browser, with the same shape.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// Maps to the store's error: `QuotaExceededError` becomes
    /// [`StoreError::QuotaExceeded`] (the caller evicts and retries), a closed or closing
    /// connection becomes [`StoreError::Closed`] (the store reopens and retries once), and
    /// anything else is a [`StoreError::Backend`] keeping the name and message.
    pub fn into_store_error(self, operation: &'static str) -> StoreError {
        match self.name.as_str() {
            "QuotaExceededError" => StoreError::QuotaExceeded {
                operation,
                message: self.message,
            },
            // `InvalidStateError` is what `transaction()` throws on a closed connection;
            // `UnknownError` with a closing message is what Chrome reports when it closed it.
            "InvalidStateError" => StoreError::Closed {
                operation,
                message: self.message,
            },
            _ if self.message.contains("connection is closing")
                || self.message.contains("connection was closed") =>
            {
                StoreError::Closed {
                    operation,
                    message: self.message,
                }
            }
            _ => StoreError::Backend {
                operation,
                name: self.name,
                message: self.message,
            },
        }
    }
}

/// Shorthand: maps a thrown JavaScript value to a [`StoreError`] for `operation`.
pub fn store_error(operation: &'static str, value: &JsValue) -> StoreError {
    DomError::from_js(value).into_store_error(operation)
}

/// Why a request to the server failed (a history fetch, the chat list, the session lookup),
/// in the terms the planner needs.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FetchError {
    /// The network failed, timed out, or the server answered 5xx: retry later.
    #[error("request failed, to be retried ({}): {detail}", .status.map_or_else(|| "no reply".to_owned(), |s| s.to_string()))]
    Transient {
        /// The HTTP status, when there was a reply.
        status: Option<u16>,
        /// What happened.
        detail: String,
    },
    /// The server refused for good (401, 403, 404).
    #[error("request refused with {status}: {code}: {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error body's code.
        code: String,
        /// The error body's detail.
        detail: String,
    },
    /// The server does not support this kind of history fetch (405, 501, or 400
    /// `unsupported`).
    #[error("history fetch method unsupported ({status}): {detail}")]
    Unsupported {
        /// The HTTP status.
        status: u16,
        /// What the server said.
        detail: String,
    },
    /// The reply was not what was asked for (a history page, the chat list, a stored
    /// message); the inner error names which, and why.
    #[error("invalid reply: {0}")]
    Invalid(#[from] InvalidInput),
}

impl FetchError {
    /// The failure as the core's sync engine weighs it (retry, refusal, fallback, revoke).
    pub fn failure(&self) -> chat_sync::engine::fetch::Failure {
        use chat_sync::engine::fetch::Failure;
        match self {
            FetchError::Transient { .. } => Failure::Transient,
            FetchError::Invalid(_) => Failure::Invalid,
            FetchError::Refused { status, .. } => Failure::Refused(*status),
            FetchError::Unsupported { .. } => Failure::Unsupported,
        }
    }
}

/// The runtime's error: every failure names its cause.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SyncError {
    /// The cache failed.
    #[error("cache: {0}")]
    Store(#[from] StoreError),
    /// A history fetch failed.
    #[error("fetch: {0}")]
    Fetch(#[from] FetchError),
    /// The caller's input was refused before anything was written (e.g. an empty message).
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was refused.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A browser API this runtime needs is missing or threw.
    #[error("{api} failed: {}: {}", .cause.name, .cause.message)]
    Platform {
        /// The API (e.g. `navigator.locks.request`).
        api: &'static str,
        /// What the browser said.
        cause: DomError,
    },
}

impl SyncError {
    /// The outbox's refusal inside this error, if it is one (e.g. [`OutboxError::Full`],
    /// which the composer shows as "the outbox is full").
    pub fn outbox_error(&self) -> Option<&OutboxError> {
        match self {
            SyncError::Store(StoreError::Outbox(error)) => Some(error),
            _ => None,
        }
    }

    /// A failed browser API call.
    pub fn platform(api: &'static str, value: &JsValue) -> Self {
        SyncError::Platform {
            api,
            cause: DomError::from_js(value),
        }
    }
}

impl From<OutboxError> for SyncError {
    /// An outbox refusal is carried the way the store reports it, so
    /// [`SyncError::outbox_error`] finds it whichever layer refused.
    fn from(error: OutboxError) -> Self {
        SyncError::Store(StoreError::Outbox(error))
    }
}
