//! `cargo xtask serve`: build the front end with Trunk (release) and run the reference server
//! with demo data and the requester simulator: one process on an embedded SQLite database, or
//! with `--processes N` several processes on one PostgreSQL behind a round-robin balancer.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::process::{describe, root, run, target_dir};
use crate::tools::{Need, Tools};

/// What `serve` was asked for.
struct Options {
    listen: String,
    db: PathBuf,
    processes: u16,
    database_url: Option<String>,
    pg_port: u16,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:8080".to_owned(),
        db: root().join(".data").join("demo.sqlite"),
        processes: 1,
        database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        pg_port: 5433,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |what: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        match arg.as_str() {
            "--listen" => options.listen = value("an address")?,
            "--db" => options.db = value("a path")?.into(),
            "--database-url" => options.database_url = Some(value("a postgres:// URL")?),
            "--processes" => {
                options.processes = value("a count")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=16).contains(n))
                    .ok_or("--processes takes 1 to 16")?;
            }
            "--pg-port" => {
                options.pg_port = value("a port")?
                    .parse()
                    .map_err(|e| format!("--pg-port: {e}"))?;
            }
            other => return Err(format!("serve: unknown argument {other:?}")),
        }
    }
    Ok(options)
}

/// Runs `serve` with its arguments (`--listen ADDR`, `--db PATH`, `--processes N`,
/// `--database-url URL`, `--pg-port PORT`).
pub fn run_serve(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let tools = Tools::locate()?;
    tools.install(Need::Build)?;
    build_front_end(&tools)?;
    if options.processes > 1 {
        return serve_several(&tools, &options);
    }
    if let Some(parent) = options.db.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let listen = &options.listen;
    println!();
    println!("  Support desk chat, on http://{listen}/");
    println!(
        "  Sign in as agent alice or bob (password: demo); requesters requester1..requester8."
    );
    match &options.database_url {
        Some(url) => println!("  Database: {url}"),
        None => println!("  Database: {}", options.db.display()),
    }
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
        .args(["--listen", listen])
        .arg("--db")
        .arg(&options.db)
        .arg("--dist")
        .arg(root().join("dist"))
        .args(["--demo", "--simulate"]);
    if let Some(url) = &options.database_url {
        server.args(["--database-url", url]);
    }
    run(&mut server)
}

/// `--processes N`: N server processes on one PostgreSQL, on the ports after `--listen`'s,
/// and a round-robin balancer on `--listen` itself.
fn serve_several(tools: &Tools, options: &Options) -> Result<(), String> {
    let (host, port) = options
        .listen
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("--listen {} is not HOST:PORT", options.listen))?;
    let (url, stop_hint) = match &options.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let local = crate::local_postgres::start(options.pg_port)?;
            (local.url, Some(local.stop_command))
        }
    };
    run(tools
        .command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--package",
            "server",
            "--bin",
            "server",
        ]))?;
    let binary = target_dir().join("release").join("server");
    let mut children = Vec::new();
    let mut backends = Vec::new();
    for i in 0..options.processes {
        let addr = format!("{host}:{}", port + 1 + i);
        let mut command = Command::new(&binary);
        command
            .args(["--listen", &addr])
            .args(["--database-url", &url])
            .args(["--instance", &format!("p{}", i + 1)])
            .arg("--dist")
            .arg(root().join("dist"))
            .arg("--demo");
        // One simulator is traffic enough, and shows messages crossing processes.
        if i == 0 {
            command.arg("--simulate");
        }
        eprintln!("xtask: $ {}", describe(&command));
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        children.push(Processes(child));
        // The first seeds the demo data; the others find it there.
        wait_for(&addr, Duration::from_secs(120))?;
        backends.push(addr);
    }
    println!();
    println!(
        "  Support desk chat, {} processes on one PostgreSQL:",
        options.processes
    );
    println!(
        "    http://{}/  (round-robin over all of them)",
        options.listen
    );
    for (i, addr) in backends.iter().enumerate() {
        let simulator = if i == 0 { " (runs the simulator)" } else { "" };
        println!("    http://{addr}/  process p{}{simulator}", i + 1);
    }
    println!("  Each process's /metrics shows fanout_notices_total, sse_event_lag_seconds and");
    println!("  push_queue_depth.");
    println!(
        "  Sign in as agent alice or bob (password: demo); requesters requester1..requester8."
    );
    println!("  Database: {url}");
    if let Some(stop) = stop_hint {
        println!(
            "  PostgreSQL keeps running after Ctrl-C (log: {}); stop it with:\n    {stop}",
            crate::local_postgres::log_path().display()
        );
    }
    println!("  Stop with Ctrl-C.");
    println!();
    let result = crate::balancer::run(&options.listen, backends);
    drop(children);
    result
}

/// Waits until the server on `addr` answers HTTP (its port accepts connections before it has
/// migrated and seeded the database, so a connection alone proves nothing).
fn wait_for(addr: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if answers(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("no server answered on {addr} within {limit:?}"))
}

/// Whether `GET /metrics` on `addr` is answered with 200.
fn answers(addr: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// A server process, killed when `serve` returns (Ctrl-C reaches it directly, as it shares
/// the terminal's process group).
struct Processes(Child);

impl Drop for Processes {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `trunk build --release` into `dist/`, then the Brotli file of each text and wasm file
/// (see [`crate::precompress`]).
pub fn build_front_end(tools: &Tools) -> Result<(), String> {
    run(tools.command("trunk").args(["build", "--release"]))?;
    let dist = root().join("dist");
    let index = dist.join("index.html");
    if !index.exists() {
        return Err(format!("trunk finished but {} is missing", index.display()));
    }
    let started = Instant::now();
    let written = crate::precompress::write_brotli_files(&dist)?;
    eprintln!(
        "xtask: {written} Brotli file(s) written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
