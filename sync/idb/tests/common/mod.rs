//! Shared helpers and test bodies of the in-browser tests. Each test file configures one
//! context (window, dedicated worker, service worker) and expands [`all_tests!`].
#![allow(dead_code)]

use chat_sync_idb::IdbStore;

/// A database name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "test-{prefix}-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e12) as u64
    )
}

/// A fresh store on its own new database.
pub async fn open_fresh() -> IdbStore {
    IdbStore::open_named(&unique_name("suite"))
        .await
        .expect("open a fresh database")
}

/// A fresh store refusing writes past `bytes`, like a full disk.
pub async fn open_fresh_with_budget(bytes: u64) -> IdbStore {
    open_fresh().await.with_budget(bytes)
}

/// Expands every in-browser test for the configured context.
#[macro_export]
macro_rules! all_tests {
    () => {
        chat_sync::store_test_suite!(
            wasm,
            common::open_fresh().await,
            quota = common::open_fresh_with_budget(20_000).await
        );
    };
}
