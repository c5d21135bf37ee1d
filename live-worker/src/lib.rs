//! The tab's live worker, in Rust: the page's live channel (the server's event stream, the
//! Web Lock that elects the one tab holding it, its events' ingest and its catch-ups) runs
//! here, in a dedicated worker each signed-in page starts, off the page's thread and out of
//! the page's wasm.
//!
//! `www/live.js` loads this crate (wasm-bindgen `--target no-modules`, global
//! `wasm_bindgen`), adds its message listener synchronously and hands every message from the
//! page to [`handle_message`]. Both ends of the exchange are in
//! `chat_sync_idb::live_worker`; its texts are the core's `chat_sync::live::worker_wire`.
#![warn(missing_docs)]

use wasm_bindgen::prelude::*;

/// The allocator: talc, as in the service worker (see `worker/src/lib.rs`). Single-threaded
/// WebAssembly, where talc's lock-free cell is sound.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Runs once when the module is instantiated: panic hook and console logging.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    chat_sync_idb::console::init(chat_sync_idb::console::Level::Info);
}

/// Handles one message from the page (`chat_sync_idb::live_worker::serve`), as a task of
/// its own: a start runs the channel for the worker's life.
#[wasm_bindgen]
pub fn handle_message(data: JsValue) {
    wasm_bindgen_futures::spawn_local(chat_sync_idb::live_worker::serve(data));
}
