//! Every in-browser test, in a dedicated worker.
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod common;

all_tests!(with_workers);
