//! The real `server` binary as a child process on a free loopback port, against a PostgreSQL
//! database shared with other such processes: what a deployment with several server processes
//! runs. A process can be killed without warning (SIGKILL), as a crash or an OOM kill would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server process.
pub struct ServerProcess {
    /// Its name (`--instance`), also in its listener's `application_name`.
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Where its log goes (kept after the test, for a failing run).
    pub log: PathBuf,
    child: Child,
}

impl ServerProcess {
    /// Starts `server --database-url URL --instance NAME --allow-insecure-push EXTRA…` and
    /// waits until it answers `/metrics`.
    pub async fn spawn(database_url: &str, name: &str, extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::env::temp_dir().join(format!(
            "chat-test-process-{}-{name}-{port}.log",
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log).expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args(["--instance", name])
            .arg("--allow-insecure-push")
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("the server binary starts");
        let process = Self {
            name: name.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            log,
            child,
        };
        process.wait_ready().await;
        process
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/metrics", self.base)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server {} did not answer; see {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process at once (SIGKILL): no graceful stop, nothing released.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
