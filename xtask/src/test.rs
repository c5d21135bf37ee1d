//! `cargo xtask test`: every check, in the order a reviewer would want them, continuing after
//! a failure so one run shows everything; a plain summary at the end and a failing exit code
//! if any step failed.

use std::time::Instant;

use crate::process::{describe, output, root, run, target_dir};
use crate::serve::build_front_end;
use crate::tools::{Need, Tools};

/// Crates whose tests are only meaningful in a browser (they have wasm-bindgen-test suites).
fn browser_test_crates() -> Vec<String> {
    ["sync", "sync/idb", "app", "worker"]
        .iter()
        .filter_map(|dir| {
            let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).ok()?;
            if !manifest.contains("wasm-bindgen-test") {
                return None;
            }
            let name = manifest
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = "))?
                .trim_matches('"')
                .to_owned();
            Some(name)
        })
        .collect()
}

/// The crates clippy checks for wasm32 (those that exist in this checkout).
fn wasm_crates() -> Vec<String> {
    let mut crates = vec![
        "chat-sync".to_owned(),
        "app".to_owned(),
        "worker".to_owned(),
        "live-worker".to_owned(),
        "settings-panel".to_owned(),
    ];
    crates.extend(browser_test_crates());
    crates.sort();
    crates.dedup();
    crates
}

struct Step {
    name: &'static str,
    result: Result<(), String>,
    seconds: f64,
}

/// Runs `test` with its arguments (`--no-browsers`, `--only NAME`).
pub fn run_test(args: &[String]) -> Result<(), String> {
    let no_browsers = args.iter().any(|a| a == "--no-browsers");
    let only: Option<&str> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let tools = Tools::locate()?;
    tools.install(if no_browsers {
        Need::Build
    } else {
        Need::Tests
    })?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let cargo_cmd = || tools.command(&cargo);

    let mut steps: Vec<Step> = Vec::new();
    let mut step = |name: &'static str, body: &mut dyn FnMut() -> Result<(), String>| {
        if only.is_some_and(|o| o != name) {
            return;
        }
        eprintln!("\nxtask: === {name} ===");
        let started = Instant::now();
        let result = body();
        if let Err(e) = &result {
            eprintln!("xtask: step {name} FAILED: {e}");
        }
        steps.push(Step {
            name,
            result,
            seconds: started.elapsed().as_secs_f64(),
        });
    };

    step("fmt", &mut || {
        run(cargo_cmd().args(["fmt", "--all", "--", "--check"]))
    });
    step("clippy-host", &mut || {
        run(cargo_cmd()
            .args(["clippy", "--all-targets"])
            .args([
                "-p",
                "chat-sync",
                "-p",
                "server",
                "-p",
                "e2e",
                "-p",
                "xtask",
            ])
            .args(["--", "-D", "warnings"]))
    });
    step("clippy-wasm32", &mut || {
        let mut command = cargo_cmd();
        command.args([
            "clippy",
            "--all-targets",
            "--target",
            "wasm32-unknown-unknown",
        ]);
        for krate in wasm_crates() {
            command.args(["-p", &krate]);
        }
        run(command.args(["--", "-D", "warnings"]))
    });
    step("core-has-no-browser-deps", &mut || {
        let mut command = cargo_cmd();
        command.args([
            "tree",
            "-p",
            "chat-sync",
            "-e",
            "normal",
            "--target",
            "all",
            "--prefix",
            "none",
        ]);
        let tree =
            output(&mut command).ok_or_else(|| format!("`{}` failed", describe(&command)))?;
        let offending: Vec<&str> = tree
            .lines()
            .filter(|l| {
                ["web-sys ", "js-sys ", "wasm-bindgen ", "tokio ", "reqwest "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .collect();
        if offending.is_empty() {
            eprintln!("xtask: chat-sync depends on no browser, network or runtime crate");
            Ok(())
        } else {
            Err(format!(
                "chat-sync must stay sans-IO but depends on: {offending:?}"
            ))
        }
    });
    step("module-layers", &mut || {
        let violations = crate::layers::check(&root())?;
        if violations.is_empty() {
            eprintln!(
                "xtask: no import circles; chat-sync layers as sequences ← wire ← cache ← engine/view; \
                 only the router's builders import the server's routes"
            );
            Ok(())
        } else {
            Err(format!(
                "import rules broken:\n  {}",
                violations.join("\n  ")
            ))
        }
    });
    step("native-tests", &mut || {
        let nextest = output(cargo_cmd().args(["nextest", "--version"])).is_some();
        let mut command = cargo_cmd();
        if nextest {
            command.args(["nextest", "run", "--no-fail-fast"]);
        } else {
            command.args(["test", "--no-fail-fast"]);
        }
        command.args(["-p", "chat-sync", "-p", "server", "-p", "xtask"]);
        run(&mut command)?;
        run(cargo_cmd().args(["test", "--doc", "-p", "chat-sync"]))
    });
    if !no_browsers {
        for (name, driver_var, driver) in [
            ("browser-chrome", "CHROMEDRIVER", tools.chromedriver()),
            ("browser-firefox", "GECKODRIVER", tools.geckodriver()),
        ] {
            step(name, &mut || {
                let crates = browser_test_crates();
                if crates.is_empty() {
                    return Err("no crate has an in-browser suite".into());
                }
                for krate in &crates {
                    let mut command = cargo_cmd();
                    command
                        .args(["test", "--target", "wasm32-unknown-unknown", "-p", krate])
                        .env_remove("CHROMEDRIVER")
                        .env_remove("GECKODRIVER")
                        .env(driver_var, &driver);
                    run(&mut command)?;
                }
                Ok(())
            });
        }
    }

    if !no_browsers {
        // One step for both browsers: Chromium over CDP, Firefox through geckodriver.
        step("e2e", &mut || {
            build_front_end(&tools)?;
            run(cargo_cmd().args(["build", "-p", "server"]))?;
            let server = target_dir().join("debug").join("server");
            let mut command = cargo_cmd();
            command
                .args(["test", "-p", "e2e", "--", "--test-threads=1"])
                .env("E2E_SERVER_BIN", &server)
                .env("E2E_DIST", root().join("dist"))
                .env("E2E_CHROMIUM", "/usr/bin/chromium")
                .env("E2E_GECKODRIVER", tools.geckodriver())
                .env("E2E_FIREFOX", "/usr/bin/firefox");
            run(&mut command)
        });
    }

    let failed: Vec<&Step> = steps.iter().filter(|s| s.result.is_err()).collect();
    eprintln!("\nxtask: summary");
    for s in &steps {
        let status = if s.result.is_ok() { "ok" } else { "FAILED" };
        eprintln!("  {:<26} {:>7}  {:>7.1} s", s.name, status, s.seconds);
    }
    println!(
        "xtask: {} passed, {} failed",
        steps.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "failed steps: {}",
            failed.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
        ))
    }
}
