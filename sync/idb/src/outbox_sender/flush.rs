//! The flush: under the outbox lock, every due entry is sent in order per chat (the core's
//! `Outbox::due`), and a failure backs the entry off, parks it or stops the flush.

use chat_sync::backoff::SplitMix64;
use chat_sync::outbox::{Outbox, OutboxState, SendFailure};
use chat_sync::store::Store;

use super::reply::Outcome;
use super::send::send_one;
use super::{outbox_lock_name, save, FlushReport, OUTBOX_LOCK_LEASE_MS};
use crate::error::SyncError;
use crate::runtime::Runtime;
use crate::{locks, platform};

/// Sends every due entry, in order per chat, under the outbox lock.
///
/// Entries left `sending` by a context that died are queued again first (the lock shows no
/// one else is sending, unless it was taken over from a frozen holder after its lease; the
/// idempotency key makes a second send store one message either way).
pub async fn flush(runtime: &Runtime, base_url: &str) -> Result<FlushReport, SyncError> {
    flush_with(runtime, base_url, false).await
}

/// [`flush`] with every queued entry's backoff ended first, under the same lock (the
/// network came back, the app started): the core's `Outbox::wake_all`.
pub async fn flush_waking(runtime: &Runtime, base_url: &str) -> Result<FlushReport, SyncError> {
    flush_with(runtime, base_url, true).await
}

async fn flush_with(
    runtime: &Runtime,
    base_url: &str,
    wake: bool,
) -> Result<FlushReport, SyncError> {
    let base = base_url.trim_end_matches('/').to_owned();
    let lock = outbox_lock_name(runtime.store().name());
    locks::with_lock_leased(
        &lock,
        OUTBOX_LOCK_LEASE_MS,
        flush_locked(runtime, &base, wake),
    )
    .await?
}

/// The flush, once the outbox lock is held (`wake`: backoffs end first).
async fn flush_locked(runtime: &Runtime, base: &str, wake: bool) -> Result<FlushReport, SyncError> {
    let store = runtime.store();
    let policy = runtime.send_backoff();
    let mut rng = SplitMix64::new(platform::now_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let mut report = FlushReport::default();
    let mut outbox = Outbox::from_entries(store.outbox().await?);
    if wake {
        outbox.wake_all();
    }
    for entry in outbox.entries() {
        if entry.state == OutboxState::Sending {
            let mut entry = entry.clone();
            entry.state = OutboxState::Queued;
            save(runtime, &entry).await?;
        } else if wake && entry.state == OutboxState::Queued {
            save(runtime, entry).await?;
        }
    }
    loop {
        // Re-read each round: another tab may have queued, deleted or retried meanwhile.
        outbox = Outbox::from_entries(store.outbox().await?);
        let now = platform::now_ms();
        let Some(entry) = outbox
            .due(now)
            .into_iter()
            .find(|e| !report.retrying.contains(&e.client_temp_id))
            .cloned()
        else {
            break;
        };
        let id = entry.client_temp_id.clone();
        outbox.mark_sending(&id)?;
        let mut sending = entry.clone();
        sending.state = OutboxState::Sending;
        if !save(runtime, &sending).await? {
            continue;
        }
        match send_one(runtime, base, sending).await? {
            Outcome::Sent(seq) => {
                report.sent.push((id, entry.request_id.clone(), seq));
            }
            Outcome::Failed(failure) => {
                let parked = match &failure {
                    SendFailure::Rejected(reason) => Some(reason.clone()),
                    SendFailure::Retryable => None,
                };
                // The backoff starts when the failure is known, not when the attempt began:
                // a send that took long to fail must still wait before the next one.
                let failed_at = platform::now_ms();
                let updated = outbox
                    .on_failure(&id, failure, failed_at, &policy, &mut rng)?
                    .clone();
                save(runtime, &updated).await?;
                match parked {
                    Some(reason) => {
                        crate::log_warn!(entry = %id, %reason, "the server refused a queued message: parked");
                        report.parked.push((id, reason));
                        runtime.announce_outbox_change(&entry.request_id);
                    }
                    None => report.retrying.push(id),
                }
            }
            Outcome::SignedOut => {
                let mut kept = entry.clone();
                kept.state = OutboxState::Queued;
                save(runtime, &kept).await?;
                report.signed_out = true;
                break;
            }
        }
    }
    let outbox = Outbox::from_entries(store.outbox().await?);
    report.remaining = outbox.len();
    report.next_wakeup = outbox.next_wakeup();
    Ok(report)
}
