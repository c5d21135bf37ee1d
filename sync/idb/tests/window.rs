//! Every in-browser test, in a window (a tab), plus the test that starts a second context (a
//! worker), which a service worker cannot.
// These tests need a browser: natively they compile to nothing.
#![cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

mod common;

all_tests!(with_workers);

// The live channel needs `EventSource`, which service workers lack: window only.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn one_live_channel_leads_and_dropping_it_promotes_the_other() {
    common::live::one_live_channel_leads_and_dropping_it_promotes_the_other().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_frozen_leader_is_taken_over() {
    common::live::a_frozen_leader_is_taken_over().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_running_leader_keeps_the_lock() {
    common::live::a_running_leader_keeps_the_lock().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_leader_whose_lock_is_stolen_follows_again() {
    common::live::a_leader_whose_lock_is_stolen_follows_again().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_refused_stream_is_reopened_with_backoff() {
    common::live::a_refused_stream_is_reopened_with_backoff().await;
}

// A page starts the live worker: window only.
#[wasm_bindgen_test::wasm_bindgen_test]
async fn the_live_worker_hears_the_start_then_the_chats_and_the_page_its_statuses() {
    common::live_worker::the_worker_hears_the_start_then_the_chats_and_the_page_its_statuses()
        .await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn the_live_workers_answers_reach_their_asks_and_its_reports_the_page() {
    common::live_worker::answers_reach_their_asks_and_reports_the_page().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn a_live_worker_whose_script_throws_is_reported_failed() {
    common::live_worker::a_worker_whose_script_throws_is_reported_failed().await;
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn the_workers_push_answer_names_every_outcome() {
    common::push_subscribe::every_outcome_survives_the_workers_answer();
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn a_browser_subscription_is_read_and_a_broken_one_refused() {
    common::push_subscribe::a_browser_subscription_is_read_and_a_broken_one_refused();
}

#[wasm_bindgen_test::wasm_bindgen_test]
async fn subscribe_push_is_denied_without_the_permission() {
    common::push_subscribe::subscribe_push_ends_with(
        chat_sync_idb::push_subscription::PushSubscribeOutcome::Denied,
    )
    .await;
}
