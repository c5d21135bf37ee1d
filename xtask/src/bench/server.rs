//! The server's benchmarks: the loopback load test of one process (SQLite and PostgreSQL)
//! and the fan-out of several processes on one PostgreSQL.

use serde_json::{json, Value};

use super::cargo;
use crate::process::{root, run, target_dir};
use crate::tools::Tools;

/// The load test's rows followed by the fan-out's.
pub(super) fn server_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
    let mut rows = loadtest_rows(tools)?;
    rows.extend(fanout_rows(tools)?);
    Ok(rows)
}

/// The loopback load test of one process (range fetches and sends, SQLite and PostgreSQL).
fn loadtest_rows(tools: &Tools) -> Result<Vec<Value>, String> {
    let out = root().join("bench").join("server-load.json");
    std::fs::create_dir_all(root().join("bench")).map_err(|e| e.to_string())?;
    run(tools
        .command(cargo())
        .args([
            "run",
            "--release",
            "-p",
            "server",
            "--bin",
            "loadtest",
            "--",
            "--out",
        ])
        .arg(&out))?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let report: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", out.display()))?;
    let rows = report["results"]
        .as_array()
        .ok_or("server-load.json without results")?;
    Ok(rows
        .iter()
        .map(|r| {
            let what = format!(
                "{} {} ({} concurrent, {} msgs/request): {:.0} requests/s",
                r["backend"].as_str().unwrap_or(""),
                r["scenario"].as_str().unwrap_or(""),
                r["concurrency"],
                r["messages_per_request"],
                r["requests_per_s"].as_f64().unwrap_or(0.0)
            );
            json!({
                "suite": "server (loopback load)",
                "metric": format!("{}/{}", r["backend"].as_str().unwrap_or(""), r["scenario"].as_str().unwrap_or("")),
                "what": what,
                "unit": "ms",
                "median": r["p50_ms"],
                "p95": r["p95_ms"],
                "floor": Value::Null,
                "seed_target": "-",
                "our_target": 50.0,
                "meets_target": r["p95_ms"].as_f64().is_some_and(|p| p <= 50.0) && r["errors"].as_u64() == Some(0),
            })
        })
        .collect())
}

/// Post → event at the stream and sends/s with 1, 2 and 4 server processes on one PostgreSQL
/// and 1,000 open streams (`server/src/bin/fanout_bench.rs`), each multi-process figure beside
/// the one-process figure of the same run.
fn fanout_rows(tools: &Tools) -> Result<Vec<Value>, String> {
    let out = root().join("bench").join("fanout.json");
    // The benchmark starts the server binary as several processes: build both.
    run(tools
        .command(cargo())
        .args(["build", "--release", "-p", "server", "--bins"]))?;
    run(tools
        .command(target_dir().join("release").join("fanout_bench"))
        .arg("--out")
        .arg(&out))?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let report: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", out.display()))?;
    let runs = report["results"]
        .as_array()
        .ok_or("fanout.json without results")?;
    let one = runs.iter().find(|r| r["processes"].as_u64() == Some(1));
    let mut rows = Vec::new();
    for r in runs {
        let processes = r["processes"].as_u64().unwrap_or(0);
        let number = |run: &Value, key: &str| run[key].as_f64();
        let complete = r["delivered_events"] == r["expected_events"]
            && r["duplicate_or_unknown_events"].as_u64() == Some(0);
        let (floor, ratio) = match one.filter(|_| processes > 1) {
            Some(one) => {
                let floor = number(one, "p95_ms");
                (floor, floor.zip(number(r, "p95_ms")).map(|(f, p)| p / f))
            }
            None => (None, None),
        };
        rows.push(json!({
            "suite": "server (several processes)",
            "metric": format!("fanout/{processes}_processes/latency"),
            "what": format!(
                "post → event at the stream, {processes} process(es) on one PostgreSQL, {} streams, \
                 {} msg/s ({} of {} events, p99 {:.1} ms; floor: 1 process)",
                r["streams"], r["rate_per_s"], r["delivered_events"], r["expected_events"],
                number(r, "p99_ms").unwrap_or(f64::NAN)
            ),
            "unit": "ms",
            "median": r["p50_ms"],
            "p95": r["p95_ms"],
            "floor": floor,
            "ratio": ratio,
            "seed_target": "-",
            "our_target": 50.0,
            "meets_target": complete && number(r, "p95_ms").is_some_and(|p| p < 50.0),
        }));
        let (floor, ratio) = match one.filter(|_| processes > 1) {
            Some(one) => {
                let floor = number(one, "sends_per_s");
                (
                    floor,
                    floor.zip(number(r, "sends_per_s")).map(|(f, s)| s / f),
                )
            }
            None => (None, None),
        };
        rows.push(json!({
            "suite": "server (several processes)",
            "metric": format!("fanout/{processes}_processes/sends"),
            "what": format!(
                "sends/s, {processes} process(es) on one PostgreSQL ({} connections each), {} \
                 streams open, {} senders (send p95 {:.0} ms; cores {:.0} % busy: servers {:.0} %, \
                 PostgreSQL {:.0} %, load generator {:.0} %, other {:.0} %){}",
                r["database_pool"], r["streams"], r["senders"],
                number(r, "send_p95_ms").unwrap_or(f64::NAN),
                number(r, "cpu_busy_percent").unwrap_or(f64::NAN),
                number(r, "cpu_servers_percent").unwrap_or(f64::NAN),
                number(r, "cpu_postgres_percent").unwrap_or(f64::NAN),
                number(r, "cpu_load_generator_percent").unwrap_or(f64::NAN),
                number(r, "cpu_other_percent").unwrap_or(f64::NAN),
                if processes == 1 {
                    "; the floor of the rows below"
                } else {
                    "; target: more than 1 process"
                }
            ),
            "unit": "sends/s",
            "median": r["sends_per_s"],
            "p95": Value::Null,
            "floor": floor,
            "ratio": ratio,
            "seed_target": "-",
            // Throughput should grow with processes until PostgreSQL (or the cores) limit it.
            "our_target": floor,
            "higher_is_better": true,
            "meets_target": r["send_errors"].as_u64() == Some(0)
                && (processes == 1 || ratio.is_some_and(|x| x > 1.0)),
        }));
    }
    Ok(rows)
}
