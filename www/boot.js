// Starts the app. It lives in its own file, not inline, so the Content-Security-Policy can
// forbid inline scripts; Trunk writes the hashed file names into the tag's data attributes.
const tag = document.querySelector('script[data-js][data-wasm]');
const { default: init } = await import(tag.dataset.js);
await init({ module_or_path: tag.dataset.wasm });
