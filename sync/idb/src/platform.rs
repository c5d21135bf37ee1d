//! Every touch of the global scope lives here, so the rest of the crate works the same in a
//! window, a dedicated worker and a service worker.
//!
//! Nothing below names `Window` or `WorkerGlobalScope`: each shim looks the API up on
//! `globalThis` (`indexedDB`, `navigator`, `fetch`, `setTimeout`, `BroadcastChannel`), which
//! is exactly what differs between those contexts and what they have in common.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::IdbFactory;

/// The global object of the current context (`window`, or the worker's `self`).
pub fn global() -> Object {
    js_sys::global()
}

/// Reads a property of the global object, `None` when it is missing or undefined.
pub fn global_property(name: &str) -> Option<JsValue> {
    Reflect::get(&global(), &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The context's `indexedDB` factory.
pub fn indexed_db() -> Option<IdbFactory> {
    global_property("indexedDB").and_then(|v| v.dyn_into().ok())
}

/// The context's Cache Storage (`caches`), in a window, a worker or a service worker.
pub fn cache_storage() -> Option<web_sys::CacheStorage> {
    global_property("caches").and_then(|c| c.dyn_into().ok())
}

/// Opens (creating it if absent) the Cache Storage cache `name`; `None` without Cache
/// Storage or when the browser refuses.
pub async fn open_cache(name: &str) -> Option<web_sys::Cache> {
    JsFuture::from(cache_storage()?.open(name))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// A `BroadcastChannel` named `name`, in a window, a worker or a service worker.
pub fn broadcast_channel(name: &str) -> Result<web_sys::BroadcastChannel, JsValue> {
    web_sys::BroadcastChannel::new(name)
}

/// The context's `localStorage` (windows only).
pub fn local_storage() -> Option<web_sys::Storage> {
    global_property("localStorage").and_then(|s| s.dyn_into().ok())
}

/// The context's `navigator` (a `Navigator` or a `WorkerNavigator`), untyped: both carry
/// `locks` and `storage`.
pub fn navigator() -> Option<JsValue> {
    global_property("navigator")
}

/// `navigator.<name>`, e.g. `locks` or `storage`.
pub fn navigator_property(name: &str) -> Option<JsValue> {
    let navigator = navigator()?;
    Reflect::get(&navigator, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Asks the user to confirm (the browser's `confirm` dialog); `false` where the context has
/// none (a worker) or it failed.
pub fn confirm(question: &str) -> bool {
    let Some(confirm) = global_property("confirm").and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return false;
    };
    confirm
        .call1(&global(), &JsValue::from_str(question))
        .ok()
        .and_then(|answer| answer.as_bool())
        .unwrap_or(false)
}

/// `text` in lower case, by the browser's `String.prototype.toLowerCase` (the same Unicode
/// default case mapping as Rust's `str::to_lowercase`): asking the browser keeps Unicode's
/// case tables (about 15 KB) out of the wasm.
pub fn lowercase(text: &str) -> String {
    String::from(js_sys::JsString::from(text).to_lower_case())
}

/// Milliseconds since the Unix epoch, as the core's `Millis`.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A high-resolution clock in milliseconds for measurements (`performance.now()`), falling
/// back to the wall clock where `performance` is missing.
pub fn precise_now() -> f64 {
    global_property("performance")
        .and_then(|p| {
            let now = Reflect::get(&p, &JsValue::from_str("now")).ok()?;
            let now: Function = now.dyn_into().ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// How many measures a context keeps in its performance timeline: a tab open all day records
/// a few per ingest, and the browser keeps every one until they are cleared.
pub const MEASURES_KEPT: u32 = 1_000;

thread_local! {
    /// Measures recorded since the timeline's measures were last cleared.
    static MEASURES_RECORDED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Records `performance.measure(name, { start, end: now })` where the context has the User
/// Timing API: the push pipeline leaves its breakdown there for the benchmark (and for anyone
/// reading the worker's performance timeline in the browser's tools). Costs microseconds.
/// Every [`MEASURES_KEPT`] measures the timeline's measures are cleared, so a long-lived
/// page or worker does not hold them all.
pub fn measure(name: &str, start: f64) {
    let Some(performance) = global_property("performance") else {
        return;
    };
    let Ok(measure) = Reflect::get(&performance, &JsValue::from_str("measure")) else {
        return;
    };
    let Ok(measure) = measure.dyn_into::<Function>() else {
        return;
    };
    let options = Object::new();
    let _ = Reflect::set(&options, &"start".into(), &JsValue::from_f64(start));
    let _ = Reflect::set(&options, &"end".into(), &JsValue::from_f64(precise_now()));
    let full = MEASURES_RECORDED.with(|recorded| {
        let full = recorded.get() >= MEASURES_KEPT;
        recorded.set(if full { 1 } else { recorded.get() + 1 });
        full
    });
    if full {
        if let Ok(clear) = Reflect::get(&performance, &JsValue::from_str("clearMeasures"))
            .and_then(|f| f.dyn_into::<Function>())
        {
            let _ = clear.call0(&performance);
        }
    }
    let _ = measure.call2(&performance, &JsValue::from_str(name), &options);
}

/// Runs `work`, leaving its duration in the performance timeline as `name` ([`measure`]).
pub async fn timed<T>(name: &str, work: impl std::future::Future<Output = T>) -> T {
    let started = precise_now();
    let output = work.await;
    measure(name, started);
    output
}

/// Sleeps for `ms` milliseconds with the context's `setTimeout`.
pub async fn sleep(ms: i64) {
    let ms = ms.max(0) as f64;
    let promise = Promise::new(&mut |resolve, _reject| {
        let set_timeout = global_property("setTimeout").and_then(|f| f.dyn_into::<Function>().ok());
        match set_timeout {
            Some(set_timeout) => {
                let _ = set_timeout.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from_f64(ms));
            }
            // Without timers there is nothing to wait for: resolve at once.
            None => {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Calls the context's `fetch(input, init)`.
pub fn fetch(request: &web_sys::Request) -> Result<Promise, JsValue> {
    let fetch: Function = global_property("fetch")
        .ok_or_else(|| JsValue::from_str("fetch is not available in this context"))?
        .dyn_into()?;
    fetch.call1(&JsValue::UNDEFINED, request)?.dyn_into()
}

/// Asks the browser to keep this origin's storage under pressure
/// (`navigator.storage.persist()`). Returns whether it was granted; a context without the
/// API (or a refusal) is not an error: the cache then relies on eviction.
pub async fn request_persistence() -> bool {
    let Some(storage) = navigator_property("storage") else {
        return false;
    };
    let Ok(persist) = Reflect::get(&storage, &JsValue::from_str("persist")) else {
        return false;
    };
    let Ok(persist) = persist.dyn_into::<Function>() else {
        return false;
    };
    let Ok(promise) = persist.call0(&storage) else {
        return false;
    };
    match promise.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// A promise with its resolve function, to hand a JavaScript API a promise we settle from
/// Rust (the Web Locks callback uses one).
pub fn deferred() -> (Promise, Function) {
    let mut resolve_slot: Option<Function> = None;
    let promise = Promise::new(&mut |resolve, _reject| {
        resolve_slot = Some(resolve);
    });
    // The executor runs synchronously inside `new Promise`, so the slot is always filled.
    let resolve = resolve_slot.unwrap_or_else(|| Function::new_no_args(""));
    (promise, resolve)
}

/// A random identifier for a new outbox entry: `crypto.randomUUID()` where the context has
/// it (secure contexts), otherwise the clock and `Math.random()`, which is unique enough for
/// one agent's own idempotency keys.
pub fn random_id() -> String {
    let uuid = global_property("crypto").and_then(|crypto| {
        let f: Function = Reflect::get(&crypto, &JsValue::from_str("randomUUID"))
            .ok()?
            .dyn_into()
            .ok()?;
        f.call0(&crypto).ok()?.as_string()
    });
    uuid.unwrap_or_else(|| {
        format!(
            "{:x}-{:x}",
            js_sys::Date::now() as u64,
            (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64
        )
    })
}

/// `AbortSignal.timeout(ms)`, where the context has it: a signal that aborts after `ms`.
pub fn timeout_signal(ms: u32) -> Option<JsValue> {
    let abort_signal = global_property("AbortSignal")?;
    let timeout: Function = Reflect::get(&abort_signal, &"timeout".into())
        .ok()?
        .dyn_into()
        .ok()?;
    timeout
        .call1(&abort_signal, &JsValue::from_f64(f64::from(ms)))
        .ok()
}

/// A new `AbortController`: its signal, and a function aborting it. `None` where the context
/// has none (very old browsers).
pub fn abort_controller() -> Option<(JsValue, Function)> {
    let class: Function = global_property("AbortController")?.dyn_into().ok()?;
    let controller = Reflect::construct(&class, &js_sys::Array::new()).ok()?;
    let signal = Reflect::get(&controller, &"signal".into()).ok()?;
    let abort: Function = Reflect::get(&controller, &"abort".into())
        .ok()?
        .dyn_into()
        .ok()?;
    Some((signal, abort.bind0(&controller)))
}
