//! The reference server as a child process on a free loopback port, with its own SQLite file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{wait_until, HarnessError, Result};

/// A running server.
pub struct Server {
    // Behind a lock so a test can restart the server while pages borrow the rig.
    child: tokio::sync::Mutex<Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The SQLite file.
    pub db: PathBuf,
    dir: PathBuf,
    dist: PathBuf,
    extra: Vec<String>,
}

impl Server {
    /// Starts `$E2E_SERVER_BIN --listen 127.0.0.1:PORT --db DIR/server.sqlite --dist $E2E_DIST`
    /// plus `extra` arguments, and waits until it answers HTTP.
    pub async fn start(dir: &Path, extra: &[&str]) -> Result<Self> {
        Self::start_with_dist(dir, &env_path("E2E_DIST")?, extra).await
    }

    /// Like [`Server::start`], serving the front end from `dist` instead of `$E2E_DIST` (a
    /// copy a test may change, e.g. a new `sw.js` release).
    pub async fn start_with_dist(dir: &Path, dist: &Path, extra: &[&str]) -> Result<Self> {
        // Name a missing variable before anything is created.
        env_path("E2E_SERVER_BIN")?;
        std::fs::create_dir_all(dir).map_err(|source| HarnessError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let child = spawn(dir, dist, &addr, &extra)?;
        let server = Self {
            child: tokio::sync::Mutex::new(child),
            addr,
            db: dir.join("server.sqlite"),
            dir: dir.to_owned(),
            dist: dist.to_owned(),
            extra,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// Stops the server and starts it again on the same address and database, with the same
    /// arguments (in-memory state such as test faults starts afresh).
    pub async fn restart(&self) -> Result<()> {
        let mut child = self.child.lock().await;
        let _ = child.kill().await;
        *child = spawn(&self.dir, &self.dist, &self.addr, &self.extra)?;
        drop(child);
        self.wait_ready().await
    }

    /// Stops the server process and keeps its address, database and arguments for
    /// [`Server::start_again`]: the network cut of the Firefox suite (WebDriver has no network
    /// emulation). Returns once the address refuses connections.
    pub async fn stop_for_now(&self) -> Result<()> {
        let _ = self.child.lock().await.kill().await;
        wait_until(
            "the server to stop answering",
            Duration::from_secs(10),
            || async {
                Ok(crate::http::get(&self.addr, "/metrics")
                    .await
                    .is_err()
                    .then_some(()))
            },
        )
        .await
    }

    /// Starts the server stopped by [`Server::stop_for_now`] again, on the same address and
    /// database with the same arguments, and waits until it answers (its in-memory state,
    /// `/metrics` counters included, starts afresh).
    pub async fn start_again(&self) -> Result<()> {
        *self.child.lock().await = spawn(&self.dir, &self.dist, &self.addr, &self.extra)?;
        self.wait_ready().await
    }

    async fn wait_ready(&self) -> Result<()> {
        wait_until("the server to answer", Duration::from_secs(60), || async {
            Ok(crate::http::get(&self.addr, "/metrics")
                .await
                .ok()
                .map(|_| ()))
        })
        .await
    }

    /// The value of a `/metrics` series (0 when absent).
    pub async fn metric(&self, series: &str) -> Result<f64> {
        let metrics = crate::http::get(&self.addr, "/metrics").await?.body;
        Ok(crate::http::metric(&metrics, series))
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.get_mut().kill().await;
    }
}

/// Starts the server binary on `addr` with its database and log in `dir` (the log is
/// appended to, so a restart keeps the earlier run's lines).
fn spawn(dir: &Path, dist: &Path, addr: &str, extra: &[String]) -> Result<Child> {
    let binary = env_path("E2E_SERVER_BIN")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(|source| HarnessError::Io {
            what: "opening the server log".into(),
            source,
        })?;
    Command::new(&binary)
        .args(["--listen", addr])
        .arg("--db")
        .arg(dir.join("server.sqlite"))
        .arg("--dist")
        .arg(dist)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HarnessError::Io {
            what: format!("starting {}", binary.display()),
            source,
        })
}

/// The Trunk-built front end the tests serve (`$E2E_DIST`).
pub fn dist_dir() -> Result<PathBuf> {
    env_path("E2E_DIST")
}

fn env_path(name: &str) -> Result<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .ok_or_else(|| {
            HarnessError::Setup(format!(
                "{name} must name an existing path (cargo xtask test sets it; see tests/README)"
            ))
        })
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| HarnessError::Io {
            what: "finding a free port".into(),
            source,
        })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| HarnessError::Io {
            what: "reading the free port".into(),
            source,
        })
}
