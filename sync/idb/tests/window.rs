//! Every in-browser test, in a window (a tab), plus the test that starts a second context (a
//! worker), which a service worker cannot.
// These tests need a browser: natively they compile to nothing.
#![cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

mod common;

all_tests!(with_workers);
