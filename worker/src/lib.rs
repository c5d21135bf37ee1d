//! The service worker, in Rust: receives Web Push with no tab open, writes to IndexedDB,
//! fills sequence gaps with range fetches, serves the app shell and cached media.
//!
//! Its handlers are added by the service-worker issue; the crate exists so the workspace is
//! laid out as the product is and the wasm32 checks cover it from the start.
