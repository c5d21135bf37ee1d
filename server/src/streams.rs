//! The open event streams of this process, by user and by session, so a sign-out ends the
//! streams opened with that session at once and a user cannot hold more than the cap.
//!
//! Each stream registers when it opens and is told to end through its own `watch` channel;
//! its [`Registration`] unregisters it however it ends. A session ended by another process
//! (several processes on one PostgreSQL) is noticed by the stream's periodic session check
//! instead (`Config::stream_session_check`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Why a stream ended, as `/metrics` counts it (`sse_streams_ended_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndReason {
    /// The session was signed out (on this process).
    Logout,
    /// The session expired or was deleted (seen by the periodic check).
    SessionExpired,
    /// The server is shutting down.
    Shutdown,
    /// Reading the database failed.
    DatabaseError,
}

impl EndReason {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::SessionExpired => "session_expired",
            EndReason::Shutdown => "shutdown",
            EndReason::DatabaseError => "database_error",
        }
    }
}

struct Entry {
    user_id: String,
    token_hash: String,
    end: watch::Sender<Option<EndReason>>,
}

/// The registry.
#[derive(Default)]
pub struct Streams {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Entry>>,
    ended: Mutex<HashMap<EndReason, u64>>,
}

/// An open stream's place in the registry: removed when dropped.
pub struct Registration {
    streams: Arc<Streams>,
    id: u64,
    /// Turns `Some(reason)` when the stream must end.
    pub end: watch::Receiver<Option<EndReason>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.streams.lock().remove(&self.id);
    }
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a stream of `user_id` opened with session `token_hash`, unless the user
    /// already has `max_per_user` open (`None`).
    pub fn register(
        self: &Arc<Self>,
        user_id: &str,
        token_hash: &str,
        max_per_user: usize,
    ) -> Option<Registration> {
        let mut open = self.lock();
        if open.values().filter(|e| e.user_id == user_id).count() >= max_per_user {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (end, receiver) = watch::channel(None);
        open.insert(
            id,
            Entry {
                user_id: user_id.to_owned(),
                token_hash: token_hash.to_owned(),
                end,
            },
        );
        Some(Registration {
            streams: Arc::clone(self),
            id,
            end: receiver,
        })
    }

    /// Tells every stream of session `token_hash` to end; how many were told.
    pub fn end_session(&self, token_hash: &str, reason: EndReason) -> usize {
        let open = self.lock();
        let mut told = 0;
        for entry in open.values().filter(|e| e.token_hash == token_hash) {
            let _ = entry.end.send(Some(reason));
            told += 1;
        }
        told
    }

    /// Counts a stream that ended for `reason`.
    pub fn count_end(&self, reason: EndReason) {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        *ended.entry(reason).or_insert(0) += 1;
    }

    /// Streams ended so far, by reason (every reason listed, zeros included).
    pub fn ended(&self) -> Vec<(&'static str, u64)> {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        [
            EndReason::Logout,
            EndReason::SessionExpired,
            EndReason::Shutdown,
            EndReason::DatabaseError,
        ]
        .into_iter()
        .map(|reason| (reason.label(), ended.get(&reason).copied().unwrap_or(0)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_out_ends_its_sessions_streams_only_and_the_cap_holds() {
        let streams = Arc::new(Streams::default());
        let a1 = streams.register("alice", "s1", 2).expect("first");
        let a2 = streams.register("alice", "s2", 2).expect("second");
        assert!(streams.register("alice", "s1", 2).is_none(), "over the cap");
        let b = streams.register("bob", "s3", 2).expect("another user");
        assert_eq!(streams.end_session("s1", EndReason::Logout), 1);
        assert_eq!(*a1.end.borrow(), Some(EndReason::Logout));
        assert_eq!(*a2.end.borrow(), None);
        assert_eq!(*b.end.borrow(), None);
        drop(a1);
        assert!(
            streams.register("alice", "s1", 2).is_some(),
            "a slot is free again"
        );
    }
}
