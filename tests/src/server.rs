//! The reference server as a child process on a free loopback port, with its own SQLite file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{wait_until, HarnessError, Result};

/// A running server.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The SQLite file.
    pub db: PathBuf,
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
        let binary = env_path("E2E_SERVER_BIN")?;
        std::fs::create_dir_all(dir).map_err(|source| HarnessError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let db = dir.join("server.sqlite");
        let log =
            std::fs::File::create(dir.join("server.log")).map_err(|source| HarnessError::Io {
                what: "creating the server log".into(),
                source,
            })?;
        let child = Command::new(&binary)
            .args(["--listen", &addr])
            .arg("--db")
            .arg(&db)
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
            })?;
        let server = Self { child, addr, db };
        wait_until("the server to answer", Duration::from_secs(60), || async {
            Ok(crate::http::get(&server.addr, "/metrics")
                .await
                .ok()
                .map(|_| ()))
        })
        .await?;
        Ok(server)
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The built front end, `$E2E_DIST`.
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

fn free_port() -> Result<u16> {
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
