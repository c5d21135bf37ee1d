//! The streams of this process by user, so a notice wakes only the streams of the users it
//! names (a chat's agent and requester), not every open stream.
//!
//! A stream subscribes when it opens and holds a [`Subscription`] until it ends. A wake-up is a
//! `Notify` permit: one given while the stream is busy is kept until it next waits, so none is
//! lost, and several given meanwhile collapse into one (the stream reads everything new from
//! the database at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Wakers by user id, then by subscription id.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    users: Mutex<HashMap<String, HashMap<u64, Arc<Notify>>>>,
    /// Wake-ups given to streams, for `/metrics`.
    wakeups: AtomicU64,
}

/// One stream's place in the registry; removed when dropped.
pub struct Subscription {
    registry: Arc<Registry>,
    user_id: String,
    id: u64,
    notify: Arc<Notify>,
}

impl Subscription {
    /// Resolves at the next wake-up (at once if one came since the last).
    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.registry.lock();
        if let Some(streams) = users.get_mut(&self.user_id) {
            streams.remove(&self.id);
            if streams.is_empty() {
                users.remove(&self.user_id);
            }
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<u64, Arc<Notify>>>> {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes a stream of `user_id`.
    pub fn subscribe(self: &Arc<Self>, user_id: &str) -> Subscription {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        self.lock()
            .entry(user_id.to_owned())
            .or_default()
            .insert(id, Arc::clone(&notify));
        Subscription {
            registry: Arc::clone(self),
            user_id: user_id.to_owned(),
            id,
            notify,
        }
    }

    /// Wakes the streams of these users; how many were woken.
    pub fn wake_users<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) -> usize {
        let users = self.lock();
        let mut woken = 0;
        for user_id in user_ids {
            for notify in users.get(user_id).into_iter().flat_map(HashMap::values) {
                notify.notify_one();
                woken += 1;
            }
        }
        drop(users);
        self.wakeups.fetch_add(woken as u64, Ordering::Relaxed);
        woken
    }

    /// Wakes every stream (after a gap in the notices, or a notice naming nobody).
    pub fn wake_all(&self) -> usize {
        let users = self.lock();
        let mut woken = 0;
        for notify in users.values().flat_map(HashMap::values) {
            notify.notify_one();
            woken += 1;
        }
        drop(users);
        self.wakeups.fetch_add(woken as u64, Ordering::Relaxed);
        woken
    }

    /// Wake-ups given so far.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Users with at least one subscribed stream.
    pub fn users(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn is_woken(subscription: &Subscription) -> bool {
        tokio::time::timeout(Duration::from_millis(20), subscription.woken())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn only_the_named_users_streams_wake_and_a_wake_is_kept_until_awaited() {
        let registry = Arc::new(Registry::default());
        let alice1 = registry.subscribe("alice");
        let alice2 = registry.subscribe("alice");
        let bob = registry.subscribe("bob");
        assert_eq!(registry.wake_users(["alice", "carol"]), 2);
        // Given before anyone waited, and kept.
        assert!(is_woken(&alice1).await);
        assert!(is_woken(&alice2).await);
        assert!(!is_woken(&bob).await, "bob's stream was not named");
        assert!(!is_woken(&alice1).await, "one wake-up, used once");
        // Two wake-ups while busy collapse into one.
        registry.wake_users(["bob"]);
        registry.wake_users(["bob"]);
        assert!(is_woken(&bob).await);
        assert!(!is_woken(&bob).await);
        assert_eq!(registry.wake_all(), 3);
        assert!(is_woken(&alice1).await && is_woken(&alice2).await && is_woken(&bob).await);
        drop(alice1);
        drop(alice2);
        assert_eq!(registry.users(), 1, "alice is gone from the map");
        assert_eq!(registry.wakeups(), 2 + 2 + 3);
    }
}
