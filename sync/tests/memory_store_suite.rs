//! The shared store suite against the in-memory store: natively under `#[test]`, and in a
//! browser (Chrome and Firefox, through `cargo xtask test`) under wasm-bindgen-test, which
//! proves the core compiles and behaves the same as WebAssembly.

use chat_sync::memory_store::MemoryStore;

#[cfg(not(target_arch = "wasm32"))]
chat_sync::store_test_suite!(
    blocking,
    MemoryStore::new(),
    quota = MemoryStore::with_quota(20_000)
);

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
chat_sync::store_test_suite!(
    wasm,
    MemoryStore::new(),
    quota = MemoryStore::with_quota(20_000)
);
