//! Sign-in throttling: a fixed-window limit per client address ([`RateLimiter`]) and a
//! backoff per user name *and* address after failed passwords ([`LoginBackoff`]).
//!
//! Nothing is throttled by user name alone: that would let anyone lock an agent out by
//! guessing wrong passwords for her name from anywhere. Guessing one name from many addresses
//! is slowed per address, and the agent signing in from her own address is never held up by
//! failures elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts attempts per key in fixed windows.
pub struct RateLimiter {
    max: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `max` attempts per key in each `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records an attempt; `false` when the key is over its limit.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable.
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            // Bound memory under a flood of distinct keys: drop expired windows.
            let window = self.window;
            windows.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.max
    }
}

/// Failed sign-ins of one user name from one address, with their backoff.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Exponential backoff per (user name, client address) after failed passwords: the first
/// [`LoginBackoff::free`] failures cost nothing, then each attempt must wait 1 s, 2 s, 4 s …
/// (at most `cap`) after the last failure. A success clears the pair.
pub struct LoginBackoff {
    free: u32,
    cap: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginBackoff {
    /// Backoff after `free` failures, never longer than `cap`.
    pub fn new(free: u32, cap: Duration) -> Self {
        Self {
            free,
            cap,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(username: &str, address: &str) -> String {
        format!("{}\u{0}{address}", username.to_lowercase())
    }

    fn delay(&self, count: u32) -> Duration {
        match count.checked_sub(self.free) {
            None | Some(0) => Duration::ZERO,
            Some(over) => Duration::from_secs(1u64 << (over - 1).min(20)).min(self.cap),
        }
    }

    /// How long this pair must still wait before its next attempt (zero: go ahead).
    pub fn wait(&self, username: &str, address: &str) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&Self::key(username, address)) {
            Some(f) => self.delay(f.count).saturating_sub(f.last.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// Records a failed password for the pair.
    pub fn failed(&self, username: &str, address: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            // Bound memory under a flood of pairs: forget those whose backoff ran out.
            let cap = self.cap;
            failures.retain(|_, f| now.duration_since(f.last) < cap);
        }
        let entry = failures
            .entry(Self::key(username, address))
            .or_insert(Failures {
                count: 0,
                last: now,
            });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    /// A successful sign-in clears the pair.
    pub fn succeeded(&self, username: &str, address: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Self::key(username, address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_resets_after_the_window() {
        let limiter = RateLimiter::new(2, Duration::from_millis(50));
        assert!(limiter.allow("a"));
        assert!(limiter.allow("a"));
        assert!(!limiter.allow("a"));
        assert!(limiter.allow("b"), "keys are independent");
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.allow("a"), "a new window starts");
    }

    #[test]
    fn failures_back_off_per_name_and_address_only() {
        let backoff = LoginBackoff::new(2, Duration::from_secs(60));
        for _ in 0..2 {
            backoff.failed("Alice", "10.0.0.1");
        }
        assert_eq!(
            backoff.wait("alice", "10.0.0.1"),
            Duration::ZERO,
            "free failures"
        );
        backoff.failed("alice", "10.0.0.1");
        let wait = backoff.wait("ALICE", "10.0.0.1");
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        backoff.failed("alice", "10.0.0.1");
        assert!(backoff.wait("alice", "10.0.0.1") > Duration::from_millis(1900));
        assert_eq!(
            backoff.wait("alice", "10.0.0.2"),
            Duration::ZERO,
            "another address"
        );
        assert_eq!(
            backoff.wait("bob", "10.0.0.1"),
            Duration::ZERO,
            "another name"
        );
        for _ in 0..40 {
            backoff.failed("alice", "10.0.0.1");
        }
        assert!(
            backoff.wait("alice", "10.0.0.1") <= Duration::from_secs(60),
            "capped"
        );
        backoff.succeeded("alice", "10.0.0.1");
        assert_eq!(backoff.wait("alice", "10.0.0.1"), Duration::ZERO, "cleared");
    }
}
