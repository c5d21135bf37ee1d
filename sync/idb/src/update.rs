//! Service-worker updates, seen from the page.
//!
//! A new release installs and then waits while a page is controlled (the worker skips waiting
//! only on a first install). The app asks [`update_waiting`] at start, and after
//! [`check_for_update`] (e.g. when the window regains focus); when it is `true`, it offers
//! "Update available", and on the agent's click calls [`apply_update`], which posts
//! `{"type": "skip-waiting"}` to the waiting worker. That worker activates, deletes older
//! shell caches and claims the page; the page sees `controllerchange` on
//! `navigator.serviceWorker` and reloads. The protocol needs no JavaScript of the app's own.

use crate::error::SyncError;
use crate::service_worker::{call_async, container, post, property, registration};
use chat_sync::notice::PageMessage;

/// Whether a new release is installed and waiting while this page is controlled by an older
/// one (`registration.waiting` set and `navigator.serviceWorker.controller` present).
pub async fn update_waiting() -> Result<bool, SyncError> {
    let Some(registration) = registration().await? else {
        return Ok(false);
    };
    let controlled = container()
        .and_then(|c| property(&c, "controller"))
        .is_some();
    Ok(controlled && property(&registration, "waiting").is_some())
}

/// Asks the browser to look for a new `sw.js` now (`registration.update()`), then answers
/// [`update_waiting`]. A release found here may still be installing: ask again later.
pub async fn check_for_update() -> Result<bool, SyncError> {
    let Some(registration) = registration().await? else {
        return Ok(false);
    };
    call_async(&registration, "update", &[]).await?;
    update_waiting().await
}

/// Tells the waiting release to take over; returns whether one was waiting. Reload the page
/// on `navigator.serviceWorker`'s `controllerchange`.
pub async fn apply_update() -> Result<bool, SyncError> {
    let Some(registration) = registration().await? else {
        return Ok(false);
    };
    let Some(waiting) = property(&registration, "waiting") else {
        return Ok(false);
    };
    post(&waiting, &PageMessage::SkipWaiting)?;
    Ok(true)
}
