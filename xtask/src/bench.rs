//! `cargo xtask bench`: runs the benchmarks on release builds and writes `bench/results.json`
//! and `BENCHMARKS.md`: metric, median, p95, the floor or peer measured in the same run where
//! there is one, the seed's target and ours.
//!
//! It covers the native `sync` benchmarks (criterion), the IndexedDB store in headless
//! Chromium against plain-JS IndexedDB on the same data in the same run, the server's loopback
//! load test (SQLite and PostgreSQL), the gzip sizes of the built wasm, and the UI in
//! headless Chromium (`ui_bench`: chat switch, cold start, scroll frames, memory), and sync in
//! headless Chromium (`sync_bench`: push → committed, delta sync of 100, repair traffic
//! against a full reload, media hit rate on a repeat view).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::process::{root, run, target_dir};
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

/// Runs `bench`.
pub fn run_bench(args: &[String]) -> Result<(), String> {
    let tools = Tools::locate()?;
    tools.install(crate::tools::Need::Tests)?;
    // `--only NAME` reruns one part and keeps the other parts' rows of the last report.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|name| name.to_lowercase());
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (name, part) in [
        (
            "sync core",
            core_benchmarks as fn(&Tools) -> Result<Vec<Value>, String>,
        ),
        ("IndexedDB store", store_benchmarks),
        ("server load", server_benchmarks),
        ("wasm sizes", wasm_sizes),
        // After the wasm sizes, which build the release front end it runs.
        ("UI", crate::ui_bench::ui_benchmarks),
        ("repair, push and media", crate::ui_bench::sync_benchmarks),
    ] {
        if only
            .as_ref()
            .is_some_and(|only| !name.to_lowercase().contains(only.as_str()))
        {
            continue;
        }
        match part(&tools) {
            Ok(mut part) => results.append(&mut part),
            Err(e) => {
                eprintln!("xtask: bench part {name} failed: {e}");
                failures.push(name);
            }
        }
    }
    if only.is_some() {
        results = keep_other_suites(results);
    }
    write_reports(&results)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("benchmark parts failed: {}", failures.join(", ")))
    }
}

/// The rows of the last report whose suites were not rerun, followed by the new rows.
fn keep_other_suites(new_rows: Vec<Value>) -> Vec<Value> {
    let rerun: std::collections::HashSet<String> = new_rows
        .iter()
        .filter_map(|r| r["suite"].as_str().map(str::to_owned))
        .collect();
    let path = root().join("bench").join("results.json");
    let old_rows: Vec<Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|report| report["results"].as_array().cloned())
        .unwrap_or_default();
    old_rows
        .into_iter()
        .filter(|r| r["suite"].as_str().is_none_or(|s| !rerun.contains(s)))
        .chain(new_rows)
        .collect()
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn core_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
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

/// The store benchmark prints one JSON object per line to the console; the runner relays it.
fn store_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
    // Both engines, so a reader sees each store figure in Chromium and in Firefox.
    let mut results = store_benchmarks_in(tools, "Chromium", "CHROMEDRIVER", tools.chromedriver())?;
    results.extend(store_benchmarks_in(
        tools,
        "Firefox",
        "GECKODRIVER",
        tools.geckodriver(),
    )?);
    Ok(results)
}

/// The in-browser store benchmark in one browser, through its WebDriver (`driver_var`).
fn store_benchmarks_in(
    tools: &Tools,
    browser: &str,
    driver_var: &str,
    driver: std::path::PathBuf,
) -> Result<Vec<Value>, String> {
    let mut command = tools.command(cargo());
    command
        .args([
            "test",
            "--release",
            "--features",
            "bench",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .args([
            "-p",
            "chat-sync-idb",
            "--test",
            "bench",
            "--",
            "--nocapture",
        ])
        .env_remove("GECKODRIVER")
        .env_remove("CHROMEDRIVER")
        .env(driver_var, driver);
    let out = crate::process::output(&mut command)
        .ok_or_else(|| format!("`{}` failed", crate::process::describe(&command)))?;
    let mut results = Vec::new();
    for line in out.lines() {
        let Some(start) = line.find("{\"bench\":\"chat-sync-idb\"") else {
            continue;
        };
        let Ok(row) = serde_json::from_str::<Value>(&line[start..]) else {
            continue;
        };
        let op = row["op"].as_str().unwrap_or_default().to_owned();
        let scenario = row["scenario"].as_str().unwrap_or_default().to_owned();
        let rust = row["rust_ms"].as_f64().unwrap_or(f64::NAN);
        let floor = row["js_getAllRecords_or_cursor_ms"]
            .as_f64()
            .or(row["js_ms"].as_f64());
        let (seed_target, our_target) = match op.as_str() {
            "open_newest_50" => ("cache load < 100 ms", 5.0),
            "ingest_1" | "ingest_one" => ("-", 5.0),
            "ingest_100" | "ingest_page_100" => ("delta sync of 100 < 200 ms", 40.0),
            _ => ("-", 5.0),
        };
        results.push(json!({
            "suite": format!("IndexedDB store (headless {browser}, release)"),
            "metric": format!("{scenario}/{op}"),
            "what": format!("{op} ({scenario})"),
            "unit": "ms",
            "median": rust,
            "p95": Value::Null,
            "floor": floor,
            "floor_name": "plain-JS IndexedDB, same data, same run",
            "ratio": floor.map(|f| rust / f),
            "seed_target": seed_target,
            "our_target": our_target,
            "meets_target": rust <= our_target,
        }));
    }
    if results.is_empty() {
        return Err(format!(
            "the store benchmark printed no result line in {browser}"
        ));
    }
    Ok(results)
}

fn server_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
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
                "sends/s, {processes} process(es) on one PostgreSQL, {} streams open, {} senders \
                 (send p95 {:.0} ms; cores {:.0} % busy: servers {:.0} %, PostgreSQL {:.0} %, \
                 load generator {:.0} %, other {:.0} %){}",
                r["streams"], r["senders"],
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

fn wasm_sizes(tools: &Tools) -> Result<Vec<Value>, String> {
    crate::serve::build_front_end(tools)?;
    let mut results = Vec::new();
    let dist = root().join("dist");
    let entries = std::fs::read_dir(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let gzipped = crate::process::output(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9 -c '{}' | wc -c", path.display())),
        )
        .and_then(|n| n.trim().parse::<f64>().ok())
        .ok_or("gzip failed")?;
        let is_app = name.starts_with("app");
        // Issue 17's targets: the app within 250 KB, the service worker within 200 KB.
        let target = if is_app { 250.0 } else { 200.0 };
        results.push(json!({
            "suite": "wasm size (gzip -9)",
            "metric": name,
            "what": if is_app { "app wasm" } else { "worker wasm" },
            "unit": "KB",
            "median": gzipped / 1024.0,
            "p95": Value::Null,
            "floor": Value::Null,
            "seed_target": "-",
            "our_target": target,
            "meets_target": gzipped / 1024.0 <= target,
            "largest": largest_functions(tools, if is_app { "app" } else { "worker" }, 5),
        }));
    }
    Ok(results)
}

/// The `count` largest functions of a front-end crate's wasm as `twiggy top` names them, as
/// `{"item", "bytes"}`: where to look first when a size grows. They come from cargo's own
/// output (before wasm-bindgen and wasm-opt: the shipped file carries no names), so the
/// bytes are before optimization. Empty when twiggy is not installed (`cargo install
/// twiggy`) or cannot read the file; the sizes do not depend on it.
fn largest_functions(tools: &Tools, crate_name: &str, count: usize) -> Vec<Value> {
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join("wasm-release")
        .join(format!("{crate_name}.wasm"));
    let Some(csv) = crate::process::output(
        tools
            .command("twiggy")
            .args(["top", "-n", "200", "-f", "csv"])
            .arg(&wasm),
    ) else {
        return Vec::new();
    };
    csv.lines()
        .skip(1)
        .filter_map(csv_name_and_size)
        // Sections, data segments, imports and exports (wasm-bindgen's `describe` functions,
        // which it removes) are not functions.
        .filter(|(name, _)| {
            !name.contains(" section")
                && ![
                    "data segment",
                    "import ",
                    "export ",
                    "type[",
                    "elem[",
                    "table[",
                    "global[",
                    "memory[",
                    "__wbindgen",
                ]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .take(count)
        .map(|(name, bytes)| json!({ "item": without_hash(&name), "bytes": bytes }))
        .collect()
}

/// The first two fields of a line of twiggy's CSV (the item's name, quoted when it holds a
/// comma or a quote, and its shallow size).
fn csv_name_and_size(line: &str) -> Option<(String, u64)> {
    let (name, rest) = match line.strip_prefix('"') {
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            loop {
                let (i, c) = chars.next()?;
                if c != '"' {
                    name.push(c);
                } else if chars.peek().is_some_and(|&(_, next)| next == '"') {
                    chars.next();
                    name.push('"');
                } else {
                    break (name, quoted.get(i + 1..)?.strip_prefix(',')?);
                }
            }
        }
        None => {
            let (name, rest) = line.split_once(',')?;
            (name.to_owned(), rest)
        }
    };
    let bytes = rest.split(',').next()?.trim().parse().ok()?;
    Some((name, bytes))
}

/// A symbol without rustc's `::h0123456789abcdef` hash suffix.
fn without_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((base, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            base
        }
        _ => name,
    }
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

fn human(value: f64, unit: &str) -> String {
    if value.is_nan() {
        return "-".into();
    }
    match unit {
        "ns" if value >= 1e6 => format!("{:.2} ms", value / 1e6),
        "ns" if value >= 1e3 => format!("{:.1} µs", value / 1e3),
        "ns" => format!("{value:.0} ns"),
        "ms" => format!("{value:.2} ms"),
        other => format!("{value:.1} {other}"),
    }
}

fn write_reports(results: &[Value]) -> Result<(), String> {
    let dir = root().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let json =
        serde_json::to_string_pretty(&json!({ "results": results })).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("results.json"), json).map_err(|e| e.to_string())?;

    let mut md = String::from(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on this machine (2 cores, shared), release \
         builds. Each figure beside the floor measured in the same run where there is one.\n\n\
         | suite | metric | median | p95 | floor (same run) | ratio | seed's target | our target | met |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let unit = r["unit"].as_str().unwrap_or("");
        let number = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
        let direction = if r["higher_is_better"].as_bool().unwrap_or(false) {
            "≥"
        } else {
            "<"
        };
        let target = format!("{direction} {}", human(number("our_target"), unit));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["suite"].as_str().unwrap_or(""),
            r["what"].as_str().unwrap_or(""),
            human(number("median"), unit),
            human(number("p95"), unit),
            human(number("floor"), unit),
            r["ratio"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.2}")),
            r["seed_target"].as_str().unwrap_or("-"),
            target,
            if r["meets_target"].as_bool().unwrap_or(false) {
                "yes"
            } else {
                "**no**"
            },
        );
    }
    let largest: Vec<&Value> = results
        .iter()
        .filter(|r| r["largest"].as_array().is_some_and(|l| !l.is_empty()))
        .collect();
    if !largest.is_empty() {
        md.push_str(
            "\n## Largest functions in the wasm\n\n`twiggy top` on cargo's output, before \
             wasm-bindgen and wasm-opt (bytes before optimization).\n\n",
        );
        for r in largest {
            let items: Vec<String> = r["largest"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    format!(
                        "`{}` ({:.1} KB)",
                        item["item"].as_str().unwrap_or(""),
                        item["bytes"].as_f64().unwrap_or(f64::NAN) / 1024.0
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "- {}: {}",
                r["what"].as_str().unwrap_or(""),
                items.join(", ")
            );
        }
    }
    let missed: Vec<&Value> = results
        .iter()
        .filter(|r| !r["meets_target"].as_bool().unwrap_or(false))
        .collect();
    if !missed.is_empty() {
        md.push_str("\n## Targets missed\n\n");
        for r in missed {
            let unit = r["unit"].as_str().unwrap_or("");
            let median = human(r["median"].as_f64().unwrap_or(f64::NAN), unit);
            // A single measurement (a size) has no p95: say the figure itself.
            let figure = match r["p95"].as_f64() {
                Some(p95) => format!("{} at p95 (median {median})", human(p95, unit)),
                None => median,
            };
            let _ = writeln!(
                md,
                "- {}: {figure} against our target of {}.",
                r["what"].as_str().unwrap_or(""),
                human(r["our_target"].as_f64().unwrap_or(f64::NAN), unit),
            );
        }
    }
    std::fs::write(root().join("BENCHMARKS.md"), &md).map_err(|e| e.to_string())?;
    print!("{md}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{csv_name_and_size, without_hash};

    #[test]
    fn reads_twiggy_csv_lines() {
        assert_eq!(
            csv_name_and_size("\"\"\"function names\"\" subsection\",938768,27.4,,"),
            Some(("\"function names\" subsection".to_owned(), 938768))
        );
        assert_eq!(
            csv_name_and_size("\"<F as a::B<C, D>>::invoke::h00029090db0efb4b\",14943,0.44,,"),
            Some((
                "<F as a::B<C, D>>::invoke::h00029090db0efb4b".to_owned(),
                14943
            ))
        );
        assert_eq!(
            csv_name_and_size("app::render::hec1b26f6970e637b,16183,0.47,,"),
            Some(("app::render::hec1b26f6970e637b".to_owned(), 16183))
        );
        assert_eq!(csv_name_and_size("Name,ShallowSize"), None);
        assert_eq!(
            without_hash("app::render::hec1b26f6970e637b"),
            "app::render"
        );
        assert_eq!(
            without_hash("core::fmt::float::x::<f64>"),
            "core::fmt::float::x::<f64>"
        );
    }
}
