//! Every in-browser test, in a service worker.
// These tests need a browser: natively they compile to nothing.
#![cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_service_worker);

mod common;

all_tests!();

#[wasm_bindgen_test::wasm_bindgen_test]
async fn subscribe_push_is_unsupported_in_a_service_worker() {
    common::push_subscribe::subscribe_push_ends_with(
        chat_sync_idb::push_subscription::PushSubscribeOutcome::Unsupported,
    )
    .await;
}
