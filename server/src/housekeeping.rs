//! Periodic deletes that keep the database bounded: expired sessions (a leaked token of a
//! session long over is not even stored) and the push queue beyond `push_queue_max` (the
//! oldest go first; the clients' catch-up still brings their messages).
//!
//! Both run on every process; on one database they may overlap, which only means one of them
//! finds nothing to delete.

use std::sync::atomic::Ordering;

use crate::metrics::PushDrop;
use crate::state::AppState;

/// Deletes expired sessions every `session_purge_interval`.
pub async fn purge_sessions(state: AppState) {
    let idle = state.config.session_idle_ms();
    let mut every = tokio::time::interval(state.config.session_purge_interval);
    loop {
        every.tick().await;
        match state.db.purge_sessions(crate::clock::now_ms(), idle).await {
            Ok(0) => {}
            Ok(purged) => {
                state
                    .metrics
                    .sessions_purged
                    .fetch_add(purged, Ordering::Relaxed);
                tracing::info!(purged, "expired sessions deleted");
            }
            Err(error) => tracing::warn!(%error, "could not delete expired sessions"),
        }
    }
}

/// Trims the push queue to `push_queue_max` rows every `push_queue_trim_interval`.
pub async fn trim_push_queue(state: AppState) {
    let mut every = tokio::time::interval(state.config.push_queue_trim_interval);
    loop {
        every.tick().await;
        match state.db.trim_pushes(state.config.push_queue_max).await {
            Ok(0) => {}
            Ok(dropped) => {
                state.metrics.count_push_drop(PushDrop::QueueFull, dropped);
                tracing::warn!(
                    dropped,
                    max = state.config.push_queue_max,
                    "push queue full; the oldest pushes were dropped"
                );
            }
            Err(error) => tracing::warn!(%error, "could not trim the push queue"),
        }
    }
}
