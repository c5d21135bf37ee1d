//! History fetches: the [`HistoryClient`] trait the driver uses, and its real implementation
//! over the context's `fetch()` against the contract of `SPEC.md`
//! (`GET /api/chat/messages?request_id&from_seq&to_seq`, and the cursor fallback
//! `before_seq&limit`), with the session cookie.
//!
//! The trait exists so the driver's single-flight can be tested against a counting test
//! double of the network while IndexedDB and Web Locks stay real.

use chat_sync::change_wire::ChangesPage;
use chat_sync::protocol::{ErrorBody, MessagesPage};
use chat_sync::{RequestId, Seq};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCredentials, RequestInit, Response};

use crate::error::{DomError, FetchError};
use crate::platform;

/// Where history comes from.
#[allow(async_fn_in_trait)]
pub trait HistoryClient {
    /// Messages `from ..= to` (at most the server's page limit), with the chat's last seq.
    async fn fetch_range(
        &self,
        request_id: &RequestId,
        from: Seq,
        to: Seq,
    ) -> Result<MessagesPage, FetchError>;

    /// Up to `limit` messages below `before` (the cursor fallback).
    async fn fetch_before(
        &self,
        request_id: &RequestId,
        before: Seq,
        limit: u64,
    ) -> Result<MessagesPage, FetchError>;

    /// The changes of the chat after version `since` (at most `limit`), ascending by version.
    async fn fetch_changes(
        &self,
        request_id: &RequestId,
        since: u64,
        limit: u64,
    ) -> Result<ChangesPage, FetchError>;
}

/// The real client: `fetch()` on the global scope, same-origin by default, with credentials.
#[derive(Clone, Debug)]
pub struct HttpHistoryClient {
    base_url: String,
}

impl HttpHistoryClient {
    /// A client for the backend at `base_url` (empty for the page's own origin).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The URL of a history fetch with the given query pairs.
    pub fn messages_url(&self, request_id: &RequestId, query: &[(&str, u64)]) -> String {
        let mut url = format!(
            "{}/api/chat/messages?request_id={}",
            self.base_url,
            String::from(js_sys::encode_uri_component(request_id.as_str()))
        );
        for (key, value) in query {
            url.push_str(&format!("&{key}={value}"));
        }
        url
    }

    /// `GET /api/chat/requests`: the signed-in agent's chats, for
    /// [`chat_sync::store::Store::apply_summaries`] (which makes validation possible).
    ///
    /// The list is validated as a whole ([`chat_sync::protocol::validate_chat_list`]): an
    /// entry with a last sequence beyond `MAX_SEQ` or a bad request id refuses the reply, so
    /// it can never poison a chat record (a record's last sequence only grows).
    pub async fn fetch_chat_list(&self) -> Result<Vec<chat_sync::ChatSummary>, FetchError> {
        let url = format!("{}/api/chat/requests", self.base_url);
        let list: chat_sync::protocol::ChatList = self.get_json(&url, "chat list").await?;
        chat_sync::protocol::validate_chat_list(&list).map_err(FetchError::Invalid)?;
        Ok(list.requests)
    }

    /// GETs `url` and decodes a page, mapping statuses to what the planner needs.
    pub async fn get_page(&self, url: &str) -> Result<MessagesPage, FetchError> {
        self.get_json(url, "messages page").await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &'static str,
    ) -> Result<T, FetchError> {
        get_json(url, what).await
    }
}

/// GETs `url` with the session cookie and decodes a JSON reply; an error status becomes the
/// [`FetchError`] the planner and callers act on (see [`classify`]). Used for every JSON read
/// of the contract, in windows, workers and the service worker alike.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    url: &str,
    what: &'static str,
) -> Result<T, FetchError> {
    send_json(url, "GET", None, what).await
}

/// POSTs `body` as JSON to `url` with the session cookie and decodes a JSON reply, with the
/// same error mapping as [`get_json`].
pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    url: &str,
    body: &B,
    what: &'static str,
) -> Result<T, FetchError> {
    let text = chat_sync::json::to_string(body).map_err(|e| FetchError::Transient {
        status: None,
        detail: format!("could not encode the {what} request: {e}"),
    })?;
    send_json(url, "POST", Some(&text), what).await
}

/// Sends a request with an optional JSON body and decodes the JSON reply.
pub async fn send_json<T: serde::de::DeserializeOwned>(
    url: &str,
    method: &str,
    body: Option<&str>,
    what: &'static str,
) -> Result<T, FetchError> {
    let js_body = body.map_or(JsValue::NULL, JsValue::from_str);
    let content_type = body.map(|_| "application/json");
    let Reply { status, text } = send(method, url, content_type, &js_body).await?;
    if (200..300).contains(&status) {
        // An empty success (204) reads as JSON `null`, which `()`, `Option` and `IgnoredAny`
        // accept.
        let text = if text.trim().is_empty() {
            "null"
        } else {
            text.as_str()
        };
        return chat_sync::json::from_str::<T>(text)
            .map_err(|e| FetchError::Invalid(chat_sync::decode::malformed(what, &e)));
    }
    let body = chat_sync::json::from_str::<ErrorBody>(&text).unwrap_or(ErrorBody {
        error: String::new(),
        detail: text.chars().take(200).collect(),
    });
    Err(classify(status, body))
}

/// Maps an error status to the planner's terms: 405/501 (or a 400 saying the fetch kind is
/// unsupported) → unsupported, 401/403/404 → refused, anything else → transient.
pub fn classify(status: u16, body: ErrorBody) -> FetchError {
    match status {
        405 | 501 => FetchError::Unsupported {
            status,
            detail: body.detail,
        },
        400 if body.error.contains("unsupported") => FetchError::Unsupported {
            status,
            detail: body.detail,
        },
        401 | 403 | 404 | 410 => FetchError::Refused {
            status,
            code: body.error,
            detail: body.detail,
        },
        _ => FetchError::Transient {
            status: Some(status),
            detail: format!("{}: {}", body.error, body.detail),
        },
    }
}

fn describe(value: &JsValue) -> String {
    let error = DomError::from_js(value);
    format!("{}: {}", error.name, error.message)
}

impl HistoryClient for HttpHistoryClient {
    async fn fetch_range(
        &self,
        request_id: &RequestId,
        from: Seq,
        to: Seq,
    ) -> Result<MessagesPage, FetchError> {
        let url = self.messages_url(request_id, &[("from_seq", from), ("to_seq", to)]);
        self.get_page(&url).await
    }

    async fn fetch_before(
        &self,
        request_id: &RequestId,
        before: Seq,
        limit: u64,
    ) -> Result<MessagesPage, FetchError> {
        let url = self.messages_url(request_id, &[("before_seq", before), ("limit", limit)]);
        self.get_page(&url).await
    }

    async fn fetch_changes(
        &self,
        request_id: &RequestId,
        since: u64,
        limit: u64,
    ) -> Result<ChangesPage, FetchError> {
        let url = format!(
            "{}/api/chat/changes?request_id={}&since={since}&limit={limit}",
            self.base_url,
            String::from(js_sys::encode_uri_component(request_id.as_str()))
        );
        self.get_json(&url, "changes page").await
    }
}

/// A reply's status and body text, whatever the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The server's error text (`"{error}: {detail}"` of the contract's error body, or the
    /// start of the body when it is not one).
    pub fn error_text(&self) -> String {
        match chat_sync::json::from_str::<ErrorBody>(&self.text) {
            Ok(body) if body.detail.is_empty() => body.error,
            Ok(body) => format!("{}: {}", body.error, body.detail),
            Err(_) => self.text.chars().take(200).collect(),
        }
    }
}

/// How long a request may take before it counts as failed: a request that hangs must not
/// hold a chat's fetch lock or the outbox lock for ever.
pub const WRITE_TIMEOUT_MS: u32 = 30_000;

/// Sends `method url` with `body` (a string, `Blob` or `null`) and the session cookie, and
/// returns the reply whatever its status. `Err` (always [`FetchError::Transient`]) means no
/// reply came: offline, a network error, or [`WRITE_TIMEOUT_MS`] passed.
pub async fn send(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &JsValue,
) -> Result<Reply, FetchError> {
    send_within(method, url, content_type, body, WRITE_TIMEOUT_MS).await
}

/// [`send`] with a time limit of `timeout_ms` instead of [`WRITE_TIMEOUT_MS`].
pub async fn send_within(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &JsValue,
    timeout_ms: u32,
) -> Result<Reply, FetchError> {
    let transient = |detail: String| FetchError::Transient {
        status: None,
        detail,
    };
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::Include);
    if !body.is_null() && !body.is_undefined() {
        init.set_body(body);
    }
    if let Some(signal) = platform::timeout_signal(timeout_ms) {
        let _ = js_sys::Reflect::set(&init, &"signal".into(), &signal);
    }
    let request =
        web_sys::Request::new_with_str_and_init(url, &init).map_err(|e| transient(describe(&e)))?;
    let _ = request.headers().set("Accept", "application/json");
    if let Some(user) = crate::agent::expected_for(url) {
        let _ = request
            .headers()
            .set(crate::agent::EXPECT_USER_HEADER, &user);
    }
    if let Some(content_type) = content_type {
        let _ = request.headers().set("Content-Type", content_type);
    }
    let response = platform::fetch(&request).map_err(|e| transient(describe(&e)))?;
    let response: Response = JsFuture::from(response)
        .await
        .map_err(|e| transient(describe(&e)))?
        .dyn_into()
        .map_err(|e| transient(describe(&e)))?;
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .map_err(|e| transient(describe(&e)))?
            .as_string()
            .unwrap_or_default(),
        Err(e) => return Err(transient(describe(&e))),
    };
    Ok(Reply { status, text })
}
