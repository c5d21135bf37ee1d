//! Every in-browser test, in a service worker.
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_service_worker);

mod common;

all_tests!();
