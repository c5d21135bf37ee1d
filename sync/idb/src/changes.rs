//! The browser side of edits, redactions and revocation (issue 16). The core decides
//! (`chat_sync::changes`: a newer version wins, a redaction is final, a change of older
//! history waits for its message, when a catch-up is due); this module performs:
//!
//! - [`apply_change`]: one change from the live stream or a push goes through the one ingest
//!   path ([`Runtime::ingest`], `Source::Change`); a hole in the versions starts
//!   [`catch_up_changes`].
//! - [`catch_up_changes`]: "changes since the cached version", page by page, under the
//!   chat's changes lock so two contexts never ask for the same changes at once. Only what
//!   changed after the cached version is fetched, never the chat.
//! - [`revoke`]: a chat taken from the agent (a `revoked` event or push, a 403 on a fetch, or
//!   its absence from the chat list) leaves the cache whole: messages, record, unsent outbox
//!   entries and cached media, and every view is told why.
//!
//! A redaction's erased media leave Cache Storage in [`Runtime::ingest`] itself, whatever
//! source carried the tombstone.

use chat_sync::change_wire::validate_changes_page;
use chat_sync::changes::changes_since;
use chat_sync::decode::StreamEvent;
use chat_sync::ingest::{ChangeFacts, IngestReport, Source};
use chat_sync::store::Store;
use chat_sync::{Message, RequestId};

use crate::driver::Driver;
use crate::error::{FetchError, SyncError};
use crate::http::HistoryClient;
use crate::{locks, platform};

/// The most changes asked for in one request.
pub const CHANGES_PAGE: u64 = 500;

/// A bound on pages per catch-up, against a server that keeps saying "more".
const MAX_PAGES: u32 = 1_000;

/// What a [`catch_up_changes`] fetched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangesReport {
    /// Requests made.
    pub requests: u32,
    /// Changed messages received.
    pub changes: u64,
    /// Whether the chat turned out to be taken from the agent (and was let go of).
    pub revoked: bool,
    /// Sequences the catch-up redacted in the cache.
    pub redacted: Vec<chat_sync::Seq>,
}

/// The Web Lock that keeps one context at a time fetching a chat's changes.
pub fn changes_lock_name(database: &str, request_id: &RequestId) -> String {
    format!("{database}:changes:{request_id}")
}

/// Applies one changed message (a live `change` event or a pushed change) and, when the
/// versions show a hole, fetches the changes since the cached version.
pub async fn apply_change<C: HistoryClient>(
    driver: &Driver<C>,
    change: Message,
) -> Result<IngestReport, SyncError> {
    let request_id = change.request_id.clone();
    let facts = ChangeFacts {
        through: None,
        backend_version: change.version,
        closed: None,
    };
    let report = driver
        .runtime()
        .ingest(&request_id, vec![change], Source::Change(facts))
        .await?;
    if report.changes_due.is_some() && report.rejected.is_empty() {
        catch_up_changes(driver, &request_id).await?;
    }
    Ok(report)
}

/// Fetches and applies every change of `request_id` after the cached version, page by page,
/// until the cache has the backend's version. A 403 means the chat was taken from the agent:
/// it is revoked.
pub async fn catch_up_changes<C: HistoryClient>(
    driver: &Driver<C>,
    request_id: &RequestId,
) -> Result<ChangesReport, SyncError> {
    locked(driver, request_id, false).await
}

/// Asks the server for the changes of a cached chat the chat list no longer names, whether
/// or not the cache expects any: a 403 confirms the chat was taken from the agent (and it
/// is revoked); an answer means the list was older than the chat, and the cache keeps it.
/// A list alone never removes a chat: it may have been read before the chat was assigned.
pub async fn confirm_access<C: HistoryClient>(
    driver: &Driver<C>,
    request_id: &RequestId,
) -> Result<ChangesReport, SyncError> {
    locked(driver, request_id, true).await
}

async fn locked<C: HistoryClient>(
    driver: &Driver<C>,
    request_id: &RequestId,
    ask_once: bool,
) -> Result<ChangesReport, SyncError> {
    let runtime = driver.runtime();
    let lock = changes_lock_name(runtime.store().name(), request_id);
    let lease = crate::driver::FETCH_LOCK_LEASE_MS;
    let body = catch_up_locked(driver, request_id, ask_once);
    locks::with_lock_leased(&lock, lease, body).await?
}

async fn catch_up_locked<C: HistoryClient>(
    driver: &Driver<C>,
    request_id: &RequestId,
    mut ask_once: bool,
) -> Result<ChangesReport, SyncError> {
    let runtime = driver.runtime();
    let mut report = ChangesReport::default();
    while report.requests < MAX_PAGES {
        // Read the cursor each round: another context may have moved it meanwhile.
        let Some(record) = runtime.store().chat(request_id).await? else {
            break;
        };
        let since = match changes_since(&record) {
            Some(since) => since,
            None if ask_once => record.change_version,
            None => break,
        };
        ask_once = false;
        report.requests += 1;
        let reply = platform::timed(
            "sync:changes",
            driver
                .client()
                .fetch_changes(request_id, since, CHANGES_PAGE),
        )
        .await;
        let page = match reply {
            Ok(page) => page,
            Err(error) if error.failure().revokes_chat() => {
                runtime.revoke(request_id).await?;
                report.revoked = true;
                break;
            }
            Err(error) => return Err(error.into()),
        };
        validate_changes_page(&page, request_id, since).map_err(FetchError::from)?;
        report.changes += page.changes.len() as u64;
        let facts = ChangeFacts {
            through: Some(page.applied_through()),
            backend_version: page.version,
            closed: Some(page.closed),
        };
        let more = page.more;
        let ingested = runtime
            .ingest(request_id, page.changes, Source::Change(facts))
            .await?;
        report.redacted.extend(ingested.redacted);
        // A last page ends the catch-up even if the cache believes in a higher version (a
        // reply contradicting an earlier one): asking again would get the same answer.
        if !more {
            break;
        }
    }
    Ok(report)
}

/// Applies a live-stream event other than a new message: a change, a revocation, or a chat
/// summary (a chat newly assigned to the agent, or closed), which may make a changes
/// catch-up due.
pub async fn handle_stream_event<C: HistoryClient>(
    driver: &Driver<C>,
    event: StreamEvent,
) -> Result<(), SyncError> {
    let runtime = driver.runtime();
    match event {
        StreamEvent::Message(message) => {
            let request_id = message.request_id.clone();
            runtime
                .ingest(&request_id, vec![message], Source::Live)
                .await?;
        }
        StreamEvent::Change(change) => {
            apply_change(driver, change).await?;
        }
        StreamEvent::Revoked(notice) => {
            runtime.revoke(&notice.request_id).await?;
        }
        StreamEvent::Chat(summary) => {
            let request_id = summary.request_id.clone();
            runtime
                .store()
                .apply_summaries(std::slice::from_ref(&summary), platform::now_ms())
                .await?;
            runtime.announce_summary(&request_id);
            catch_up_changes(driver, &request_id).await?;
        }
    }
    Ok(())
}
