//! Waiting for several futures of one task at once.
//!
//! `futures::future::join_all` compiles two strategies per use: a list of futures polled in
//! turn, and, past 30 futures, a `FuturesOrdered` with its own queue and wakers (about 6 KB of
//! the worker's wasm for two call sites). The driver's commands of one step and the catch-up's
//! open chats are a handful, so the list alone is kept: each wake-up polls every future still
//! running, as `join_all` does below 30.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Runs `futures` concurrently in the calling task; their outputs, in the order given, once
/// all are done.
pub fn join_all<F: Future>(
    futures: impl IntoIterator<Item = F>,
) -> impl Future<Output = Vec<F::Output>> {
    let mut running: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut all_done = true;
        for (slot, output) in running.iter_mut().zip(outputs.iter_mut()) {
            let Some(future) = slot else {
                continue;
            };
            match future.as_mut().poll(cx) {
                Poll::Ready(value) => {
                    *output = Some(value);
                    // Dropped as soon as it is done, as `join_all` does.
                    *slot = None;
                }
                Poll::Pending => all_done = false,
            }
        }
        if all_done {
            Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    })
}
