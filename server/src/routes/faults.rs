//! `GET/POST /api/test/faults` and the middleware that applies the fault switch's latency,
//! random errors and slow body reads to chat and media requests (test only; see
//! `crate::faults`).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::faults::FaultSettings;
use crate::state::AppState;

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
    if settings.upload_bytes_per_sec == Some(0) {
        return Err(ApiError::BadRequest(
            "upload_bytes_per_sec must be at least 1".to_owned(),
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
    if state.faults.enabled() && (path.starts_with("/api/chat/") || path.starts_with("/api/media"))
    {
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
        if let Some(rate) = settings.upload_bytes_per_sec {
            return next.run(throttled(request, rate)).await;
        }
    }
    next.run(request).await
}

/// How much of a slowly read body is passed on at a time.
const THROTTLE_PIECE: usize = 4096;

/// `request` with its body read at `rate` bytes a second at most: each piece of
/// [`THROTTLE_PIECE`] bytes is passed on after the time it takes at that rate, so the client
/// sees its upload crawl as over a slow uplink.
fn throttled(request: Request, rate: u64) -> Request {
    use futures_util::StreamExt;
    let (parts, body) = request.into_parts();
    let pieces = body.into_data_stream().flat_map(|chunk| {
        let pieces: Vec<Result<axum::body::Bytes, axum::Error>> = match chunk {
            Ok(bytes) => (0..bytes.len())
                .step_by(THROTTLE_PIECE)
                .map(|at| Ok(bytes.slice(at..(at + THROTTLE_PIECE).min(bytes.len()))))
                .collect(),
            Err(error) => vec![Err(error)],
        };
        futures_util::stream::iter(pieces)
    });
    let paced = pieces.then(move |piece| async move {
        if let Ok(bytes) = &piece {
            let micros = bytes.len() as u64 * 1_000_000 / rate.max(1);
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        piece
    });
    Request::from_parts(parts, axum::body::Body::from_stream(paced))
}
