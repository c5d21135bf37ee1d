//! The IndexedDB store benchmark in headless Chromium and Firefox, each figure beside plain-JS
//! IndexedDB on the same data in the same run.

use serde_json::{json, Value};

use super::cargo;
use crate::tools::Tools;

/// The store benchmark prints one JSON object per line to the console; the runner relays it.
pub(super) fn store_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
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
