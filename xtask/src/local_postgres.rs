//! A local PostgreSQL for `cargo xtask serve --processes N` when no `DATABASE_URL` is given:
//! a cluster in `.data/postgres` (created once with `initdb`), started with `pg_ctl` on a
//! loopback port and left running when `serve` stops, so the next run reuses it and its data.
//! Stop it with the `pg_ctl … stop` line `serve` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{output, root, run};

/// The database every process of `serve` shares.
const DATABASE: &str = "supportdesk";

/// The running cluster.
pub struct LocalPostgres {
    /// `postgres://postgres@127.0.0.1:PORT/supportdesk`.
    pub url: String,
    /// The command that stops it.
    pub stop_command: String,
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root (PostgreSQL refuses to run as
/// root).
fn as_postgres(program: &Path, root_user: bool) -> Command {
    if root_user {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Starts (or finds running) the cluster on `port` and makes sure the database exists.
pub fn start(port: u16) -> Result<LocalPostgres, String> {
    let bin = crate::tools::postgres_bin_dir().ok_or(
        "PostgreSQL is not installed: `cargo xtask setup --browsers` installs it, or pass \
         --database-url postgres://…",
    )?;
    let dir = root().join(".data").join("postgres");
    let data = dir.join("data");
    let root_user = is_root();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if root_user {
        ensure_postgres_user()?;
        run(Command::new("chown").args(["-R", "postgres:"]).arg(&dir))?;
    }
    if !data.join("PG_VERSION").exists() {
        run(as_postgres(&bin.join("initdb"), root_user)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]))?;
    }
    let pg_ctl = bin.join("pg_ctl");
    let running = as_postgres(&pg_ctl, root_user)
        .arg("-D")
        .arg(&data)
        .arg("status")
        .output()
        .is_ok_and(|out| out.status.success());
    if !running {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            dir.display()
        );
        run(as_postgres(&pg_ctl, root_user)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("postgres.log"))
            .args(["-o", &options, "-w", "start"]))?;
    }
    create_database(&bin, port)?;
    Ok(LocalPostgres {
        url: format!("postgres://postgres@127.0.0.1:{port}/{DATABASE}"),
        stop_command: stop_command(&pg_ctl, &data, root_user),
    })
}

fn stop_command(pg_ctl: &Path, data: &Path, root_user: bool) -> String {
    let base = format!("{} -D {} stop", pg_ctl.display(), data.display());
    if root_user {
        format!("runuser -u postgres -- {base}")
    } else {
        base
    }
}

fn ensure_postgres_user() -> Result<(), String> {
    let exists = Command::new("id")
        .arg("postgres")
        .output()
        .is_ok_and(|out| out.status.success());
    if exists {
        return Ok(());
    }
    run(Command::new("useradd").args(["--system", "--no-create-home", "postgres"]))
}

fn create_database(bin: &Path, port: u16) -> Result<(), String> {
    let psql = |sql: &str| -> Option<String> {
        output(
            Command::new(bin.join("psql"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-tAc", sql]),
        )
    };
    let exists = psql(&format!(
        "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
    ))
    .ok_or_else(|| format!("cannot reach PostgreSQL on port {port}"))?;
    if exists.trim() != "1" {
        run(Command::new(bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .arg(DATABASE))?;
    }
    Ok(())
}

/// Where the cluster keeps its log.
pub fn log_path() -> PathBuf {
    root().join(".data").join("postgres").join("postgres.log")
}
