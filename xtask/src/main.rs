//! `cargo xtask`: one entry point for every routine task, the same one CI calls.
//!
//! - `cargo xtask serve`: installs the build tools, builds the front end with Trunk (release)
//!   and starts the reference server with demo data on 127.0.0.1:8080 (`--processes N`:
//!   N processes on one PostgreSQL behind a round-robin balancer).
//! - `cargo xtask test`: installs everything tests need, then fmt, clippy (host and wasm32),
//!   native tests, in-browser tests in headless Chrome and Firefox, end-to-end tests; prints a
//!   plain summary and fails if any step failed.
//! - `cargo xtask bench`: runs the benchmarks and writes `bench/results.json` and
//!   `BENCHMARKS.md`.
//! - `cargo xtask chaos N` / `--seed S`: plays more seeded fault schedules than CI does.
//! - `cargo xtask setup [--browsers]`: only installs the tools.
//!
//! It depends on nothing but the standard library, so it builds in seconds on a fresh clone.

mod balancer;
mod bench;
mod chaos;
mod layers;
mod local_postgres;
mod precompress;
mod process;
mod serve;
mod test;
mod tools;
mod ui_bench;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "serve" => serve::run_serve(rest),
        "test" => test::run_test(rest),
        "bench" => bench::run_bench(rest),
        "chaos" => chaos::run_chaos(rest),
        "setup" => tools::Tools::locate().and_then(|t| {
            let browsers = rest.iter().any(|a| a == "--browsers");
            t.install(if browsers {
                tools::Need::Tests
            } else {
                tools::Need::Build
            })
        }),
        "help" | "--help" | "-h" => {
            println!("{}", HELP);
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "usage: cargo xtask <command>

commands:
  serve [--listen ADDR] [--db PATH]   build the front end and run the server with demo data
        [--processes N] [--database-url URL] [--pg-port PORT]
                                      N processes on one PostgreSQL (DATABASE_URL, or a local
                                      cluster in .data/postgres) behind a balancer on ADDR
  test [--no-browsers] [--only STEP]  every check CI runs (fmt, clippy, native, browser, e2e)
  bench [--only PART]                 run the benchmarks (or one part: core, store, server, wasm, ui, repair),
                                      write bench/results.json and BENCHMARKS.md
  chaos [N] [--seed S ...]            play N more seeded fault schedules (default 10), or the given seeds
  setup [--browsers]                  install the toolchain only (idempotent)";
