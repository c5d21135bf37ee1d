//! The catch-up after every (re)connect: the chat list applied to the store, then only the
//! interior and trailing gaps of cached chats fetched, changes caught up, and cached chats
//! the list no longer names confirmed; retried with the core's backoff while the leader
//! runs it.

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::backoff::SplitMix64;
use chat_sync::live::{catch_up_missing, catch_up_retry, CatchUpTurns};
use chat_sync::store::Store;
use chat_sync::{ChatSummary, RequestId};

use crate::driver::Driver;
use crate::error::SyncError;
use crate::http::{HistoryClient, HttpHistoryClient};
use crate::platform;

/// The leader's catch-up after a connect: [`catch_up`] (or [`catch_up_back_online`] after a
/// reconnect), retried on the core's backoff until it succeeds, the attempts are spent or the
/// session ended, and run once more when a connect came in meanwhile.
pub(super) async fn run_catch_up(
    driver: Rc<Driver<HttpHistoryClient>>,
    client: HttpHistoryClient,
    turns: Rc<RefCell<CatchUpTurns>>,
    reconnect: bool,
) {
    let mut rng = SplitMix64::new((platform::now_ms() as u64) ^ 0x9e37_79b9_7f4a_7c15);
    loop {
        let mut failures = 0;
        loop {
            match catch_up_probing(&driver, &client, reconnect).await {
                Ok(report) => {
                    crate::log_info!(?report, "live catch-up done");
                    break;
                }
                Err(error) => {
                    failures += 1;
                    let ended = matches!(
                        error,
                        SyncError::Fetch(crate::FetchError::Refused {
                            status: 401 | 403,
                            ..
                        })
                    );
                    match catch_up_retry(failures, ended, &mut rng) {
                        Some(after_ms) => {
                            crate::log_warn!(%error, failures, after_ms, "live catch-up failed; trying again");
                            platform::sleep(after_ms).await;
                        }
                        None => {
                            crate::log_warn!(%error, failures, "live catch-up failed; waiting for the next reconnect");
                            break;
                        }
                    }
                }
            }
        }
        if !turns.borrow_mut().finished() {
            break;
        }
    }
}

/// What a [`catch_up`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Chats in the backend's list.
    pub chats_listed: usize,
    /// Listed chats with cached messages (the others are loaded when opened).
    pub chats_cached: usize,
    /// Chats that were missing sequences and were repaired.
    pub chats_repaired: usize,
    /// Sequences missing before the repair (interior and trailing gaps only).
    pub seqs_missing: u64,
    /// Sequences still missing after it (the repair of those chats failed or backed off).
    pub seqs_still_missing: u64,
    /// Chats whose edits and redactions were caught up.
    pub chats_changed: usize,
    /// Cached chats the server no longer lets the agent see, let go of.
    pub chats_revoked: usize,
    /// Chats whose repair failed, with the error.
    pub failed: Vec<(RequestId, SyncError)>,
}

/// After a connect: fetches the chat list, applies it to the store (the backend's last seq
/// of every chat), then for each chat with cached messages that now misses sequences, has the
/// driver fetch only the interior and trailing gaps. Older history (the leading gap) is
/// fetched here only when the reader asked for it and it is still owed (a page that failed
/// while the network was gone); nothing is reloaded.
pub async fn catch_up(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
) -> Result<CatchUpReport, SyncError> {
    catch_up_probing(driver, client, false).await
}

/// [`catch_up`] after the context was offline or its stream dropped: what arrived meanwhile
/// in the chats open on screen is asked for at once, the page after each one's newest cached
/// message (the core's `Planner::request_newer`), beside the chat list rather than after it,
/// so the reader sees it one round trip sooner.
pub async fn catch_up_back_online(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
) -> Result<CatchUpReport, SyncError> {
    catch_up_probing(driver, client, true).await
}

async fn catch_up_probing(
    driver: &Driver<HttpHistoryClient>,
    client: &HttpHistoryClient,
    probe_open_chats: bool,
) -> Result<CatchUpReport, SyncError> {
    // A chat revoked after this moment is not brought back by this (then stale) list.
    let listed_at = platform::now_ms();
    let newer = async {
        if probe_open_chats {
            driver.fetch_newer_of_open_chats().await;
        }
    };
    let list = platform::timed("sync:chat-list", client.fetch_chat_list());
    let (summaries, _) = futures::join!(list, newer);
    catch_up_with_list(driver, &summaries?, listed_at).await
}

/// [`catch_up`] with the chat list already fetched, over any history client.
pub async fn catch_up_with_list<C: HistoryClient>(
    driver: &Driver<C>,
    summaries: &[ChatSummary],
    listed_at: chat_sync::Millis,
) -> Result<CatchUpReport, SyncError> {
    let runtime = driver.runtime();
    let store = runtime.store();
    let apply = store.apply_summaries(summaries, listed_at);
    let changed = platform::timed("sync:apply-list", apply).await?;
    // Whichever context applied the list (a tab's refresh, the leader's catch-up, the service
    // worker), every view showing one of these chats re-reads it: a renamed chat or a new
    // preview must not wait for that view's own next fetch.
    for request_id in &changed {
        runtime.announce_summary(request_id);
    }
    let mut report = CatchUpReport {
        chats_listed: summaries.len(),
        ..CatchUpReport::default()
    };
    // Every chat record in one read, instead of one transaction per listed chat.
    let mut records = chat_sync::store::records_by_id(store.chats().await?);
    for summary in summaries {
        let request_id = &summary.request_id;
        let Some(record) = records.remove(request_id) else {
            continue;
        };
        if chat_sync::changes::changes_since(&record).is_some() {
            report.chats_changed += 1;
            if let Err(error) = crate::changes::catch_up_changes(driver, request_id).await {
                crate::log_warn!(chat = %request_id, %error, "catch-up of changes failed");
                report.failed.push((request_id.clone(), error));
            }
        }
        let held = record.readable_held();
        if held.is_empty() {
            continue;
        }
        report.chats_cached += 1;
        let backend_last = record
            .backend_last_seq_known
            .then_some(record.backend_last_seq);
        let missing = catch_up_missing(&held, backend_last);
        if missing == 0 {
            // A page of older history the reader waits for, which failed while the network
            // was gone (its bounded retries may be spent): coming back online asks again.
            if driver.wants_older(request_id) {
                if let Err(error) = driver.sync(request_id).await {
                    crate::log_warn!(chat = %request_id, %error, "older history after reconnect failed");
                    report.failed.push((request_id.clone(), error));
                }
            }
            continue;
        }
        report.chats_repaired += 1;
        report.seqs_missing += missing;
        match platform::timed("sync:repair", driver.resync(request_id)).await {
            Ok(status) => {
                report.seqs_still_missing += status.missing.iter().map(|r| r.len()).sum::<u64>();
            }
            Err(error) => {
                crate::log_warn!(chat = %request_id, %error, "catch-up repair failed");
                report.seqs_still_missing += missing;
                report.failed.push((request_id.clone(), error));
            }
        }
    }
    // Cached chats the list no longer names: the server confirms each (a 403 revokes it).
    for request_id in records.into_keys() {
        match crate::changes::confirm_access(driver, &request_id).await {
            Ok(changes) if changes.revoked => report.chats_revoked += 1,
            Ok(_) => {}
            Err(error) => {
                crate::log_warn!(chat = %request_id, %error, "could not confirm access to an unlisted chat");
                report.failed.push((request_id, error));
            }
        }
    }
    Ok(report)
}
