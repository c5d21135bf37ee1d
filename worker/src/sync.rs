//! Background Sync (`sync` event, tag [`SYNC_TAG`]): sends the outbox and repairs the gaps of
//! every chat with cached messages, even with every tab closed.
//!
//! The page registers the tag when it queues a message
//! ([`chat_sync_idb::outbox_sender::request_background_sync`]); the browser fires the event
//! when the network is back. The flush runs under the same Web Lock as the tabs' flushes, so
//! an entry is never sent twice at once. When entries remain queued after a failure that may
//! pass, the returned promise rejects (unless it is the browser's last chance), which is how a
//! service worker asks the browser to fire the sync again later with its own backoff.

use chat_sync_idb::outbox_sender::{self, FlushReport, SYNC_TAG};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::WorkerError;
use crate::{session, state};

/// What the sync event asks of the browser afterwards.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Done (or nothing to do).
    Done,
    /// Queued entries remain after a transient failure: fire the sync again later.
    Retry(String),
}

fn text(event: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(event, &JsValue::from_str(key)).ok()
}

/// Handles one `sync` event.
pub async fn handle(event: web_sys::ExtendableEvent) -> Result<After, WorkerError> {
    let tag = text(&event, "tag").and_then(|t| t.as_string());
    let last_chance = text(&event, "lastChance")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if tag.as_deref() != Some(SYNC_TAG) {
        chat_sync_idb::log_info!(?tag, "a sync event for another tag: ignored");
        return Ok(After::Done);
    }
    let user = session::current_user().await?;
    // Every request of this sync names the agent it sends for: should another agent sign
    // in meanwhile, the server refuses the rest instead of taking it as his.
    let report = chat_sync_idb::agent::acting_as(&user.id, async {
        let state = state::for_user(&user.id).await?;
        let report = outbox_sender::flush(state.driver.runtime(), "").await?;
        log_report(&report);
        repair_cached_chats(&state).await;
        Ok::<_, WorkerError>(report)
    })
    .await?;
    if report.wants_retry() && !last_chance {
        return Ok(After::Retry(format!(
            "{} queued message(s) failed to send and wait for a retry",
            report.retrying.len()
        )));
    }
    Ok(After::Done)
}

fn log_report(report: &FlushReport) {
    chat_sync_idb::log_info!(
        sent = report.sent.len(),
        retrying = report.retrying.len(),
        parked = report.parked.len(),
        signed_out = report.signed_out,
        remaining = report.remaining,
        "background sync: outbox flushed"
    );
}

/// A page whose live worker could not start asks for its catch-up
/// ([`chat_sync::notice::PageMessage::CatchUp`]): the same one as a Background Sync's, for
/// the signed-in agent. Nobody signed in, or a failure, is logged: the page's own views
/// still show the cache.
pub async fn catch_up_for_page() -> Result<(), WorkerError> {
    let user = session::current_user().await?;
    chat_sync_idb::agent::acting_as(&user.id, async {
        let state = state::for_user(&user.id).await?;
        repair_cached_chats(&state).await;
        Ok::<_, WorkerError>(())
    })
    .await
}

/// The same catch-up the live channel runs after every reconnect (`live::catch_up`): the
/// chat list, exactly the missing ranges of every cached chat, the changes since each cached
/// version, and a chat the server no longer lets the agent see let go of. Failures are logged:
/// the app catches up on its next start.
async fn repair_cached_chats(state: &state::UserState) {
    match state.catch_up().await {
        Ok(report) => chat_sync_idb::log_info!(?report, "service worker: caught up"),
        Err(error) => chat_sync_idb::log_warn!(%error, "service worker: catch-up failed"),
    }
}
