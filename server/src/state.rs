//! The shared state every handler and background task receives.

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::cli::Config;
use crate::db::Db;
use crate::fanout::{Fanout, Registry};
use crate::faults::Faults;
use crate::front_end::FrontEndFiles;
use crate::metrics::Metrics;
use crate::rate_limit::{LoginBackoff, RateLimiter};
use crate::served_log::ServedLog;
use crate::streams::Streams;
use crate::vapid::Vapid;

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// Storage.
    pub db: Db,
    /// Configuration.
    pub config: Config,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Test fault injection.
    pub faults: Faults,
    /// Test-only record of answered history fetches.
    pub served_log: ServedLog,
    /// How committed messages reach the event streams of every process.
    pub fanout: Arc<dyn Fanout>,
    /// This process's event streams by user, woken by the fan-out.
    pub wakers: Arc<Registry>,
    /// Wakes the Web Push sender when a new message queued pushes (`push_outbox`).
    pub push_wake: Notify,
    /// The VAPID key pair.
    pub vapid: Vapid,
    /// Login attempts per client address.
    pub login_limiter: RateLimiter,
    /// Backoff after wrong passwords, per user name and client address.
    pub login_backoff: LoginBackoff,
    /// Turns `true` when the server shuts down, so long-lived streams end.
    pub shutdown: watch::Receiver<bool>,
    /// The open event streams, by user and session.
    pub streams: Arc<Streams>,
    /// The built front end's files, read and compressed once.
    pub front_end: FrontEndFiles,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
