// The live worker's JavaScript shim. Everything real happens in Rust (`live-worker/`).
//
// The page starts this dedicated worker once the agent's cache is open
// (chat_sync_idb::live_worker) and posts whose cache to follow. The listener is added
// synchronously, during this script's first evaluation, and waits for the wasm: a message
// that arrived before a listener existed would be lost. When the wasm cannot start, the
// page is told (`failed/...`) and catches up on its own.
//
// Trunk writes the build as `live-worker.js` + `live-worker_bg.wasm` (no content hash for
// `data-type="worker"`); www/stamp-sw.sh counts both, with this file, in the service
// worker's build, so the app shell that serves them offline always holds this build's.
importScripts('./live-worker.js'); // wasm-bindgen --target no-modules: the global `wasm_bindgen`
const ready = wasm_bindgen({ module_or_path: './live-worker_bg.wasm' });
ready.catch((error) => self.postMessage(`failed/the live worker's wasm did not start: ${error}`));
self.addEventListener('message', (event) => {
  ready.then(() => wasm_bindgen.handle_message(event.data), () => {});
});
