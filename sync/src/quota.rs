//! Quota exhaustion handled by eviction: when a store reports `QuotaExceeded` on ingest, the
//! core's eviction plan frees room (oldest messages of the least recently used chats; never the
//! outbox) and the ingest is retried, so an incoming message is not lost to a full disk.

use crate::eviction::{plan_eviction, CacheBudget};
use crate::ingest::{IngestContext, IngestReport};
use crate::store::{Store, StoreError};
use crate::types::{Message, RequestId};

/// Each eviction round shrinks the cache to this share of its size, minus the incoming bytes.
const SHRINK_TO_PERCENT: u64 = 80;

/// Eviction rounds before the quota error is handed to the caller.
const MAX_ROUNDS: usize = 3;

/// Ingests through `store`; on `QuotaExceeded`, evicts per the budget (shrunk to leave room
/// for the incoming batch) and retries, up to [`MAX_ROUNDS`] times. `pinned` chats (open in a
/// view) are evicted last. The error that remains after that (the outbox alone fills the
/// quota) is returned with the browser's words.
pub async fn ingest_with_eviction<S: Store>(
    store: &S,
    request_id: &RequestId,
    messages: Vec<Message>,
    ctx: &IngestContext,
    budget: &CacheBudget,
    pinned: &[RequestId],
) -> Result<IngestReport, StoreError> {
    let incoming_bytes: u64 = messages.iter().map(Message::approx_bytes).sum();
    let mut rounds = 0;
    loop {
        match store.ingest(request_id, messages.clone(), ctx).await {
            Err(StoreError::QuotaExceeded { .. }) if rounds < MAX_ROUNDS => {
                rounds += 1;
                let usage = store.usage().await?;
                let used = usage.message_bytes + usage.outbox_bytes;
                let tightened = CacheBudget {
                    max_bytes: budget
                        .max_bytes
                        .min((used * SHRINK_TO_PERCENT / 100).saturating_sub(incoming_bytes)),
                    ..*budget
                };
                let chats = store.chats().await?;
                let plan = plan_eviction(&chats, usage.outbox_bytes, &tightened, pinned);
                for eviction in &plan.evictions {
                    store.evict(eviction).await?;
                }
            }
            other => return other,
        }
    }
}
