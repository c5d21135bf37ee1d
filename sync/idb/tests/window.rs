//! Every in-browser test, in a window (a tab).
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

mod common;

all_tests!();
