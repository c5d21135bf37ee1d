// The service worker's JavaScript shim. Everything real happens in Rust (`worker/`).
//
// Every listener is added synchronously, during this script's first evaluation: a listener
// added later (after the asynchronous wasm start) is missed when the browser wakes a stopped
// worker for a push. Each listener hands its event to a Rust export inside
// `event.waitUntil(...)`, and the Rust promise settles only after its IndexedDB commit.
//
// Trunk writes the worker build as `worker.js` + `worker_bg.wasm` (no content hash for
// `data-type="worker"`). At build time the post_build hook `www/stamp-sw.sh` writes a hash of
// those two files into WORKER_BUILD, so this file changes byte for byte whenever the worker
// changes, which is what makes browsers install a new release. Bump SW_VERSION when this
// shim itself changes.
const SW_VERSION = 1;
const WORKER_BUILD = '@WORKER_BUILD@';

importScripts('./worker.js'); // wasm-bindgen --target no-modules: the global `wasm_bindgen`
const ready = wasm_bindgen({ module_or_path: './worker_bg.wasm' });

const delegate = (name) => (event) =>
  event.waitUntil(ready.then(() => wasm_bindgen[name](event)));

self.addEventListener('install', delegate('handle_install'));
self.addEventListener('activate', delegate('handle_activate'));
self.addEventListener('push', delegate('handle_push'));
self.addEventListener('notificationclick', delegate('handle_notificationclick'));
self.addEventListener('pushsubscriptionchange', delegate('handle_pushsubscriptionchange'));
self.addEventListener('sync', delegate('handle_sync'));
self.addEventListener('message', delegate('handle_message'));
// No fetch listener yet: the worker answers no request (the app-shell and media caches are
// not built), and a listener that passes everything through would only add a worker start
// to every request of the app (and route browser requests such as the favicon through the
// worker). When the caches come, the fetch listener is added here, synchronously, like the
// others, calling respondWith only for what Rust answers.

console.info(`sw.js ${SW_VERSION} (${WORKER_BUILD})`);
