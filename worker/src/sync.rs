//! Background Sync (`sync` event, tag [`SYNC_TAG`]): sends the outbox and repairs the gaps of
//! every chat with cached messages, even with every tab closed.
//!
//! The page registers the tag when it queues a message
//! ([`chat_sync_idb::outbox_sender::request_background_sync`]); the browser fires the event
//! when the network is back. The flush runs under the same Web Lock as the tabs' flushes, so
//! an entry is never sent twice at once. When entries remain queued after a failure that may
//! pass, the returned promise rejects (unless it is the browser's last chance), which is how a
//! service worker asks the browser to fire the sync again later with its own backoff.

use chat_sync::RequestId;
use chat_sync_idb::outbox_sender::{self, FlushReport, SYNC_TAG};
use std::future::Future;

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
    let report = for_signed_in(Some(false), true, None)
        .await?
        .unwrap_or_default();
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
        "service worker: outbox flushed"
    );
}

/// A page whose live worker could not start asks for its catch-up
/// ([`chat_sync::notice::PageMessage::CatchUp`]): the same one as a Background Sync's.
pub fn catch_up_for_page() -> impl Future<Output = Result<Option<FlushReport>, WorkerError>> {
    for_signed_in(None, true, None)
}

/// A page whose live worker could not start asks for its outbox to be sent
/// ([`chat_sync::notice::PageMessage::SendOutbox`]): the Background Sync's flush, with every
/// backoff ended first. What remains waits for the next ask, or for a Background Sync where
/// the browser has one.
pub fn send_for_page() -> impl Future<Output = Result<Option<FlushReport>, WorkerError>> {
    for_signed_in(Some(true), false, None)
}

/// A page whose live worker could not start has a reader waiting at the oldest cached
/// message of `request_id` ([`chat_sync::notice::PageMessage::LoadOlder`]): one page of
/// older history (the newest page of a chat never opened), one attempt (the page asks
/// again); a failure is the message handler's to log.
pub async fn load_older_for_page(request_id: &RequestId) -> Result<(), WorkerError> {
    for_signed_in(None, false, Some(request_id)).await.map(drop)
}

/// For the signed-in agent: flushes the outbox when `send` says so (`Some(wake)`, see
/// [`outbox_sender::flush_waking`]), then catches the cache up when `catch_up` does, or
/// fetches one page of `older` history of a chat. Every
/// request names the agent it is made for: should another agent sign in meanwhile, the
/// server refuses the rest instead of taking it as his. One body for the `sync` event and
/// the pages' asks.
async fn for_signed_in(
    send: Option<bool>,
    catch_up: bool,
    older: Option<&RequestId>,
) -> Result<Option<FlushReport>, WorkerError> {
    let user = session::current_user().await?;
    chat_sync_idb::agent::acting_as(&user.id, async {
        let state = state::for_user(&user.id).await?;
        let mut report = None;
        if let Some(wake) = send {
            let runtime = state.driver.runtime();
            let flushed = if wake {
                outbox_sender::flush_waking(runtime, "").await?
            } else {
                outbox_sender::flush(runtime, "").await?
            };
            log_report(&flushed);
            report = Some(flushed);
        }
        if catch_up {
            repair_cached_chats(&state).await;
        }
        if let Some(request_id) = older {
            state
                .driver
                .load_older_while_reading(request_id, || false)
                .await?;
        }
        Ok(report)
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
