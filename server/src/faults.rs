//! Test-only fault injection: added latency, random errors, slowly read request bodies,
//! dropped pushes and a smaller page limit, so browser tests can exercise the client's
//! recovery.
//!
//! Off by default. With `--test-faults` the routes `GET/POST /api/test/faults` exist;
//! without it they answer 404 like any unknown API path and nothing here ever fires. This
//! module holds the switch; the routes and the middleware that applies latency and errors
//! are in `routes::faults`.

use std::sync::RwLock;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The fault settings, as set by `POST /api/test/faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Delay added to every chat and media request.
    pub latency_ms: u64,
    /// Probability (0..=1) that a chat or media request fails with 503.
    pub error_rate: f64,
    /// Probability (0..=1) that a push is silently not sent.
    pub drop_push_rate: f64,
    /// Overrides the page limit of history replies.
    pub page_limit: Option<u64>,
    /// Limits latency and errors to paths starting with this (for example
    /// `/api/chat/messages`, so history fetches fail while the chat list still answers);
    /// every chat and media path when absent.
    pub path_prefix: Option<String>,
    /// Reads the bodies of those requests at this many bytes a second at most: a slow
    /// uplink, whichever context of the browser uploads (network emulation set on a page
    /// does not reach the workers it starts).
    pub upload_bytes_per_sec: Option<u64>,
}

/// The switchable fault state.
#[derive(Default)]
pub struct Faults {
    enabled: bool,
    settings: RwLock<FaultSettings>,
}

impl Faults {
    /// Faults that can be switched on only when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            settings: RwLock::new(FaultSettings::default()),
        }
    }

    /// Whether faults can be switched on at all (`--test-faults`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The current settings (all off when disabled).
    pub fn current(&self) -> FaultSettings {
        if !self.enabled {
            return FaultSettings::default();
        }
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the settings (`POST /api/test/faults`, after validation).
    pub fn set(&self, settings: FaultSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Whether the next push should be dropped.
    pub fn drop_push(&self) -> bool {
        let rate = self.current().drop_push_rate;
        rate > 0.0 && rand::thread_rng().gen::<f64>() < rate
    }
}
