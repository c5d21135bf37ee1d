// Starts the app. It lives in its own file, not inline, so the Content-Security-Policy can
// forbid inline scripts; Trunk writes the hashed file names into the tag's data attributes.
// `import()` for the app's wasm, which cannot write it: the builds the app loads on demand
// (chat_sync_idb::lazy_module; `<meta data-js data-wasm>` below names them).
globalThis.supportdeskImport = (url) => import(url);
const tag = document.querySelector('script[data-js][data-wasm]');
const { default: init } = await import(tag.dataset.js);
const exports = await init({ module_or_path: tag.dataset.wasm });
// The app's WebAssembly memory, for diagnostics: how much the cache view holds (the UI
// benchmark reads it beside the JS heap).
globalThis.supportdeskWasmMemory = exports.memory;
