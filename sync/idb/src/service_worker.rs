//! Small helpers over the page's `navigator.serviceWorker` (untyped, through `Reflect`, so the
//! same code compiles for every context; in a worker they find no container and do nothing).

use chat_sync::notice::PageMessage;
use chat_sync::RequestId;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::SyncError;
use crate::platform;

/// Reads `target[key]`, `None` when missing, `undefined` or `null`.
pub fn property(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Calls `target[method](args…)` and awaits the promise it returns.
pub async fn call_async(
    target: &JsValue,
    method: &'static str,
    args: &[JsValue],
) -> Result<JsValue, SyncError> {
    let function: Function = property(target, method)
        .ok_or_else(|| SyncError::Platform {
            api: method,
            cause: crate::DomError::new("NotSupportedError", format!("{method} is missing")),
        })?
        .dyn_into()
        .map_err(|e| SyncError::platform(method, &e))?;
    let list: js_sys::Array = args.iter().collect();
    let promise: Promise = function
        .apply(target, &list)
        .and_then(|p| p.dyn_into())
        .map_err(|e| SyncError::platform(method, &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| SyncError::platform(method, &e))
}

/// `navigator.serviceWorker`, where the context has it (a page).
pub fn container() -> Option<JsValue> {
    platform::navigator_property("serviceWorker")
}

/// The registration of this context: `self.registration` in a service worker, otherwise
/// `navigator.serviceWorker.getRegistration()` (given [`LOOKUP_TIMEOUT_MS`] to settle, since
/// a container in a worker may never answer). `None` when there is none.
pub async fn registration() -> Result<Option<JsValue>, SyncError> {
    if let Some(own) = platform::global_property("registration") {
        return Ok(Some(own));
    }
    let Some(container) = container() else {
        return Ok(None);
    };
    if property(&container, "getRegistration").is_none() {
        return Ok(None);
    }
    let lookup = Box::pin(call_async(&container, "getRegistration", &[]));
    let timeout = Box::pin(platform::sleep(LOOKUP_TIMEOUT_MS));
    let settled = futures::future::select(lookup, timeout).await;
    match settled {
        futures::future::Either::Left((registration, _)) => {
            let registration = registration?;
            Ok(Some(registration).filter(|r| !r.is_undefined() && !r.is_null()))
        }
        futures::future::Either::Right(_) => {
            crate::log_warn!("navigator.serviceWorker.getRegistration() did not settle");
            Ok(None)
        }
    }
}

/// Runs `call_async(target, method, args)` for at most `ms`; `Ok(None)` when it did not
/// settle in time (push calls never settle in a browser without a push service).
pub async fn call_async_within(
    target: &JsValue,
    method: &'static str,
    args: &[JsValue],
    ms: i64,
) -> Result<Option<JsValue>, SyncError> {
    let call = Box::pin(call_async(target, method, args));
    let timeout = Box::pin(platform::sleep(ms));
    let settled = futures::future::select(call, timeout).await;
    match settled {
        futures::future::Either::Left((result, _)) => result.map(Some),
        futures::future::Either::Right(_) => {
            crate::log_warn!(method, ms, "a browser call did not settle in time");
            Ok(None)
        }
    }
}

/// Closes the notifications the service worker shows, only those tagged `tag` when given
/// (the worker tags each with its chat's request id, so a chat has one at a time); how many
/// were closed. `getNotifications` is given [`LOOKUP_TIMEOUT_MS`] to settle; one that does
/// not is an error, since notifications quoting customers may still be showing.
pub async fn close_notifications(
    registration: &JsValue,
    tag: Option<&str>,
) -> Result<u32, SyncError> {
    let filter = js_sys::Object::new();
    if let Some(tag) = tag {
        Reflect::set(&filter, &JsValue::from_str("tag"), &JsValue::from_str(tag))
            .map_err(|e| SyncError::platform("getNotifications", &e))?;
    }
    let Some(list) = call_async_within(
        registration,
        "getNotifications",
        &[filter.into()],
        LOOKUP_TIMEOUT_MS,
    )
    .await?
    else {
        return Err(SyncError::Platform {
            api: "getNotifications",
            cause: crate::DomError::new("TimeoutError", "getNotifications() did not settle"),
        });
    };
    let mut closed = 0;
    for notification in js_sys::Array::from(&list).iter() {
        // The browser filters by tag; checked again, since closing another chat's
        // notification would hide a message the agent has not seen.
        let tagged = property(&notification, "tag").and_then(|t| t.as_string());
        if tag.is_some_and(|tag| tagged.as_deref() != Some(tag)) {
            continue;
        }
        if let Some(close) =
            property(&notification, "close").and_then(|f| f.dyn_into::<Function>().ok())
        {
            close
                .call0(&notification)
                .map_err(|e| SyncError::platform("Notification.close", &e))?;
            closed += 1;
        }
    }
    Ok(closed)
}

/// The agent is looking at a chat (its page has focus and shows it): the notifications of
/// that chat have said what they had to say, and the system would otherwise keep them in
/// its notification centre, quoting the customer, after the agent has read the message.
/// `Ok(0)` without a service worker registration (none, or its lookup did not settle).
pub async fn close_chat_notifications(request_id: &chat_sync::RequestId) -> Result<u32, SyncError> {
    let Some(registration) = registration().await? else {
        return Ok(0);
    };
    close_notifications(&registration, Some(request_id.as_str())).await
}

/// How long a registration lookup may take.
pub const LOOKUP_TIMEOUT_MS: i64 = 3_000;

/// Posts a typed message to a worker (`ServiceWorker.postMessage`), as the object its JSON
/// text describes (`{"type": "…", …}`); the worker decodes it with the same type.
pub fn post(worker: &JsValue, message: &PageMessage) -> Result<(), SyncError> {
    post_transferring(worker, message, &[])
}

/// [`post`] handing `transfer` over with the message (a `MessagePort` for the answer, say).
pub fn post_transferring(
    worker: &JsValue,
    message: &PageMessage,
    transfer: &[JsValue],
) -> Result<(), SyncError> {
    let text = chat_sync::notice::encode(message);
    let message = js_sys::JSON::parse(&text).map_err(|e| SyncError::platform("postMessage", &e))?;
    let post: Function = property(worker, "postMessage")
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| SyncError::Platform {
            api: "postMessage",
            cause: crate::DomError::new("NotSupportedError", "postMessage is missing"),
        })?;
    let transfer: js_sys::Array = transfer.iter().collect();
    post.call2(worker, &message, &transfer)
        .map_err(|e| SyncError::platform("postMessage", &e))?;
    Ok(())
}

/// Tells the service worker controlling this page to forget the agent it knows
/// ([`PageMessage::SessionChanged`]), when the page learns that the session ended or that
/// someone signed in. Until it asks the server again, the worker answers no media request
/// from an agent's cache: one that still took the previous agent for the signed-in one
/// would serve their files to whoever uses the browser next. `Ok(false)` when no worker
/// controls the page.
pub fn forget_session() -> Result<bool, SyncError> {
    let Some(controller) = container().and_then(|c| property(&c, "controller")) else {
        return Ok(false);
    };
    post(&controller, &PageMessage::SessionChanged)?;
    Ok(true)
}

/// How long a page waits for its service worker to be active before telling it something.
pub const READY_TIMEOUT_MS: i64 = 10_000;

/// Tells this page's active service worker that the server has just confirmed `user` as the
/// signed-in agent ([`PageMessage::SessionConfirmed`]), so a push that
/// reaches a worker which never asked the server itself, while the server is unreachable, is
/// still cached for that agent. `Ok(false)` where there is no service worker (another
/// browser, a worker context) or it did not become active in [`READY_TIMEOUT_MS`].
pub async fn confirm_session(user: &chat_sync::protocol::CurrentUser) -> Result<bool, SyncError> {
    post_to_active(&PageMessage::SessionConfirmed { user: user.clone() }).await
}

/// Asks this page's active service worker to catch up the signed-in agent's cache
/// ([`PageMessage::CatchUp`]): what a page whose live worker could not start does instead
/// of running the catch-up's code itself. `Ok(false)` as for [`confirm_session`].
pub async fn ask_catch_up() -> Result<bool, SyncError> {
    post_to_active(&PageMessage::CatchUp).await
}

/// Asks this page's active service worker to send the signed-in agent's outbox
/// ([`PageMessage::SendOutbox`]): what a page whose live worker could not start does instead
/// of running the sender's code itself. `Ok(false)` as for [`confirm_session`].
pub async fn ask_send_outbox() -> Result<bool, SyncError> {
    post_to_active(&PageMessage::SendOutbox).await
}

/// Asks this page's active service worker for one page of older history of `request_id`
/// ([`PageMessage::LoadOlder`]), for a reader waiting at its oldest cached message: what a
/// page whose live worker could not start does instead. `Ok(false)` as for
/// [`confirm_session`].
pub async fn ask_load_older(request_id: &RequestId) -> Result<bool, SyncError> {
    let message = PageMessage::LoadOlder {
        request_id: request_id.clone(),
    };
    post_to_active(&message).await
}

/// Posts `message` to this page's active service worker, once it is ready; `Ok(false)`
/// where there is none (another browser, a worker context) or it did not become active in
/// [`READY_TIMEOUT_MS`].
async fn post_to_active(message: &PageMessage) -> Result<bool, SyncError> {
    if platform::global_property("registration").is_some() {
        return Ok(false);
    }
    let Some(container) = container() else {
        return Ok(false);
    };
    let Some(ready) = property(&container, "ready").and_then(|p| p.dyn_into::<Promise>().ok())
    else {
        return Ok(false);
    };
    let ready = Box::pin(JsFuture::from(ready));
    let timeout = Box::pin(platform::sleep(READY_TIMEOUT_MS));
    let registration = match futures::future::select(ready, timeout).await {
        futures::future::Either::Left((Ok(registration), _)) => registration,
        futures::future::Either::Left((Err(error), _)) => {
            return Err(SyncError::platform("serviceWorker.ready", &error))
        }
        futures::future::Either::Right(_) => return Ok(false),
    };
    let Some(active) = property(&registration, "active") else {
        return Ok(false);
    };
    post(&active, message)?;
    Ok(true)
}
