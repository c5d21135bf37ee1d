//! Who is signed in, as seen from the service worker.
//!
//! The session cookie is HttpOnly, so the worker cannot read it; instead it asks the server,
//! `GET /api/auth/me` (same origin, with credentials), on every push. That costs one small
//! local request per push but is never stale: after a sign-out, or another agent signing in
//! on a shared machine, a push is never written into the previous agent's cache. When the
//! server cannot be reached (a transient failure), the last confirmed answer is used: kept in
//! memory and in the Cache Storage entry of [`remembered_user`] so a worker started cold while the
//! server is down still knows whose cache to write (the push service reached us, so the push
//! is real). A 401/403 means signed out: the remembered user is forgotten and the push dropped.
//! The remembered copy is the one the pages keep too ([`remembered_user`]).

use std::cell::RefCell;

use chat_sync::protocol::CurrentUser;
use chat_sync_idb::{remembered_user, FetchError};

use crate::error::WorkerError;

thread_local! {
    static LAST_KNOWN: RefCell<Option<CurrentUser>> = const { RefCell::new(None) };
}

/// Forgets the last answer (the app says the session changed, or the server said 401/403).
pub async fn forget() {
    LAST_KNOWN.with(|last| last.borrow_mut().take());
    if let Err(error) = remembered_user::forget().await {
        chat_sync_idb::log_warn!(message = %error.message, "could not forget the remembered agent");
    }
}

/// The user this worker last confirmed, asking the server only when it knows none. For
/// requests that must not cost a round trip each (media): a sign-out posts
/// `session-changed`, which clears it.
pub async fn known_user() -> Result<CurrentUser, WorkerError> {
    if let Some(user) = LAST_KNOWN.with(|last| last.borrow().clone()) {
        return Ok(user);
    }
    current_user().await
}

/// The agent this worker last confirmed (in memory, or remembered in Cache Storage by an
/// earlier life of the worker), without asking the server.
pub async fn last_confirmed() -> Option<CurrentUser> {
    match LAST_KNOWN.with(|last| last.borrow().clone()) {
        Some(user) => Some(user),
        None => remembered_user::remembered().await,
    }
}

/// Keeps `user` in memory as the last confirmed answer; whether it differs from the one
/// kept before.
fn keep(user: &CurrentUser) -> bool {
    LAST_KNOWN.with(|last| {
        let changed = last.borrow().as_ref() != Some(user);
        *last.borrow_mut() = Some(user.clone());
        changed
    })
}

/// The desk of this origin says the server just confirmed `user`: remember it as the last
/// confirmed answer, so a worker that has never asked itself can still attribute a push that
/// arrives while the server is unreachable. The server's own answer still comes first on
/// every push; this only fills the fallback.
pub async fn confirmed_by_page(user: CurrentUser) {
    if keep(&user) {
        chat_sync_idb::log_info!(user = %user.id, "the desk confirmed the signed-in agent");
    }
    // Written even when unchanged in memory: the stored copy may have been deleted.
    remembered_user::remember(&user).await;
}

/// The signed-in user. Nobody while a sign-out made offline waits for the server
/// (`chat_sync_idb::pending_sign_out`), which this tries to finish first: the cookie still
/// holds that session, and a push must not re-create the cache the sign-out wiped.
pub async fn current_user() -> Result<CurrentUser, WorkerError> {
    if !chat_sync_idb::pending_sign_out::finish("").await {
        return Err(WorkerError::SignedOut(
            "a sign-out waits for the server".to_owned(),
        ));
    }
    match fetch_me().await {
        Ok(user) => {
            if keep(&user) {
                remembered_user::remember(&user).await;
            }
            Ok(user)
        }
        Err(FetchError::Refused { status, detail, .. }) => {
            forget().await;
            Err(WorkerError::SignedOut(format!("{status}: {detail}")))
        }
        Err(error) => match last_confirmed().await {
            Some(user) => {
                chat_sync_idb::log_warn!(%error, user = %user.id, "session lookup failed; using the last confirmed user");
                Ok(user)
            }
            None => Err(WorkerError::Session(error)),
        },
    }
}

async fn fetch_me() -> Result<CurrentUser, FetchError> {
    // Same origin, with the HttpOnly session cookie the worker cannot read itself.
    chat_sync_idb::http::get_json("/api/auth/me", "current user").await
}
