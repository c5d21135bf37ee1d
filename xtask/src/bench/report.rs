//! The reports: `bench/results.json` and `BENCHMARKS.md` (the table, the largest functions in
//! the wasm and the targets missed), each figure in a human unit.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::process::root;

/// A figure in `unit` as a reader writes it (`-` when there is none).
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

/// Writes `bench/results.json` and `BENCHMARKS.md` from the rows, and prints the latter.
pub(super) fn write_reports(results: &[Value]) -> Result<(), String> {
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
        let target = match r["p95_target"].as_f64() {
            Some(p95) => format!(
                "median < {}, p95 < {}",
                human(number("our_target"), unit),
                human(p95, unit)
            ),
            None => format!("{direction} {}", human(number("our_target"), unit)),
        };
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
            "\n## What the wasm is made of\n\n`twiggy top` on cargo's output, before \
             wasm-bindgen and wasm-opt (bytes before optimization; the names section, which \
             the shipped files drop, left out). By crate, each function counts for the first \
             crate its name gives (`core`: the standard library's generic code, instantiated \
             for our types).\n\n",
        );
        let items = |list: &Value| -> String {
            list.as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    format!(
                        "`{}` ({:.1} KB)",
                        item["item"].as_str().unwrap_or(""),
                        item["bytes"].as_f64().unwrap_or(f64::NAN) / 1024.0
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for r in largest {
            let what = r["what"].as_str().unwrap_or("");
            let _ = writeln!(md, "- {what}, by crate: {}", items(&r["by_crate"]));
            let _ = writeln!(md, "- {what}, largest functions: {}", items(&r["largest"]));
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
            let ours = human(r["our_target"].as_f64().unwrap_or(f64::NAN), unit);
            let against = match r["p95_target"].as_f64() {
                Some(p95) => format!(
                    "our targets of {ours} at the median and {} at p95",
                    human(p95, unit)
                ),
                None => format!("our target of {ours}"),
            };
            let _ = writeln!(
                md,
                "- {}: {figure} against {against}.",
                r["what"].as_str().unwrap_or(""),
            );
        }
    }
    std::fs::write(root().join("BENCHMARKS.md"), &md).map_err(|e| e.to_string())?;
    print!("{md}");
    Ok(())
}
