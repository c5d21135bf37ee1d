//! Work spawned as its own task and cancelled with its handle.
//!
//! An IndexedDB transaction stays open only while it has requests in flight: when a request
//! completes, the next one must be issued before control returns to the browser's event loop,
//! or the browser auto-commits the transaction and the next request fails with "The
//! transaction has finished". A future holding a transaction is safe only if it is polled as
//! soon as its request completes. A future polled by a parent that is itself awaiting
//! something else (a `FuturesUnordered` inside a loop that awaits inline) is not; a task of
//! its own is, because wasm-bindgen-futures polls a woken task in the same microtask
//! checkpoint. [`beside`] gives concurrent work such a task while keeping structured
//! cancellation: dropping the handle drops the work.

use std::future::Future;

use futures::future::LocalBoxFuture;
use futures::FutureExt;

/// Runs `work` as its own task and returns its handle, which completes when the work does;
/// dropping the handle cancels the work (at its next wake-up).
pub fn beside(work: impl Future<Output = ()> + 'static) -> LocalBoxFuture<'static, ()> {
    let (work, handle) = work.remote_handle();
    wasm_bindgen_futures::spawn_local(work);
    Box::pin(handle)
}
