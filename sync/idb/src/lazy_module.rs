//! Loads one of our own wasm-bindgen ES modules on demand (the settings panel), so the app's
//! wasm does not carry code that most visits never run.
//!
//! - `index.html` names each such module in a `<meta name="…" data-js="/x.js"
//!   data-wasm="/x_bg.wasm">`: the page finds its files there, and the service worker's app
//!   shell, which caches every `data-js` and `data-wasm` path of `index.html`, keeps them for
//!   offline starts. Their names carry no content hash (Trunk builds them as workers), so
//!   `www/stamp-sw.sh` counts them in the service worker's build like the workers' files.
//! - `import()` is syntax, not a function: wasm cannot call it, and a Content-Security-Policy
//!   without `'unsafe-eval'` forbids building a function that does. So `boot.js` provides
//!   `supportdeskImport(url)`, and this module calls it.
//! - A module is loaded and started once per page; later calls get the same exports.

use std::cell::RefCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{DomError, SyncError};
use crate::platform;
use crate::service_worker::{call_async, property};

/// The global function `boot.js` defines to run `import(url)`.
const IMPORT_FUNCTION: &str = "supportdeskImport";

thread_local! {
    /// The modules started in this page, by their `<meta>` name.
    static STARTED: RefCell<Vec<(String, JsValue)>> = const { RefCell::new(Vec::new()) };
}

fn missing(api: &'static str, message: String) -> SyncError {
    SyncError::Platform {
        api,
        cause: DomError::new("NotFoundError", message),
    }
}

/// The `data-js` and `data-wasm` paths of `<meta name="{name}">` in this page.
fn files_of(name: &str) -> Result<(String, String), SyncError> {
    const API: &str = "finding a lazily loaded module";
    let document = platform::global_property("document")
        .ok_or_else(|| missing(API, "this context has no document".to_owned()))?;
    let query: Function = property(&document, "querySelector")
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| missing(API, "document.querySelector is missing".to_owned()))?;
    let selector = JsValue::from_str(&format!("meta[name=\"{name}\"]"));
    let meta = query
        .call1(&document, &selector)
        .map_err(|e| SyncError::platform(API, &e))?;
    let dataset = property(&meta, "dataset")
        .ok_or_else(|| missing(API, format!("index.html names no <meta name=\"{name}\">")))?;
    let text = |key: &str| {
        property(&dataset, key)
            .and_then(|v| v.as_string())
            .ok_or_else(|| missing(API, format!("<meta name=\"{name}\"> has no data-{key}")))
    };
    Ok((text("js")?, text("wasm")?))
}

/// The exports of the module `<meta name="{name}">` names, imported and started (its wasm
/// instantiated) on the first call of this page.
pub async fn load(name: &str) -> Result<Object, SyncError> {
    if let Some(exports) = STARTED.with(|started| {
        started
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, exports)| exports.clone())
    }) {
        return Ok(exports.unchecked_into());
    }
    let (js, wasm) = files_of(name)?;
    let exports = call_async(
        &platform::global(),
        IMPORT_FUNCTION,
        &[JsValue::from_str(&js)],
    )
    .await?;
    // wasm-bindgen's `--target web` init: `default({ module_or_path })`.
    let options = Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("module_or_path"),
        &JsValue::from_str(&wasm),
    )
    .map_err(|e| SyncError::platform("starting a module", &e))?;
    call_async(&exports, "default", &[options.into()]).await?;
    STARTED.with(|started| {
        started
            .borrow_mut()
            .push((name.to_owned(), exports.clone()))
    });
    Ok(exports.unchecked_into())
}

/// The `<meta>` name of the settings panel's build (`settings-panel/`).
pub const SETTINGS_PANEL: &str = "supportdesk-settings-panel";

/// The version of what the page and the settings panel's build pass each other
/// (`mount_settings`'s arguments). The page's build is hashed and the panel's is not, so a
/// page of one release may load the panel of the next: a panel that does not speak the
/// page's version refuses to mount, saying so, instead of misreading it. Bump it with any
/// change of `mount_settings`.
pub const SETTINGS_PANEL_PROTOCOL: u32 = 1;
