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
//!
//! This module runs the parts and keeps the rows of the parts not rerun; its children measure
//! one part each (`sync_core`, `store`, `server`, `wasm_size`) and write the reports (`report`).

mod report;
mod server;
mod store;
mod sync_core;
mod wasm_size;

use serde_json::Value;

use crate::process::root;
use crate::tools::Tools;
use report::write_reports;
use server::server_benchmarks;
use store::store_benchmarks;
use sync_core::core_benchmarks;
use wasm_size::wasm_sizes;

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

/// The cargo that runs xtask, so each benchmark builds with the same toolchain.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
