//! Cross-context mutual exclusion with the Web Locks API (`navigator.locks.request`), which
//! exists in windows, dedicated workers and service workers alike.
//!
//! A lock is held while the Rust body runs. The browser releases it when the holding context
//! dies (a tab closed mid-fetch, a service worker stopped), and this module releases it when
//! the body's future is dropped (a cancelled sync), so a dead holder never blocks others.
//! A frozen holder (a page the browser suspended) keeps its locks, so no wait here is
//! unbounded where it matters: work that is safe to run twice steals after a lease
//! ([`with_lock_leased`]), and live leadership steals from a leader that stopped answering
//! ([`with_lock_or_take_over`]), whose body then ends as soon as it notices.

use std::future::Future;

use futures::future::{select, Either};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::error::SyncError;
use crate::platform;

/// Resolves the promise the lock callback returned, releasing the lock, when dropped.
struct ReleaseOnDrop(Function);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

/// Whether this context has the Web Locks API.
pub fn available() -> bool {
    platform::navigator_property("locks").is_some()
}

/// Runs `body` while holding the exclusive lock `name`, waiting as long as it takes.
///
/// Without the Web Locks API (very old browsers) the body runs unlocked, and a warning is
/// logged: single-flight then holds within this context only.
pub async fn with_lock<T>(name: &str, body: impl Future<Output = T>) -> Result<T, SyncError> {
    let Some(held) = acquire(name, None).await? else {
        return Ok(body.await);
    };
    Ok(held.run(body).await)
}

/// Runs `body` while holding the exclusive lock `name`, waiting at most `lease_ms` for it: a
/// holder that keeps it longer than any healthy holder would (a page the browser froze in
/// its back/forward cache or in the background, with its work stopped mid-way) is presumed
/// gone, and the lock is stolen from it (`steal: true`; its own request fails with an
/// `AbortError`). For work that is safe to run twice, such as a range fetch (the ingest is
/// idempotent) or an outbox send (the server keeps one message per idempotency key).
pub async fn with_lock_leased<T>(
    name: &str,
    lease_ms: u32,
    body: impl Future<Output = T>,
) -> Result<T, SyncError> {
    let waited = match platform::timeout_signal(lease_ms) {
        Some(signal) => acquire(name, Some(request_options("signal", &signal))).await,
        None => acquire(name, None).await,
    };
    let held = match waited {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(body.await),
        Err(SyncError::Platform { cause, .. })
            if matches!(cause.name.as_str(), "AbortError" | "TimeoutError") =>
        {
            crate::log_warn!(
                lock = name,
                lease_ms,
                "a lock holder kept it past its lease (a frozen page?): taking the lock over"
            );
            match acquire(name, Some(request_options("steal", &JsValue::TRUE))).await? {
                Some(held) => held,
                None => return Ok(body.await),
            }
        }
        Err(error) => return Err(error),
    };
    Ok(held.run(body).await)
}

/// How a body run under a lock others may steal ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Tenure<T> {
    /// The body ran to its end while holding the lock.
    Finished(T),
    /// Another context stole the lock (`steal: true`): the body was dropped where it stood.
    Stolen,
}

/// Runs `body` while holding the exclusive lock `name`, for work that must never run in two
/// contexts at once and that a context may hold indefinitely (live leadership). While this
/// context waits, `take_over` resolving (the holder stopped answering) withdraws the wait
/// and steals the lock. While the body runs, another context stealing the lock ends it:
/// [`Tenure::Stolen`]. (Without the Web Locks API the body runs unlocked, logged.)
pub async fn with_lock_or_take_over<T>(
    name: &str,
    take_over: impl Future<Output = ()>,
    body: impl Future<Output = T>,
) -> Result<Tenure<T>, SyncError> {
    let controller = platform::abort_controller();
    let options = controller
        .as_ref()
        .map(|(signal, _)| request_options("signal", signal));
    let waiting = Box::pin(acquire(name, options));
    let held = match select(waiting, Box::pin(take_over)).await {
        Either::Left((acquired, _)) => acquired?,
        Either::Right(((), waiting)) => {
            // Withdraw the queued request before stealing, so it is not granted later
            // behind our own hold.
            if let Some((_, abort)) = &controller {
                let _ = abort.call0(&JsValue::UNDEFINED);
            }
            drop(waiting);
            crate::log_warn!(
                lock = name,
                "the lock's holder stopped answering (a frozen page?): taking the lock over"
            );
            acquire(name, Some(request_options("steal", &JsValue::TRUE))).await?
        }
    };
    match held {
        Some(held) => Ok(held.run_until_stolen(body).await),
        None => Ok(Tenure::Finished(body.await)),
    }
}

/// The options of a lock request with the one option `key` set to `value` (`signal` to
/// bound the wait, `steal` to take the lock over).
fn request_options(key: &str, value: &JsValue) -> js_sys::Object {
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &JsValue::from_str(key), value);
    options
}

/// A granted lock: released when [`Held::run`]'s body ends (or is dropped).
struct Held {
    guard: ReleaseOnDrop,
    finished: Promise,
}

impl Held {
    async fn run<T>(self, body: impl Future<Output = T>) -> T {
        let output = body.await;
        drop(self.guard);
        // Wait for the browser to finish the release so a following request queues behind
        // it. A stolen lock's request rejects: nothing to wait for then.
        let _ = JsFuture::from(self.finished).await;
        output
    }
}

impl Held {
    /// Like [`Held::run`], but ends the body as soon as the lock is stolen: the request's
    /// promise settles only after a release, so its settling while the body still runs
    /// means another context took the lock (`AbortError`).
    async fn run_until_stolen<T>(self, body: impl Future<Output = T>) -> Tenure<T> {
        let Held { guard, finished } = self;
        let lost = JsFuture::from(finished.clone());
        match select(Box::pin(body), lost).await {
            Either::Left((output, _)) => {
                drop(guard);
                let _ = JsFuture::from(finished).await;
                Tenure::Finished(output)
            }
            Either::Right(_) => Tenure::Stolen,
        }
    }
}

/// Requests the lock `name` with `options` and waits until it is granted; `Ok(None)` where
/// there is no Web Locks API (logged).
async fn acquire(name: &str, options: Option<js_sys::Object>) -> Result<Option<Held>, SyncError> {
    let Some(locks) = platform::navigator_property("locks") else {
        crate::log_warn!(
            lock = name,
            "navigator.locks is missing: running without a cross-context lock"
        );
        return Ok(None);
    };
    let request: Function = Reflect::get(&locks, &JsValue::from_str("request"))
        .and_then(|f| f.dyn_into())
        .map_err(|e| SyncError::platform("navigator.locks.request", &e))?;

    let (acquired, signal_acquired) = platform::deferred();
    let (released, release) = platform::deferred();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let _ = signal_acquired.call0(&JsValue::UNDEFINED);
        released.into()
    });
    let finished: Promise = match &options {
        Some(options) => request.call3(&locks, &JsValue::from_str(name), options, &callback),
        None => request.call2(&locks, &JsValue::from_str(name), &callback),
    }
    .and_then(|p| p.dyn_into())
    .map_err(|e| SyncError::platform("navigator.locks.request", &e))?;
    let guard = ReleaseOnDrop(release);

    // The request settles only after the release, so a rejection seen before the lock was
    // granted is a refusal (a `SecurityError` in an opaque origin, or the `AbortError` of a
    // wait that ran out).
    match select(JsFuture::from(acquired), JsFuture::from(finished.clone())).await {
        Either::Left(_) => {}
        Either::Right((Err(error), _)) => {
            return Err(SyncError::platform("navigator.locks.request", &error))
        }
        Either::Right((Ok(_), _)) => {}
    }
    Ok(Some(Held { guard, finished }))
}
