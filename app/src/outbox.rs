//! What the page does for the outbox beside queueing: asks for Background Sync, so queued
//! messages go out even if the agent closes the tab, and shows each upload's progress. The
//! sending itself runs in the tab's live worker ([`crate::cache::AppCache::send_outbox`]:
//! one flush at a time, under a Web Lock shared with every tab and the service worker, again
//! when a backoff ends, on start and when the network comes back).

use chat_sync_idb::outbox_sender;

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
