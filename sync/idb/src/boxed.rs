//! Futures this crate hands to the app and the worker, boxed so their code is compiled once.
//!
//! Rust never shares the code of an `async` body between crates: every crate that polls a
//! future of another crate's `async fn` compiles that body, and everything it awaits, again
//! as a private copy, and link-time optimization keeps both copies. The worker and the app
//! poll this crate's store and runtime futures, and so does this crate itself (its drivers and
//! tasks), so each of those bodies was in each wasm file twice. A boxed future is polled
//! through its vtable, which is made where the box is: `IdbStore`'s `Store` operations and
//! `Runtime`'s public operations box their work with [`boxed`] in a plain `fn work`, which only
//! this crate compiles, and another crate's await only calls through it. The cost is one
//! small allocation per call, next to an IndexedDB transaction or a request.

use std::future::Future;

use futures::future::LocalBoxFuture;

/// `work`, boxed here (see the module's doc).
pub fn boxed<'a, T>(work: impl Future<Output = T> + 'a) -> LocalBoxFuture<'a, T> {
    Box::pin(work)
}
