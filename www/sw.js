// The service worker's JavaScript shim. Everything real happens in Rust (`worker/`).
//
// Every listener is added synchronously, during this script's first evaluation: a listener
// added later (after the asynchronous wasm start) is missed when the browser wakes a stopped
// worker for a push. Each listener hands its event to a Rust export inside
// `event.waitUntil(...)`, and the Rust promise settles only after its IndexedDB commit.
//
// Trunk writes the worker build as `worker.js` + `worker_bg.wasm` (no content hash for
// `data-type="worker"`). At build time the post_build hook `www/stamp-sw.sh` writes a hash of
// those two files, the live worker's and the settings panel's (BUILD_FILES) into
// WORKER_BUILD, so this file changes byte for byte whenever any of them changes, which is what
// makes browsers install a new release. Bump SW_VERSION when this shim itself changes.
const SW_VERSION = 7;
const WORKER_BUILD = '@WORKER_BUILD@';

// The browser keeps importScripts'ed files with the installed worker, but not the wasm. The
// wasm of this build is in this build's app-shell cache (install stores it there and checks
// it is this build, see checkShell), so a cold start -- every push that wakes a stopped
// worker -- reads it from there and touches no network: nothing already on the machine is
// downloaded again, and a flaky network cannot delay the push. The network is only for the
// first start, before install filled the cache.
importScripts('./worker.js'); // wasm-bindgen --target no-modules: the global `wasm_bindgen`
const SHELL_CACHE = `supportdesk-shell-${WORKER_BUILD}`;
const wasm = caches
  .match('./worker_bg.wasm', { cacheName: SHELL_CACHE })
  .catch(() => undefined)
  .then((cached) => cached || fetch('./worker_bg.wasm').then((response) =>
    response.ok ? response : Promise.reject(new Error(`worker_bg.wasm: ${response.status}`))));
const ready = wasm_bindgen({ module_or_path: wasm });

// The shell cache must hold this build's workers (the files of BUILD_FILES, whose hash is
// WORKER_BUILD): a release deployed while this one installed could have put the next
// build's files there, and a cold start would then run wasm that does not fit this
// worker.js (or a page would get a live worker of another build). Such an install fails,
// and the browser tries the update again later. stamp-sw.sh hashes the same list.
const BUILD_FILES = ['./worker.js', './worker_bg.wasm', './live.js', './live-worker.js',
  './live-worker_bg.wasm', './settings-panel.js', './settings-panel_bg.wasm'];
const checkShell = async () => {
  const cache = await caches.open(SHELL_CACHE);
  const parts = [];
  for (const path of BUILD_FILES) {
    const response = await cache.match(path);
    if (!response) throw new Error(`the app shell lacks ${path}`);
    parts.push(await response.blob());
  }
  // The files one after the other, as stamp-sw.sh's `cat` joins them.
  const joined = await new Blob(parts).arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
  const hash = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
  if (hash !== WORKER_BUILD) {
    await caches.delete(SHELL_CACHE);
    throw new Error(`the app shell holds worker build ${hash}, not ${WORKER_BUILD}`);
  }
};

const delegate = (name) => (event) =>
  event.waitUntil(ready.then(() => wasm_bindgen[name](event)));

// Install and activate get the build, which names the app-shell cache.
self.addEventListener('install', (event) =>
  event.waitUntil(
    ready.then(() => wasm_bindgen.handle_install(event, WORKER_BUILD)).then(checkShell)));
self.addEventListener('activate', (event) =>
  event.waitUntil(ready.then(() => wasm_bindgen.handle_activate(event, WORKER_BUILD))));
self.addEventListener('push', delegate('handle_push'));
self.addEventListener('notificationclick', delegate('handle_notificationclick'));
self.addEventListener('pushsubscriptionchange', delegate('handle_pushsubscriptionchange'));
self.addEventListener('sync', delegate('handle_sync'));
self.addEventListener('message', delegate('handle_message'));

// Fetch: respondWith must be decided synchronously, before the wasm may have started, so the
// routing is here: same-origin GET navigations and app assets go to the Rust app-shell cache
// (network first for navigations, cache first for assets); GET /api/media/{id} goes to the
// Rust media cache (cache first, LRU, counted); the rest of the API, /metrics, sw.js and
// everything else never enter the worker's code. If Rust cannot answer, the network does.
const SHELL_ASSET = /\.(js|wasm|css|svg|png|webmanifest)$/;
self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/media/')) {
    event.respondWith(
      ready.then(() => wasm_bindgen.handle_media_fetch(event)).catch(() => fetch(request)),
    );
    return;
  }
  if (url.pathname.startsWith('/api/') || url.pathname === '/metrics' || url.pathname === '/sw.js') return;
  if (request.mode !== 'navigate' && !SHELL_ASSET.test(url.pathname)) return;
  event.respondWith(
    ready
      .then(() => wasm_bindgen.handle_fetch(event, WORKER_BUILD))
      .catch(() => fetch(request)),
  );
});

console.info(`sw.js ${SW_VERSION} (${WORKER_BUILD})`);
