//! The shared store suite against the in-memory store.

use chat_sync::memory_store::MemoryStore;

chat_sync::store_test_suite!(
    blocking,
    MemoryStore::new(),
    quota = MemoryStore::with_quota(20_000)
);
