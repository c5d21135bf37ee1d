//! The UI part of `cargo xtask bench`: runs `tests/src/bin/ui_bench/` (headless Chromium, then
//! headless Firefox when it is installed; release front end, release server), turns its
//! figures into report rows (one suite per browser), and draws Chromium's chat-switch and
//! scroll frame-time distributions as an SVG chart (`bench/ui-distributions.svg`, linked
//! from the README).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::process::{root, run, target_dir};
use crate::tools::Tools;

/// Builds the release front end (`dist/`) and server once per `cargo xtask bench` run.
fn build_release(tools: &Tools) -> Result<(), String> {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if BUILT.get().is_some() {
        return Ok(());
    }
    crate::serve::build_front_end(tools)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(tools
        .command(&cargo)
        .args(["build", "--release", "-p", "server", "--bin", "server"]))?;
    let _ = BUILT.set(());
    Ok(())
}

/// Runs the benchmark binary `bin` of the e2e crate (release) and returns the rows of the
/// JSON report it writes to `bench/<out>`.
fn run_browser_bench(tools: &Tools, bin: &str, out: &str) -> Result<Vec<Value>, String> {
    build_release(tools)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = root().join("bench").join(out);
    let mut command = tools.command(&cargo);
    command
        .args(["run", "--release", "-p", "e2e", "--bin", bin, "--", "--out"])
        .arg(&out)
        .env(
            "E2E_SERVER_BIN",
            target_dir().join("release").join("server"),
        )
        .env("E2E_DIST", root().join("dist"))
        .env("E2E_CHROMIUM", "/usr/bin/chromium");
    // The UI benchmark's Firefox rows: the geckodriver `cargo xtask setup` installs (the
    // benchmark also looks on PATH, and skips Firefox with a note when there is none).
    if tools.geckodriver().is_file() && std::env::var_os("E2E_GECKODRIVER").is_none() {
        command.env("E2E_GECKODRIVER", tools.geckodriver());
    }
    run(&mut command)?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let report: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", out.display()))?;
    report["results"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("{} without results", out.display()))
}

/// Report rows from a browser benchmark's rows: times are held to their target at p95 (or,
/// when the row gives a `p95_target`, to its target at the median and that one at p95),
/// memory (one sample) at its value, rates (`higher_is_better`) at their worst run.
fn report_rows(suite: &str, rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .filter(|r| r["median"].is_number())
        .map(|r| {
            let p95 = r["p95"].as_f64().unwrap_or(f64::NAN);
            let target = r["our_target"].as_f64().unwrap_or(f64::NAN);
            let higher = r["higher_is_better"].as_bool().unwrap_or(false);
            let p95_target = r["p95_target"].as_f64();
            let meets = if higher {
                r["worst"].as_f64().is_some_and(|w| w >= target)
            } else if let Some(p95_target) = p95_target {
                r["median"].as_f64().is_some_and(|m| m <= target) && p95 <= p95_target
            } else {
                p95 <= target
            };
            json!({
                "suite": suite,
                "metric": r["metric"],
                "what": format!("{} ({} runs)", r["what"].as_str().unwrap_or(""), r["runs"]),
                "unit": r["unit"],
                "median": r["median"],
                "p95": r["p95"],
                // A floor measured in the same runs, when the row has one.
                "floor": r["floor"],
                "floor_name": r["floor_name"],
                "ratio": r["ratio"],
                "seed_target": r["seed_target"],
                "our_target": target,
                "p95_target": p95_target,
                "higher_is_better": higher,
                "meets_target": meets,
                "detail": r["detail"],
            })
        })
        .collect()
}

/// Builds the release front end and server, then runs the UI benchmark: Chromium's rows,
/// then Firefox's (`"browser": "Firefox"`), each browser a suite of its own. A Firefox part
/// that was skipped (no Firefox, or its run failed) leaves a note, printed here.
pub fn ui_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
    let rows = run_browser_bench(tools, "ui_bench", "ui.json")?;
    let (firefox, chromium): (Vec<Value>, Vec<Value>) = rows
        .into_iter()
        .partition(|r| r["browser"].as_str() == Some("Firefox"));
    for note in firefox.iter().filter_map(|r| r["note"].as_str()) {
        eprintln!("xtask: UI benchmark without Firefox rows: {note}");
    }
    write_chart(&chromium)?;
    let mut report = report_rows("UI (headless Chromium, release)", &chromium);
    report.extend(report_rows("UI (headless Firefox, release)", &firefox));
    Ok(report)
}

/// Builds the release front end and server, then runs the sync benchmark (push → committed,
/// delta sync, repair traffic, media hit rate).
pub fn sync_benchmarks(tools: &Tools) -> Result<Vec<Value>, String> {
    let rows = run_browser_bench(tools, "sync_bench", "sync.json")?;
    Ok(report_rows("sync (headless Chromium, release)", &rows))
}

/// Two histograms side by side: chat switch (click → rows in the DOM) and scroll frame
/// intervals, with the 16.7 ms frame budget marked.
fn write_chart(rows: &[Value]) -> Result<(), String> {
    let samples = |metric: &str| -> Vec<f64> {
        rows.iter()
            .find(|r| r["metric"] == metric)
            .and_then(|r| r["samples"].as_array())
            .map(|s| s.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let panels = [
        (
            "Chat switch, 10,000 messages: click → rows in DOM (ms)",
            samples("chat_switch_dom"),
        ),
        (
            "Scroll frame interval, 100,000 messages (ms)",
            samples("scroll_frame"),
        ),
    ];
    let (width, height, pad) = (900.0, 320.0, 40.0);
    let panel_w = (width - pad * 3.0) / 2.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"system-ui, sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    );
    for (i, (title, values)) in panels.iter().enumerate() {
        let x0 = pad + i as f64 * (panel_w + pad);
        let (top, bottom) = (pad, height - pad);
        let _ = writeln!(
            svg,
            "<text x=\"{x0}\" y=\"{}\" font-weight=\"600\">{title}</text>",
            top - 12.0
        );
        let max = values.iter().copied().fold(34.0_f64, f64::max).min(100.0);
        let bins = 34usize;
        let mut counts = vec![0usize; bins];
        for v in values {
            let bin = ((v / max) * bins as f64)
                .floor()
                .clamp(0.0, (bins - 1) as f64) as usize;
            counts[bin] += 1;
        }
        let peak = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let bar_w = panel_w / bins as f64;
        for (b, count) in counts.iter().enumerate() {
            let h = (*count as f64 / peak) * (bottom - top);
            let _ = writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2f6fde\"/>",
                x0 + b as f64 * bar_w,
                bottom - h,
                (bar_w - 1.0).max(1.0)
            );
        }
        let budget = x0 + (16.7 / max) * panel_w;
        let _ = writeln!(
            svg,
            "<line x1=\"{budget:.1}\" y1=\"{top}\" x2=\"{budget:.1}\" y2=\"{bottom}\" stroke=\"#d9480f\" stroke-dasharray=\"4 3\"/>\n\
             <text x=\"{:.1}\" y=\"{}\" fill=\"#d9480f\">16.7 ms</text>\n\
             <line x1=\"{x0}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#888\"/>\n\
             <text x=\"{x0}\" y=\"{}\">0</text><text x=\"{:.1}\" y=\"{}\" text-anchor=\"end\">{max:.0} ms</text>\n\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"end\" fill=\"#555\">{} samples</text>",
            budget + 3.0,
            top + 12.0,
            x0 + panel_w,
            bottom + 16.0,
            x0 + panel_w,
            bottom + 16.0,
            x0 + panel_w,
            top + 12.0,
            values.len()
        );
    }
    svg.push_str("</svg>\n");
    let path = root().join("bench").join("ui-distributions.svg");
    std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))
}
