//! Sends what the agent wrote: one flush at a time per tab (the sender itself holds a Web
//! Lock, so tabs and the service worker never send an entry twice), again when a backoff ends,
//! on start and when the network comes back; Background Sync is asked for too, so queued
//! messages go out even if the agent closes the tab.

use std::cell::Cell;
use std::rc::Rc;

use chat_sync_idb::outbox_sender;
use leptos::prelude::*;

use crate::cache::AppCache;

thread_local! {
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    static AGAIN: Cell<bool> = const { Cell::new(false) };
}

/// Sends the outbox now (or right after the flush already running).
pub fn kick(cache: Rc<AppCache>, on_signed_out: Callback<String>) {
    if RUNNING.with(|r| r.replace(true)) {
        AGAIN.with(|a| a.set(true));
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            match outbox_sender::flush(&cache.runtime, "").await {
                Ok(report) => {
                    if report.signed_out {
                        on_signed_out.run("Your session ended: sign in again to send.".to_owned());
                    } else if let Some(at) = report.next_wakeup {
                        // A backoff: try again when it ends.
                        let wait = (at - js_sys::Date::now() as i64).max(50) as u64;
                        let cache = cache.clone();
                        set_timeout(
                            move || kick(cache, on_signed_out),
                            std::time::Duration::from_millis(wait),
                        );
                    }
                }
                Err(error) => chat_sync_idb::log_warn!(%error, "could not send the outbox"),
            }
            if !AGAIN.with(|a| a.replace(false)) {
                break;
            }
        }
        RUNNING.with(|r| r.set(false));
    });
}

/// The network is back or the app started: queued messages skip their backoff and go out.
pub fn resume(cache: Rc<AppCache>, on_signed_out: Callback<String>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = outbox_sender::wake_all(&cache.runtime).await {
            chat_sync_idb::log_warn!(%error, "could not wake the outbox");
        }
        kick(cache, on_signed_out);
    });
}

/// Asks the service worker to send the outbox when the network is back, with every tab
/// closed (where the browser has Background Sync).
pub fn request_background_sync() {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = outbox_sender::request_background_sync().await {
            chat_sync_idb::log_warn!(%error, "Background Sync unavailable");
        }
    });
}

/// Shows upload progress on the pending message it belongs to ("Uploading 42 %"), whichever
/// context uploads: the sender announces it on the user's upload channel. The row's status
/// text is set in place (pending rows are built by `row_dom`, which says "Sending…").
pub fn show_upload_progress(
    database: &str,
) -> Result<chat_sync_idb::broadcast::Subscription, chat_sync_idb::SyncError> {
    chat_sync_idb::broadcast::subscribe_to(
        &chat_sync_idb::upload::upload_channel_name(database),
        "upload progress",
        |progress: chat_sync_idb::upload::UploadProgress| {
            let Some(document) = web_sys::window().and_then(|w| w.document()) else {
                return;
            };
            let selector = format!(
                "[data-testid=message][data-client-temp-id=\"{}\"] .msg__status",
                progress.client_temp_id.replace(['"', '\\'], "")
            );
            let Ok(Some(status)) = document.query_selector(&selector) else {
                return;
            };
            let text = if progress.total > 0 && progress.sent < progress.total {
                format!(
                    "Uploading {} %",
                    progress.sent.saturating_mul(100) / progress.total
                )
            } else {
                "Sending…".to_owned()
            };
            status.set_text_content(Some(&text));
        },
    )
}
