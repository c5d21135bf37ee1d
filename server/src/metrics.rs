//! Prometheus counters and their text exposition.
//!
//! The counters are plain atomics any module may bump; the middleware that counts HTTP
//! requests and the `GET /metrics` page (which adds the series read from the state and the
//! database) are in `routes::metrics`, so this module needs nothing of the crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Every counter the server exports.
#[derive(Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, u16), u64>>,
    /// Answers for front-end files, by file name (only files that exist in `--dist`, so the
    /// label set is bounded by the build).
    front_end_requests: Mutex<BTreeMap<String, u64>>,
    /// Body bytes of front-end files sent, by encoding.
    front_end_bytes: Mutex<BTreeMap<&'static str, u64>>,
    /// Messages returned by range fetches.
    pub served_range: AtomicU64,
    /// Messages returned by cursor fetches.
    pub served_cursor: AtomicU64,
    /// Changed messages returned by changes-since fetches (`GET /api/chat/changes`).
    pub served_changes: AtomicU64,
    /// New messages stored.
    pub messages_stored: AtomicU64,
    /// Changes stored: edits, redactions, reassignments and closes.
    pub changes_stored: AtomicU64,
    /// Pushes the push service accepted.
    pub pushes_sent: AtomicU64,
    /// Push attempts that failed (network, timeout, encryption, or a non-2xx answer).
    pub pushes_failed: AtomicU64,
    /// Failed pushes put back in the queue for another attempt.
    pub pushes_retried: AtomicU64,
    /// Pushes given up, by [`PushDrop`].
    pushes_dropped: [AtomicU64; PushDrop::ALL.len()],
    /// Open SSE streams.
    pub sse_clients: AtomicI64,
    /// Expired sessions deleted by the purge.
    pub sessions_purged: AtomicU64,
    /// From a message's send to its event leaving on a live stream.
    pub stream_lag: Histogram,
}

/// Upper bounds (ms) of the stream-lag buckets.
const LAG_BUCKETS_MS: [i64; 13] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
];

/// A Prometheus histogram of durations in milliseconds, exported in seconds.
#[derive(Default)]
pub struct Histogram {
    /// Observations at or below each bound of [`LAG_BUCKETS_MS`] (not cumulative here).
    buckets: [AtomicU64; LAG_BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe_ms(&self, ms: i64) {
        let ms = ms.max(0);
        if let Some(i) = LAG_BUCKETS_MS.iter().position(|&bound| ms <= bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms
            .fetch_add(u64::try_from(ms).unwrap_or(0), Ordering::Relaxed);
    }

    /// Appends the exposition of `name`.
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in LAG_BUCKETS_MS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = *bound as f64 / 1000.0;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum {sum:.3}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Why a queued push was given up (`push_dropped_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushDrop {
    /// The test fault switch.
    Fault,
    /// It failed `push_max_attempts` times.
    Attempts,
    /// The push service refused it for good (a 4xx other than 404/410/408/425/429), or it
    /// could not be encrypted for the subscription's keys.
    Rejected,
    /// Its recipient no longer owns the subscription or takes part in the chat, or the
    /// message is gone.
    Stale,
    /// The queue held more than `push_queue_max` rows: the oldest go.
    QueueFull,
}

impl PushDrop {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [PushDrop; 5] = [
        PushDrop::Fault,
        PushDrop::Attempts,
        PushDrop::Rejected,
        PushDrop::Stale,
        PushDrop::QueueFull,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            PushDrop::Fault => "fault",
            PushDrop::Attempts => "attempts",
            PushDrop::Rejected => "rejected",
            PushDrop::Stale => "stale",
            PushDrop::QueueFull => "queue_full",
        }
    }
}

impl Metrics {
    /// Counts `count` pushes given up for `reason`.
    pub fn count_push_drop(&self, reason: PushDrop, count: u64) {
        self.pushes_dropped[reason as usize].fetch_add(count, Ordering::Relaxed);
    }

    /// Pushes given up for `reason` so far.
    pub fn push_drops(&self, reason: PushDrop) -> u64 {
        self.pushes_dropped[reason as usize].load(Ordering::Relaxed)
    }

    /// Counts one answered request.
    pub fn count_request(&self, route: &str, status: u16) {
        let mut http = self.http.lock().unwrap_or_else(|e| e.into_inner());
        *http.entry((route.to_owned(), status)).or_insert(0) += 1;
    }

    /// Counts one answer for the front-end file `file`, sent in `encoding` with `bytes` of
    /// body (0 for a 304).
    pub fn count_front_end(&self, file: &str, encoding: &'static str, bytes: usize) {
        let mut requests = self
            .front_end_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *requests.entry(file.to_owned()).or_insert(0) += 1;
        drop(requests);
        let mut sent = self
            .front_end_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *sent.entry(encoding).or_insert(0) += bytes as u64;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP frontend_requests_total Requests answered for a front-end file, by file.\n",
        );
        out.push_str("# TYPE frontend_requests_total counter\n");
        for (file, count) in self
            .front_end_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "frontend_requests_total{{file=\"{file}\"}} {count}");
        }
        out.push_str(
            "# HELP frontend_body_bytes_total Body bytes of front-end files sent, by encoding.\n",
        );
        out.push_str("# TYPE frontend_body_bytes_total counter\n");
        for (encoding, bytes) in self
            .front_end_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "frontend_body_bytes_total{{encoding=\"{encoding}\"}} {bytes}"
            );
        }
        out.push_str("# HELP http_requests_total HTTP requests answered, by route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        {
            let http = self.http.lock().unwrap_or_else(|e| e.into_inner());
            for ((route, status), count) in http.iter() {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        let counter = |out: &mut String, name: &str, help: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter(
            &mut out,
            "chat_messages_served_total",
            "Messages returned by history fetches.",
            &[
                (
                    "{kind=\"range\"}",
                    self.served_range.load(Ordering::Relaxed),
                ),
                (
                    "{kind=\"cursor\"}",
                    self.served_cursor.load(Ordering::Relaxed),
                ),
            ],
        );
        counter(
            &mut out,
            "chat_changes_served_total",
            "Changed messages returned by changes-since fetches (repair traffic for changes).",
            &[("", self.served_changes.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "chat_changes_stored_total",
            "Changes stored: edits, redactions, reassignments and closes.",
            &[("", self.changes_stored.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "chat_messages_stored_total",
            "New messages stored.",
            &[("", self.messages_stored.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "push_sent_total",
            "Web Push messages accepted by a push service.",
            &[("", self.pushes_sent.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "push_failed_total",
            "Web Push messages that failed.",
            &[("", self.pushes_failed.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "sessions_purged_total",
            "Expired sessions deleted.",
            &[("", self.sessions_purged.load(Ordering::Relaxed))],
        );
        counter(
            &mut out,
            "push_retried_total",
            "Failed Web Push messages queued for another attempt.",
            &[("", self.pushes_retried.load(Ordering::Relaxed))],
        );
        let drops: Vec<(String, u64)> = PushDrop::ALL
            .iter()
            .map(|reason| {
                (
                    format!("{{reason=\"{}\"}}", reason.label()),
                    self.push_drops(*reason),
                )
            })
            .collect();
        let drops: Vec<(&str, u64)> = drops.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        counter(
            &mut out,
            "push_dropped_total",
            "Queued Web Push messages given up, by reason.",
            &drops,
        );
        out.push_str("# HELP sse_clients Open Server-Sent Events streams.\n");
        out.push_str("# TYPE sse_clients gauge\n");
        let _ = writeln!(
            out,
            "sse_clients {}",
            self.sse_clients.load(Ordering::Relaxed)
        );
        self.stream_lag.render(
            &mut out,
            "sse_event_lag_seconds",
            "From a message's send to its event leaving on a live stream of this process.",
        );
        out
    }
}
