//! A throwaway PostgreSQL cluster for the suites that run several server processes on one
//! database (`tests/multi_process.rs`), or the one `E2E_POSTGRES_URL` names.
//!
//! The cluster lives in the test's scratch directory on a free loopback port with fsync off;
//! PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created if
//! missing) through `runuser`. A watchdog shell stops it once the test process is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{wait_until, HarnessError, Result};

/// The URL of a new, empty database `name` in a cluster started under `dir`.
pub async fn fresh_database(dir: &Path, name: &str) -> Result<String> {
    if let Ok(url) = std::env::var("E2E_POSTGRES_URL") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    let bin = bin_dir()?;
    let root = is_root();
    let data = dir.join("pg");
    std::fs::create_dir_all(dir).map_err(|source| HarnessError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    if root {
        ensure_postgres_user()?;
        run(
            "chown",
            Command::new("chown").args(["-R", "postgres:"]).arg(dir),
        )?;
    }
    let (bin_s, data_s, dir_s) = (bin.display(), data.display(), dir.display());
    run(
        "initdb",
        &mut shell(
            &format!(
                "{bin_s}/initdb -D {data_s} -U postgres -A trust --no-sync -E UTF8 \
                 > {dir_s}/initdb.log 2>&1"
            ),
            root,
        ),
    )?;
    let port = crate::server::free_port()?;
    let parent = std::process::id();
    let script = format!(
        "{bin_s}/postgres -D {data_s} -p {port} -k {dir_s} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         > {dir_s}/postgres.log 2>&1 & pg=$!; \
         while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg"
    );
    shell(&script, root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| HarnessError::Io {
            what: "starting postgres".into(),
            source,
        })?;
    let log = dir.join("postgres.log");
    wait_until("PostgreSQL to start", Duration::from_secs(60), || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Ok(text.contains("ready to accept connections").then_some(()))
    })
    .await?;
    run(
        "createdb",
        Command::new(bin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            name,
        ]),
    )?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/{name}"))
}

fn bin_dir() -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    candidates.extend(["/usr/local/bin", "/usr/bin"].map(PathBuf::from));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("createdb").is_file())
        .ok_or_else(|| {
            HarnessError::Setup(
                "no PostgreSQL (initdb) found; `cargo xtask setup --browsers` installs it, or \
                 set E2E_POSTGRES_URL"
                    .into(),
            )
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn ensure_postgres_user() -> Result<()> {
    let exists = Command::new("id")
        .arg("postgres")
        .output()
        .is_ok_and(|out| out.status.success());
    if exists {
        return Ok(());
    }
    run(
        "useradd",
        Command::new("useradd").args(["--system", "--no-create-home", "postgres"]),
    )
}

/// `sh -c script`, as `postgres` when we are root.
fn shell(script: &str, as_postgres: bool) -> Command {
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", "sh", "-c"]);
        command
    } else {
        let mut command = Command::new("sh");
        command.arg("-c");
        command
    };
    command.arg(script);
    command
}

fn run(what: &str, command: &mut Command) -> Result<()> {
    let status = command.status().map_err(|source| HarnessError::Io {
        what: format!("running {what}"),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError::Setup(format!("{what} failed with {status}")))
    }
}
