//! The service worker (built out in issue 5).
