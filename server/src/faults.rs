//! Test-only fault injection: added latency, random errors, dropped pushes and a smaller page
//! limit, so browser tests can exercise the client's recovery.
//!
//! Off by default. With `--test-faults` the routes `GET/POST /api/test/faults` exist;
//! without it they answer 404 like any unknown API path and nothing here ever fires.

use std::sync::RwLock;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

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

    fn set(&self, settings: FaultSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Whether the next push should be dropped.
    pub fn drop_push(&self) -> bool {
        let rate = self.current().drop_push_rate;
        rate > 0.0 && rand::thread_rng().gen::<f64>() < rate
    }
}

/// `GET /api/test/faults`.
pub async fn get_faults(State(state): State<AppState>) -> Json<FaultSettings> {
    Json(state.faults.current())
}

/// `POST /api/test/faults`: replaces the settings.
pub async fn set_faults(
    State(state): State<AppState>,
    ApiJson(settings): ApiJson<FaultSettings>,
) -> ApiResult<Json<FaultSettings>> {
    let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
    if !rate_ok(settings.error_rate) || !rate_ok(settings.drop_push_rate) {
        return Err(ApiError::BadRequest(
            "rates must be within 0..=1".to_owned(),
        ));
    }
    if settings.latency_ms > 60_000 {
        return Err(ApiError::BadRequest(
            "latency_ms must be at most 60000".to_owned(),
        ));
    }
    if settings.page_limit == Some(0) {
        return Err(ApiError::BadRequest(
            "page_limit must be at least 1".to_owned(),
        ));
    }
    tracing::warn!(?settings, "test faults changed");
    state.faults.set(settings.clone());
    Ok(Json(settings))
}

/// Middleware: applies latency and random errors to chat and media requests.
pub async fn inject(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if state.faults.enabled && (path.starts_with("/api/chat/") || path.starts_with("/api/media")) {
        let settings = state.faults.current();
        if settings
            .path_prefix
            .as_deref()
            .is_some_and(|prefix| !path.starts_with(prefix))
        {
            return next.run(request).await;
        }
        if settings.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(settings.latency_ms)).await;
        }
        if settings.error_rate > 0.0 && rand::thread_rng().gen::<f64>() < settings.error_rate {
            return ApiError::InjectedFault("injected by the test fault switch".to_owned())
                .into_response();
        }
    }
    next.run(request).await
}
