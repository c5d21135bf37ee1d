//! Notifications: shown for a pushed message unless a focused window already shows its chat,
//! and a click focuses (or opens) the chat at `/chat/{request_id}`.
//!
//! Without the notification permission (headless tests, a user who said no)
//! `showNotification` rejects: that is logged and never fails the push.

use chat_sync::{RequestId, Seq};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ClientQueryOptions, ClientType, NotificationOptions, ServiceWorkerGlobalScope, WindowClient,
};

use crate::error::WorkerError;

/// What a notification says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The chat (the notification's tag, so a chat has one notification at a time).
    pub request_id: RequestId,
    /// The sender's (or requester's) name.
    pub title: String,
    /// The message preview.
    pub body: String,
    /// The message shown, so a redaction of it closes the notification.
    pub seq: Seq,
}

fn scope() -> Option<ServiceWorkerGlobalScope> {
    chat_sync_idb::platform::global().dyn_into().ok()
}

/// The app's path of a chat.
pub fn chat_path(request_id: &RequestId) -> String {
    format!(
        "/chat/{}",
        String::from(js_sys::encode_uri_component(request_id.as_str()))
    )
}

/// The path of a URL (`http://host/chat/x?y#z` → `/chat/x`).
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

async fn window_clients() -> Vec<WindowClient> {
    let Some(scope) = scope() else {
        return Vec::new();
    };
    let options = ClientQueryOptions::new();
    options.set_type(ClientType::Window);
    options.set_include_uncontrolled(true);
    let Ok(list) = JsFuture::from(scope.clients().match_all_with_options(&options)).await else {
        return Vec::new();
    };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|c| c.dyn_into::<WindowClient>().ok())
        .collect()
}

/// Whether a focused window shows this chat (then no notification, and no unread count).
pub async fn chat_is_focused(request_id: &RequestId) -> bool {
    let path = chat_path(request_id);
    window_clients()
        .await
        .iter()
        .any(|c| c.focused() && path_of(&c.url()) == path)
}

/// Shows the notification; a refusal is logged.
pub async fn show(notice: &Notice) {
    let Some(scope) = scope() else {
        return;
    };
    let options = NotificationOptions::new();
    options.set_body(&notice.body);
    options.set_tag(notice.request_id.as_str());
    let data = js_sys::Object::new();
    let _ = Reflect::set(
        &data,
        &JsValue::from_str("url"),
        &JsValue::from_str(&chat_path(&notice.request_id)),
    );
    let _ = Reflect::set(
        &data,
        &JsValue::from_str("seq"),
        &JsValue::from_f64(notice.seq as f64),
    );
    options.set_data(&data);
    let shown = match scope
        .registration()
        .show_notification_with_options(&notice.title, &options)
    {
        Ok(promise) => JsFuture::from(promise).await.map(|_| ()),
        Err(error) => Err(error),
    };
    if let Err(error) = shown {
        let error = chat_sync_idb::DomError::from_js(&error);
        chat_sync_idb::log_info!(name = %error.name, message = %error.message, "notification not shown");
    }
}

/// Closes the chat's notifications that show one of `seqs` (a redaction), or all of them
/// (`None`: the chat was taken from the agent). A notification must not keep showing what
/// the cache has erased.
pub async fn close_showing(request_id: &RequestId, seqs: Option<&[Seq]>) {
    close_where(|notification| {
        if notification.tag().as_deref() != Some(request_id.as_str()) {
            return false;
        }
        let shown = Reflect::get(&notification.data(), &JsValue::from_str("seq"))
            .ok()
            .and_then(|v| v.as_f64())
            .map(|v| v as Seq);
        match (seqs, shown) {
            (None, _) => true,
            (Some(seqs), Some(shown)) => seqs.contains(&shown),
            // A notification that does not say what it shows may show the redacted message.
            (Some(_), None) => true,
        }
    })
    .await;
}

/// Closes every notification: the session changed (a sign-out, a session that ended, another
/// agent signing in), and each quotes a customer of the agent who was signed in.
pub async fn close_all() {
    close_where(|_| true).await;
}

/// Closes the notifications for which `close` says so.
async fn close_where(close: impl Fn(&web_sys::Notification) -> bool) {
    let Some(scope) = scope() else {
        return;
    };
    let list = match scope.registration().get_notifications() {
        Ok(promise) => JsFuture::from(promise).await,
        Err(error) => Err(error),
    };
    let list = match list {
        Ok(list) => js_sys::Array::from(&list),
        Err(error) => {
            let error = chat_sync_idb::DomError::from_js(&error);
            chat_sync_idb::log_warn!(name = %error.name, message = %error.message, "could not list notifications");
            return;
        }
    };
    for notification in list.iter() {
        let Ok(notification) = notification.dyn_into::<web_sys::Notification>() else {
            continue;
        };
        if close(&notification) {
            notification.close();
        }
    }
}

/// A click: close the notification, then focus a window showing the chat, else navigate an
/// open window there, else open a new one.
pub async fn click(event: web_sys::NotificationEvent) -> Result<(), WorkerError> {
    let notification = event.notification();
    notification.close();
    let path = Reflect::get(&notification.data(), &JsValue::from_str("url"))
        .ok()
        .and_then(|u| u.as_string())
        .filter(|u| u.starts_with("/chat/"))
        .unwrap_or_else(|| chat_path(&RequestId::new(notification.tag().unwrap_or_default())));
    let clients = window_clients().await;
    if let Some(client) = clients.iter().find(|c| path_of(&c.url()) == path) {
        JsFuture::from(client.focus().map_err(|e| WorkerError::js(&e))?)
            .await
            .map_err(|e| WorkerError::js(&e))?;
        return Ok(());
    }
    if let Some(client) = clients.first() {
        let navigated = client.navigate(&path).map_err(|e| WorkerError::js(&e))?;
        JsFuture::from(navigated)
            .await
            .map_err(|e| WorkerError::js(&e))?;
        JsFuture::from(client.focus().map_err(|e| WorkerError::js(&e))?)
            .await
            .map_err(|e| WorkerError::js(&e))?;
        return Ok(());
    }
    let Some(scope) = scope() else {
        return Ok(());
    };
    JsFuture::from(scope.clients().open_window(&path))
        .await
        .map_err(|e| WorkerError::js(&e))?;
    Ok(())
}
