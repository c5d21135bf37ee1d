//! The native `sync` benchmarks: criterion's run of `ranges_and_merge`, each metric with the
//! target it is held to, read back from criterion's samples as a median and a 95th percentile.

use std::path::Path;

use serde_json::{json, Value};

use super::cargo;
use crate::process::{run, target_dir};
use crate::tools::Tools;

/// A criterion benchmark and what it is held to.
struct Metric {
    id: &'static str,
    what: &'static str,
    seed_target: &'static str,
    our_target_ns: f64,
}

const CORE_METRICS: &[Metric] = &[
    Metric {
        id: "gaps/100k_messages_0_holes",
        what: "gap detection, 100,000 messages, no hole",
        seed_target: "-",
        our_target_ns: 1_000.0,
    },
    Metric {
        id: "gaps/100k_messages_1000_holes",
        what: "gap detection, 100,000 messages, 1,000 holes",
        seed_target: "-",
        our_target_ns: 50_000.0,
    },
    Metric {
        id: "is_partial/100k_messages_1000_holes",
        what: "partial-history check, 1,000 holes",
        seed_target: "-",
        our_target_ns: 10_000.0,
    },
    Metric {
        id: "planner_poll/100k_messages_1000_holes",
        what: "planner poll, 1,000 holes",
        seed_target: "-",
        our_target_ns: 200_000.0,
    },
    Metric {
        id: "merge/1_message_into_100k_chat",
        what: "merge one message into a 100,000-message chat",
        seed_target: "-",
        our_target_ns: 20_000.0,
    },
    Metric {
        id: "merge/100_message_page_into_100k_chat",
        what: "merge a 100-message page (delta sync core)",
        seed_target: "200 ms for the whole delta sync",
        our_target_ns: 500_000.0,
    },
    Metric {
        id: "ranges/insert_100k_seqs_live_order",
        what: "insert 100,000 seqs in live arrival order",
        seed_target: "-",
        our_target_ns: 20_000_000.0,
    },
    Metric {
        id: "ranges/insert_10k_seqs_random_order",
        what: "insert 10,000 seqs in random order (worst case)",
        seed_target: "-",
        our_target_ns: 20_000_000.0,
    },
];

/// Runs the criterion benchmarks and reads each metric's row.
pub(super) fn core_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
    run(tools
        .command(cargo())
        .args(["bench", "-p", "chat-sync", "--bench", "ranges_and_merge"]))?;
    let criterion_dir = target_dir().join("criterion");
    let mut results = Vec::new();
    for metric in CORE_METRICS {
        let (median, p95) = read_criterion(&criterion_dir, metric.id)?;
        results.push(json!({
            "suite": "sync (native, criterion)",
            "metric": metric.id,
            "what": metric.what,
            "unit": "ns",
            "median": median,
            "p95": p95,
            "floor": Value::Null,
            "seed_target": metric.seed_target,
            "our_target": metric.our_target_ns,
            "meets_target": p95 <= metric.our_target_ns,
        }));
    }
    Ok(results)
}

/// Median and 95th percentile of criterion's per-sample mean iteration times, in ns.
fn read_criterion(dir: &Path, id: &str) -> Result<(f64, f64), String> {
    // Criterion names its directories after the id with slashes replaced.
    let path = dir
        .join(id.replace('/', "_"))
        .join("new")
        .join("sample.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let sample: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let iters = sample["iters"]
        .as_array()
        .ok_or("sample.json without iters")?;
    let times = sample["times"]
        .as_array()
        .ok_or("sample.json without times")?;
    let mut per_iter: Vec<f64> = iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
        .collect();
    if per_iter.is_empty() {
        return Err(format!("{}: no samples", path.display()));
    }
    per_iter.sort_by(f64::total_cmp);
    let at = |q: f64| per_iter[((per_iter.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.95)))
}
