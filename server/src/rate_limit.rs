//! A fixed-window rate limiter keyed by text (client address, user name), for login.

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
}
