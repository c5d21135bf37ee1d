//! The app's entry point: everything lives in the library (`app::start`), so browser tests
//! can mount the same components.

/// The allocator: talc, in place of the standard library's dlmalloc, as in the service
/// worker (see `worker/src/lib.rs`).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    app::start();
}
