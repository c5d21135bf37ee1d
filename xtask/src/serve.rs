//! `cargo xtask serve`: build the front end with Trunk (release) and run the reference server
//! with an embedded SQLite database, demo data and the requester simulator.

use crate::process::{root, run};
use crate::tools::{Need, Tools};

/// Runs `serve` with its arguments (`--listen ADDR`, `--db PATH`).
pub fn run_serve(args: &[String]) -> Result<(), String> {
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut db = root().join(".data").join("demo.sqlite");
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--listen" => listen = iter.next().ok_or("--listen needs an address")?.clone(),
            "--db" => db = iter.next().ok_or("--db needs a path")?.into(),
            other => return Err(format!("serve: unknown argument {other:?}")),
        }
    }
    let tools = Tools::locate()?;
    tools.install(Need::Build)?;
    build_front_end(&tools)?;
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    println!();
    println!("  Support desk chat, on http://{listen}/");
    println!(
        "  Sign in as agent alice or bob (password: demo); requesters requester1..requester8."
    );
    println!("  Database: {}", db.display());
    println!("  Stop with Ctrl-C.");
    println!();
    let mut server = tools.command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    server
        .args([
            "run",
            "--release",
            "--package",
            "server",
            "--bin",
            "server",
            "--",
        ])
        .args(["--listen", &listen])
        .arg("--db")
        .arg(&db)
        .arg("--dist")
        .arg(root().join("dist"))
        .args(["--demo", "--simulate"]);
    run(&mut server)
}

/// `trunk build --release` into `dist/`.
pub fn build_front_end(tools: &Tools) -> Result<(), String> {
    run(tools.command("trunk").args(["build", "--release"]))?;
    let index = root().join("dist").join("index.html");
    if !index.exists() {
        return Err(format!("trunk finished but {} is missing", index.display()));
    }
    Ok(())
}
