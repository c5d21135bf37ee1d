//! The server's time source: wall-clock milliseconds since the Unix epoch, the unit every
//! stored timestamp (messages, sessions, the push queue) uses.
//!
//! It imports nothing of the crate, so any module may read the time without depending on the
//! database or the state.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
