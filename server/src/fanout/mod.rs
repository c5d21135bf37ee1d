//! Fan-out: how news of a committed message reaches the event streams of every server process.
//!
//! One trait, [`Fanout`], two implementations. With SQLite there is one process, and
//! [`LocalFanout`] hands the notice to this process's streams directly. With PostgreSQL the
//! notice is a `pg_notify` sent inside the message's own transaction (`Db::insert_message`),
//! so it goes out exactly when the message commits and never for one that rolled back; every
//! process listens with one connection ([`postgres::PgFanout`]) and wakes its own streams.
//! Either way a notice only says "look": each stream reads what is new from the database, so
//! a lost notice delays nothing for good. When the listener connection drops, notices sent
//! meanwhile are lost, so after reconnecting it wakes every stream of the process, and each
//! re-reads from its last sent event id (the catch-up).
//!
//! Streams are woken per user ([`registry::Registry`]): a notice names the chat's agent and
//! requester, and only their streams wake.

pub mod notice;
pub mod postgres;
pub mod registry;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

pub use notice::Notice;
pub use registry::{Registry, Subscription};

/// What the fan-out of this process counted, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Notices received (from the listener, or handed over in process).
    pub notices: AtomicU64,
    /// Received payloads that were no readable notice (every stream was woken instead).
    pub unreadable: AtomicU64,
    /// Times the listener connection was established (the first time included).
    pub listener_connects: AtomicU64,
    /// 1 while the listener connection is up, else 0 (always 1 in process).
    pub listener_up: AtomicI64,
}

/// How a committed message reaches the streams of every process.
pub trait Fanout: Send + Sync {
    /// Called by the send path once the message's transaction has committed.
    fn committed(&self, notice: &Notice);

    /// Which implementation runs (`in_process` or `postgres`), for logs and `/metrics`.
    fn kind(&self) -> &'static str;

    /// Its counters.
    fn counters(&self) -> &Counters;
}

/// Wakes the streams a notice names (every stream when it names nobody) and counts it.
fn deliver(registry: &Registry, counters: &Counters, notice: &Notice) {
    counters.notices.fetch_add(1, Ordering::Relaxed);
    match &notice.users {
        Some(users) => registry.wake_users(users.iter().map(String::as_str)),
        None => registry.wake_all(),
    };
}

/// The single-process fan-out (SQLite): a committed message wakes this process's streams.
pub struct LocalFanout {
    registry: Arc<Registry>,
    counters: Counters,
}

impl LocalFanout {
    /// A fan-out over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        let counters = Counters::default();
        counters.listener_up.store(1, Ordering::Relaxed);
        Self { registry, counters }
    }
}

impl Fanout for LocalFanout {
    fn committed(&self, notice: &Notice) {
        deliver(&self.registry, &self.counters, notice);
    }

    fn kind(&self) -> &'static str {
        "in_process"
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_fanout_wakes_the_named_users_only() {
        let registry = Arc::new(Registry::default());
        let fanout = LocalFanout::new(Arc::clone(&registry));
        let alice = registry.subscribe("u_alice");
        let bob = registry.subscribe("u_bob");
        fanout.committed(&Notice {
            request_id: "REQ-A".to_owned(),
            seq: 1,
            users: Some(vec!["u_alice".to_owned(), "u_r1".to_owned()]),
        });
        let wait = std::time::Duration::from_millis(20);
        assert!(tokio::time::timeout(wait, alice.woken()).await.is_ok());
        assert!(tokio::time::timeout(wait, bob.woken()).await.is_err());
        assert_eq!(fanout.counters().notices.load(Ordering::Relaxed), 1);
    }
}
