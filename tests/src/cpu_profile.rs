//! A page's CPU profile for the benchmarks' profiling switches (`UI_BENCH_PROFILE`,
//! `SYNC_BENCH_PROFILE`): recorded with the DevTools protocol's profiler and written as a
//! `.cpuprofile` that Chrome's DevTools opens (our functions are named when the app's wasm
//! was built with `wasm-opt -g`). The profiler costs time: a profiled run is for finding
//! where the time goes, not for the report.

use std::path::PathBuf;

use serde_json::json;

use crate::browser::Page;
use crate::Result;

/// A CPU profile being recorded, and the file it goes to.
pub struct CpuProfile {
    path: PathBuf,
}

impl CpuProfile {
    /// Starts the profiler (sampling every `interval_us` µs) when the environment variable
    /// `env` names a file.
    pub async fn start_if_asked(
        page: &Page<'_>,
        env: &str,
        interval_us: u32,
    ) -> Result<Option<Self>> {
        let Some(path) = std::env::var_os(env) else {
            return Ok(None);
        };
        page.call("Profiler.enable", json!({})).await?;
        page.call(
            "Profiler.setSamplingInterval",
            json!({ "interval": interval_us }),
        )
        .await?;
        page.call("Profiler.start", json!({})).await?;
        Ok(Some(Self { path: path.into() }))
    }

    /// Stops the profiler and writes the profile (a failed write is printed, not fatal: the
    /// benchmark's figures do not depend on it).
    pub async fn finish(self, page: &Page<'_>) -> Result<()> {
        let stopped = page.call("Profiler.stop", json!({})).await?;
        match std::fs::write(&self.path, stopped["profile"].to_string()) {
            Ok(()) => eprintln!("CPU profile in {}", self.path.display()),
            Err(error) => eprintln!("could not write {}: {error}", self.path.display()),
        }
        Ok(())
    }
}
