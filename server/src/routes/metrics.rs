//! `GET /metrics` and the middleware that counts every answered request by route and status.
//!
//! The counters themselves are in `crate::metrics`; the page adds what only the state and the
//! database know: the event streams, the fan-out and the shared push queue.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::clock::now_ms;
use crate::state::AppState;

/// Middleware: counts every answered request under its route pattern (never the raw path,
/// which would let clients create unbounded label values).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None if request.uri().path().starts_with("/api/") => "/api/unknown".to_owned(),
        None => "static".to_owned(),
    };
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        route = %route,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    state
        .metrics
        .count_request(&route, response.status().as_u16());
    response
}

/// Writes one series with its help and type lines.
fn write_series(out: &mut String, name: &str, kind_of: &str, help: &str, value: String) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind_of}");
    let _ = writeln!(out, "{name} {value}");
}

/// The fan-out's series: notices this process received, its listener, the wake-ups.
fn fanout_metrics(state: &AppState, out: &mut String) {
    let counters = state.fanout.counters();
    let kind = state.fanout.kind();
    write_series(
        out,
        "fanout_notices_total",
        "counter",
        "New-message notices this process received (from LISTEN, or in process).",
        counters.notices.load(Ordering::Relaxed).to_string(),
    );
    write_series(
        out,
        "fanout_notices_unreadable_total",
        "counter",
        "Received notices that could not be read (every stream was woken instead).",
        counters.unreadable.load(Ordering::Relaxed).to_string(),
    );
    write_series(
        out,
        "fanout_listener_connects_total",
        "counter",
        "Times the fan-out listener connected (each reconnect wakes every stream).",
        counters
            .listener_connects
            .load(Ordering::Relaxed)
            .to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP fanout_listener_up Whether the fan-out listener is connected, by fan-out kind."
    );
    let _ = writeln!(out, "# TYPE fanout_listener_up gauge");
    let _ = writeln!(
        out,
        "fanout_listener_up{{kind=\"{kind}\"}} {}",
        counters.listener_up.load(Ordering::Relaxed)
    );
    write_series(
        out,
        "sse_stream_wakeups_total",
        "counter",
        "Wake-ups given to this process's event streams (only the streams of the users a \
         notice names wake).",
        state.wakers.wakeups().to_string(),
    );
    write_series(
        out,
        "sse_streaming_users",
        "gauge",
        "Users with an open event stream on this process.",
        state.wakers.users().to_string(),
    );
}

/// `GET /metrics`.
pub async fn render(
    State(state): State<AppState>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let mut out = state.metrics.render();
    out.push_str("# HELP sse_streams_ended_total Event streams the server ended, by reason.\n");
    out.push_str("# TYPE sse_streams_ended_total counter\n");
    for (reason, count) in state.streams.ended() {
        let _ = writeln!(
            out,
            "sse_streams_ended_total{{reason=\"{reason}\"}} {count}"
        );
    }
    fanout_metrics(&state, &mut out);
    // The queue is shared by every process on the database: read it, not a local count.
    match state.db.push_queue_stats().await {
        Ok(stats) => {
            let age = stats
                .oldest_created_at
                .map(|at| (now_ms() - at).max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            out.push_str("# HELP push_queue_depth Web Push messages queued (all processes).\n");
            out.push_str("# TYPE push_queue_depth gauge\n");
            let _ = writeln!(out, "push_queue_depth {}", stats.depth);
            out.push_str(
                "# HELP push_queue_oldest_age_seconds Age of the oldest queued Web Push message.\n",
            );
            out.push_str("# TYPE push_queue_oldest_age_seconds gauge\n");
            let _ = writeln!(out, "push_queue_oldest_age_seconds {age:.3}");
        }
        // The rest of the page is still worth having.
        Err(error) => tracing::warn!(%error, "cannot read the push queue for /metrics"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
