//! Who is signed in, as seen from the service worker.
//!
//! The session cookie is HttpOnly, so the worker cannot read it; instead it asks the server,
//! `GET /api/auth/me` (same origin, with credentials), on every push. That costs one small
//! local request per push but is never stale: after a sign-out, or another agent signing in
//! on a shared machine, a push is never written into the previous agent's cache. When the
//! server cannot be reached (a transient failure), the last answer of this worker's lifetime
//! is used, since the push itself proves the session was recently valid; a 401/403 means
//! signed out and the push is dropped.

use std::cell::RefCell;

use chat_sync::protocol::{CurrentUser, ErrorBody};
use chat_sync_idb::http::classify;
use chat_sync_idb::{platform, FetchError};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCredentials, RequestInit, Response};

use crate::error::WorkerError;

thread_local! {
    static LAST_KNOWN: RefCell<Option<CurrentUser>> = const { RefCell::new(None) };
}

/// Forgets the last answer (the app says the session changed).
pub fn forget() {
    LAST_KNOWN.with(|last| last.borrow_mut().take());
}

/// The signed-in user.
pub async fn current_user() -> Result<CurrentUser, WorkerError> {
    match fetch_me().await {
        Ok(user) => {
            LAST_KNOWN.with(|last| *last.borrow_mut() = Some(user.clone()));
            Ok(user)
        }
        Err(FetchError::Refused { status, detail, .. }) => {
            forget();
            Err(WorkerError::SignedOut(format!("{status}: {detail}")))
        }
        Err(error) => match LAST_KNOWN.with(|last| last.borrow().clone()) {
            Some(user) => {
                tracing::warn!(%error, user = %user.id, "session lookup failed; using the last known user");
                Ok(user)
            }
            None => Err(WorkerError::Session(error)),
        },
    }
}

async fn fetch_me() -> Result<CurrentUser, FetchError> {
    let transient = |value: &wasm_bindgen::JsValue| {
        let error = chat_sync_idb::DomError::from_js(value);
        FetchError::Transient {
            status: None,
            detail: format!("{}: {}", error.name, error.message),
        }
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_credentials(RequestCredentials::SameOrigin);
    let request = web_sys::Request::new_with_str_and_init("/api/auth/me", &init)
        .map_err(|e| transient(&e))?;
    let _ = request.headers().set("Accept", "application/json");
    let response: Response = JsFuture::from(platform::fetch(&request).map_err(|e| transient(&e))?)
        .await
        .map_err(|e| transient(&e))?
        .dyn_into()
        .map_err(|e| transient(&e))?;
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|e| {
            FetchError::Invalid(chat_sync::protocol::InvalidInput::Malformed {
                what: "current user",
                reason: e.to_string(),
            })
        });
    }
    let body = serde_json::from_str::<ErrorBody>(&text).unwrap_or(ErrorBody {
        error: String::new(),
        detail: text.chars().take(200).collect(),
    });
    Err(classify(status, body))
}
