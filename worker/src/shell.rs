//! The app-shell cache: the app opens with no network.
//!
//! On install the worker fetches `/` (index.html, never HTTP-cached) and stores it with every
//! same-origin asset it names (boot script, the app's hashed JS and wasm, CSS, icon) in the
//! Cache Storage cache `supportdesk-shell-<build>`; activate deletes the shells of older
//! builds. `sw.js` routes only same-origin GET navigations and `.js`/`.wasm`/`.css`/`.svg`
//! files outside `/api/` here (a decision it must make synchronously); everything else never
//! reaches Rust.
//!
//! - Navigation: network first (the server's index.html is always current), the cached shell
//!   when the network fails, so a deep link like `/chat/{id}` opens offline.
//! - Asset: cache first (hashed names never change), else the network.

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, RequestCache, RequestInit, RequestMode, Response};

use crate::error::WorkerError;
use chat_sync_idb::platform;

/// Prefix of the shell caches; the build hash follows.
pub const CACHE_PREFIX: &str = "supportdesk-shell-";

/// The cache of one build.
pub fn cache_name(build: &str) -> String {
    format!("{CACHE_PREFIX}{build}")
}

fn caches() -> Result<CacheStorage, WorkerError> {
    chat_sync_idb::platform::cache_storage().ok_or_else(|| {
        WorkerError::js(&wasm_bindgen::JsValue::from_str(
            "no Cache Storage in this context",
        ))
    })
}

async fn wait(promise: Promise) -> Result<JsValue, WorkerError> {
    JsFuture::from(promise)
        .await
        .map_err(|e| WorkerError::js(&e))
}

/// The paths of the shell: `/`, the worker's own build, the live worker's (which pages start
/// by name, so index.html does not name it), and the same-origin paths index.html loads
/// (values of `src`, `href`, `data-js`, `data-wasm` attributes starting with one `/`).
/// The worker's build comes first: `sw.js` starts every cold worker with the wasm from this
/// cache, after checking at install that both files are its build.
pub fn shell_paths(index_html: &str) -> Vec<String> {
    let mut paths = vec![
        "/".to_owned(),
        "/worker.js".to_owned(),
        "/worker_bg.wasm".to_owned(),
        "/live.js".to_owned(),
        "/live-worker.js".to_owned(),
        "/live-worker_bg.wasm".to_owned(),
    ];
    for attribute in [" src=\"", " href=\"", " data-js=\"", " data-wasm=\""] {
        let mut rest = index_html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let Some(end) = rest.find('"') else { break };
            let value = &rest[..end];
            if value.starts_with('/')
                && !value.starts_with("//")
                && !paths.iter().any(|p| p == value)
            {
                paths.push(value.to_owned());
            }
        }
    }
    paths
}

/// Install: fetch index.html fresh and store the shell of `build`.
pub async fn precache(build: &str) -> Result<(), WorkerError> {
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoStore);
    let request =
        web_sys::Request::new_with_str_and_init("/", &init).map_err(|e| WorkerError::js(&e))?;
    let response: Response = wait(platform::fetch(&request).map_err(|e| WorkerError::js(&e))?)
        .await?
        .dyn_into()
        .map_err(|e| WorkerError::js(&e))?;
    if !response.ok() {
        return Err(WorkerError::Shell(format!(
            "index.html answered {}",
            response.status()
        )));
    }
    let html = wait(response.text().map_err(|e| WorkerError::js(&e))?)
        .await?
        .as_string()
        .unwrap_or_default();
    let paths = shell_paths(&html);
    let cache: Cache = wait(caches()?.open(&cache_name(build)))
        .await?
        .dyn_into()
        .map_err(|e| WorkerError::js(&e))?;
    let list: Array = paths.iter().map(|p| JsValue::from_str(p)).collect();
    wait(cache.add_all_with_str_sequence(&list)).await?;
    chat_sync_idb::log_info!(build, files = paths.len(), "app shell cached");
    Ok(())
}

/// Activate: delete the shells of other builds.
pub async fn delete_old(build: &str) -> Result<(), WorkerError> {
    let caches = caches()?;
    let keep = cache_name(build);
    let names = Array::from(&wait(caches.keys()).await?);
    for name in names.iter().filter_map(|n| n.as_string()) {
        if name.starts_with(CACHE_PREFIX) && name != keep {
            wait(caches.delete(&name)).await?;
        }
    }
    Ok(())
}

/// Answers a request `sw.js` routed here.
pub async fn respond(request: web_sys::Request, build: &str) -> Result<Response, WorkerError> {
    let caches = caches()?;
    if request.mode() == RequestMode::Navigate {
        match network(&request).await {
            Ok(response) => return Ok(response),
            Err(error) => {
                let cache: Cache = wait(caches.open(&cache_name(build)))
                    .await?
                    .dyn_into()
                    .map_err(|e| WorkerError::js(&e))?;
                let cached = wait(cache.match_with_str("/")).await?;
                return match cached.dyn_into::<Response>() {
                    Ok(shell) => {
                        chat_sync_idb::log_info!(%error, "offline: the app shell answers the navigation");
                        Ok(shell)
                    }
                    Err(_) => Err(error),
                };
            }
        }
    }
    let cached = wait(caches.match_with_request(&request)).await?;
    match cached.dyn_into::<Response>() {
        Ok(response) => Ok(response),
        Err(_) => network(&request).await,
    }
}

async fn network(request: &web_sys::Request) -> Result<Response, WorkerError> {
    wait(platform::fetch(request).map_err(|e| WorkerError::js(&e))?)
        .await?
        .dyn_into()
        .map_err(|e| WorkerError::js(&e))
}
