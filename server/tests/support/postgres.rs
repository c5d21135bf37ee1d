//! A throwaway PostgreSQL cluster for the tests, or the one `TEST_POSTGRES_URL` names.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the cluster is created
//! and run as the unprivileged `postgres` user (created with `useradd` if missing) through
//! `runuser`. The cluster lives in a temporary directory on a free loopback port, with
//! fsync off, and a watchdog shell stops it when the test process exits. One cluster serves
//! the whole test binary; every test gets its own fresh database in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection as _;

static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// Whether PostgreSQL tests are explicitly switched off.
pub fn skip_postgres() -> bool {
    std::env::var("SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// The admin URL of the cluster (started on first use). Panics when no PostgreSQL can be
/// started: a missing database must fail the tests, never pass them silently.
fn admin_url() -> String {
    let result = CLUSTER.get_or_init(|| match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start_cluster(),
    });
    match result {
        Ok(url) => url.clone(),
        Err(error) => panic!(
            "cannot start PostgreSQL for the tests ({error}); set TEST_POSTGRES_URL, or \
             SKIP_POSTGRES=1 to skip the PostgreSQL half of the suite"
        ),
    }
}

/// A URL of a new, empty database.
pub async fn fresh_database() -> String {
    let admin = admin_url();
    let name = format!(
        "chat_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connect to {admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let _ = connection.close().await;
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("TEST_POSTGRES_URL must end in /DBNAME"),
    }
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    if let Some(dir) = candidates.pop() {
        return Ok(dir);
    }
    for dir in ["/usr/local/bin", "/usr/bin", "/usr/local/pgsql/bin"] {
        if Path::new(dir).join("initdb").is_file() {
            return Ok(PathBuf::from(dir));
        }
    }
    Err("no initdb found (set PG_BIN)".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `script` with `sh -c`, as `postgres` when we are root.
fn shell(script: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", "sh", "-c", script]);
        command
    } else {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start_cluster() -> Result<String, String> {
    let bin = bin_dir()?;
    let root = is_root();
    if root {
        let exists = Command::new("id")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            let status = Command::new("useradd")
                .args(["--system", "--no-create-home", "postgres"])
                .status()
                .map_err(|e| format!("useradd: {e}"))?;
            if !status.success() {
                return Err("useradd postgres failed".to_owned());
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("chat-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:", &dir.display().to_string()])
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err("chown of the cluster directory failed".to_owned());
        }
    }
    let dir_s = dir.display().to_string();
    let bin_s = bin.display().to_string();
    let init = shell(
        &format!(
            "{bin_s}/initdb -D {dir_s}/data -U postgres -A trust --no-sync -E UTF8 \
             > {dir_s}/initdb.log 2>&1"
        ),
        root,
    )
    .status()
    .map_err(|e| format!("initdb: {e}"))?;
    if !init.success() {
        let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("initdb failed: {log}"));
    }
    let port = free_port()?;
    let parent = std::process::id();
    // The watchdog stops the cluster once this test process is gone, so no server outlives
    // the test run, then removes its directory.
    let script = format!(
        "{bin_s}/postgres -D {dir_s}/data -p {port} -k {dir_s} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
         > {dir_s}/postgres.log 2>&1 & pg=$!; \
         while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir_s}"
    );
    shell(&script, root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
        if log.contains("ready to accept connections") {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("postgres did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
