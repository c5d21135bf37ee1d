//! What the browser benchmark binaries (`src/bin/ui_bench/`, `src/bin/sync_bench.rs`)
//! share: the `--out` argument, median and p95 of samples, and writing the JSON report that
//! `cargo xtask bench` reads.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::{HarnessError, Result};

/// The file named by `--out`, or `default`.
pub fn out_path(default: &str) -> PathBuf {
    std::env::args()
        .skip_while(|a| a != "--out")
        .nth(1)
        .map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Median and p95 of the finite samples (NaN when there are none).
pub fn median_p95(samples: &[f64]) -> (f64, f64) {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// Writes `{"results": rows}` to `out`, creating its directory.
pub fn write(out: &Path, rows: Vec<Value>) -> Result<()> {
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let report = json!({ "results": rows });
    std::fs::write(
        out,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .map_err(|source| HarnessError::Io {
        what: format!("writing {}", out.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p95_skip_what_did_not_finish() {
        let samples: Vec<f64> = (1..=20).map(f64::from).chain([f64::NAN]).collect();
        assert_eq!(median_p95(&samples), (11.0, 19.0));
        assert!(median_p95(&[f64::NAN]).0.is_nan());
    }
}
