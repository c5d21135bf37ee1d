//! Who is signed in: asks the server, remembers the last confirmed agent for offline starts,
//! signs in and out.
//!
//! The session cookie is HttpOnly, so the page learns the user from `GET /api/auth/me`. When
//! the server cannot be reached (offline, or down) the app opens the cache of the last agent
//! confirmed in this browser ([`remembered_user`], the one place the pages and the service
//! worker share), so an installed app started offline still shows its chats. A 401 means the
//! session ended: the app shows the sign-in page but keeps the cache and the outbox, which
//! are the agent's and are still there after they sign in again. The service worker is told
//! on a 401 and on every sign-in, so it never keeps answering for an agent whose session is
//! over. Once the server confirms an agent, the desk has its live worker clear what other
//! agents left in this browser (`chat_sync_idb::leftovers`). Signing out is `chat_sync_idb::sign_out`, which
//! ends the session in every tab.

use chat_sync::protocol::{CurrentUser, LoginRequest};
use chat_sync_idb::http::{get_json, post_json};
use chat_sync_idb::FetchError;
use chat_sync_idb::{pending_sign_out, remembered_user};

/// Where the session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Session {
    /// The agent, confirmed by the server (`offline: false`) or remembered from the last
    /// confirmation because the server could not be reached (`offline: true`).
    SignedIn {
        /// The agent.
        user: CurrentUser,
        /// Whether the server was unreachable when this was decided.
        offline: bool,
    },
    /// No session: the sign-in page, with why (empty when simply not signed in).
    SignedOut {
        /// A short reason shown on the sign-in page, if any.
        reason: String,
    },
}

/// Asks the server who is signed in; falls back to the remembered agent when it cannot be
/// reached.
pub async fn resume() -> Session {
    // A sign-out made offline left the session alive in the cookie: it ends before anything
    // is shown, or nothing is.
    if !pending_sign_out::finish("").await {
        return Session::SignedOut {
            reason: "You signed out while the server could not be reached: connect to the \
                     network to finish signing out."
                .to_owned(),
        };
    }
    match get_json::<CurrentUser>("/api/auth/me", "current user").await {
        Ok(user) => {
            remembered_user::remember(&user).await;
            Session::SignedIn {
                user,
                offline: false,
            }
        }
        Err(FetchError::Refused { .. }) => {
            // The session ended without a sign-out here (it expired, or ended elsewhere): the
            // service worker must stop taking that agent for the signed-in one.
            tell_worker_the_session_changed();
            Session::SignedOut {
                reason: String::new(),
            }
        }
        Err(error) => match remembered_user::remembered().await {
            Some(user) => {
                chat_sync_idb::log_warn!(%error, "server unreachable: opening the last agent's cache");
                Session::SignedIn {
                    user,
                    offline: true,
                }
            }
            None => Session::SignedOut {
                reason: format!("The server cannot be reached ({error})."),
            },
        },
    }
}

/// Signs in; the error is a sentence for the sign-in page.
pub async fn sign_in(username: &str, password: &str) -> Result<CurrentUser, String> {
    let body = LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    };
    // An earlier sign-out still pending ends first, where the network allows; signing in
    // replaces that session's cookie anyway.
    pending_sign_out::finish("").await;
    match post_json::<_, CurrentUser>("/api/auth/login", &body, "sign-in").await {
        Ok(user) => {
            pending_sign_out::clear().await;
            // Before anything of the new agent loads: the worker asks the server who this
            // is instead of answering media requests for whoever it knew.
            tell_worker_the_session_changed();
            remembered_user::remember(&user).await;
            Ok(user)
        }
        Err(FetchError::Refused { status: 401, .. }) => {
            Err("The user name or password is not right.".to_owned())
        }
        Err(FetchError::Refused { detail, .. }) | Err(FetchError::Unsupported { detail, .. }) => {
            Err(detail)
        }
        Err(FetchError::Transient {
            status: Some(429), ..
        }) => Err("Too many attempts: wait a minute and try again.".to_owned()),
        Err(error) => Err(format!("Could not reach the server: {error}")),
    }
}

/// Tells the service worker to forget the agent it knows (see
/// `chat_sync_idb::service_worker::forget_session`); a failure is logged.
fn tell_worker_the_session_changed() {
    if let Err(error) = chat_sync_idb::service_worker::forget_session() {
        chat_sync_idb::log_warn!(%error, "could not tell the service worker that the session changed");
    }
}

/// Forgets the remembered agent (at sign-out: an offline start must not open their cache;
/// `chat_sync_idb::sign_out` ends the session at the server).
pub async fn forget() {
    if let Err(error) = remembered_user::forget().await {
        chat_sync_idb::log_warn!(message = %error.message, "could not forget the remembered agent");
    }
}
