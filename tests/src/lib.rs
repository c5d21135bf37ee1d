//! End-to-end test harness (browsers against the real server).
