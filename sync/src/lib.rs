//! `chat-sync`: the browser-independent core of the support-desk chat cache.
//!
//! It decides; the browser glue acts. Nothing here reads a clock, touches the network or
//! knows about `web_sys`: time comes in as an argument, commands go out as values, and the
//! same code runs natively under property tests and in the browser as WebAssembly.
#![warn(missing_docs)]

pub mod backoff;
pub mod change_wire;
pub mod changes;
pub mod decode;
pub mod engine;
pub mod eviction;
#[cfg(any(test, feature = "test-support"))]
pub mod hostile_corpus;
pub mod ingest;
pub mod json;
pub mod labels;
pub mod leadership;
pub mod leftovers;
pub mod linkify;
pub mod list_model;
pub mod live;
pub mod media_cache;
pub mod memory_store;
pub mod notice;
pub mod object_only;
pub mod outbox;
pub mod planner;
pub mod protocol;
pub mod quota;
pub mod ranges;
pub mod read_marks;
pub mod row_heights;
pub mod send_rules;
pub mod sort;
pub mod store;
pub mod suite;
pub mod sync_state;
pub mod tagged;
pub mod timeline;
pub mod types;
pub mod upload;
pub mod vec_map;

pub use ranges::{Gaps, SeqRange, SeqRanges};
pub use types::*;
