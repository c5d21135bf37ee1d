//! A chat's notifications close once the agent looks at it: when its page has focus and
//! shows the chat (opened there, or focused again on it). The service worker shows a
//! notification only while no focused window shows the chat (so none arrives for a chat
//! while the agent looks at it); this is the other half, so a
//! notification quoting the customer does not stay in the system's notification centre
//! after the agent has read the message. A page without focus (another window in front, a
//! tab in the background) closes nothing: there the notification is still how the agent
//! learns of the message.

use chat_sync::RequestId;
use leptos::task::spawn_local;

/// Closes the notifications of `request_id` if this page has focus; does nothing otherwise.
pub(super) fn close_notifications_if_seen(request_id: &RequestId) {
    let focused = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.has_focus().ok())
        .unwrap_or(false);
    if !focused {
        return;
    }
    let request_id = request_id.clone();
    spawn_local(async move {
        match chat_sync_idb::service_worker::close_chat_notifications(&request_id).await {
            Ok(0) => {}
            Ok(closed) => {
                chat_sync_idb::log_debug!(chat = %request_id, closed, "closed the notifications of the chat the agent reads");
            }
            Err(error) => {
                chat_sync_idb::log_warn!(chat = %request_id, %error, "could not close the chat's notifications");
            }
        }
    });
}
