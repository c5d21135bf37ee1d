// Starts the live probe (a module file, since the server's CSP forbids inline scripts).
import init from './live_probe.js';
await init();
