//! Headless Chromium with a persistent profile, started with the flags that work on these
//! machines (no network beyond loopback, running as root), and pages driven over CDP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::cdp::Cdp;
use crate::{wait_until, HarnessError, Result};

/// A running headless Chromium.
pub struct Browser {
    child: Child,
    /// The browser-level DevTools connection.
    pub cdp: Cdp,
}

impl Browser {
    /// Starts Chromium with `profile` as its user data directory.
    pub async fn launch(profile: &Path) -> Result<Self> {
        let binary = std::env::var("E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        std::fs::create_dir_all(profile).map_err(|source| HarnessError::Io {
            what: format!("creating {}", profile.display()),
            source,
        })?;
        let active_port = profile.join("DevToolsActivePort");
        let _ = std::fs::remove_file(&active_port);
        let child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Exact `performance.memory` figures for the UI benchmark.
                "--enable-precise-memory-info",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| HarnessError::Io {
                what: format!("starting {binary}"),
                source,
            })?;
        let url = wait_until(
            "Chromium's DevToolsActivePort",
            Duration::from_secs(20),
            || {
                let active_port = active_port.clone();
                async move {
                    let Ok(text) = std::fs::read_to_string(&active_port) else {
                        return Ok(None);
                    };
                    let mut lines = text.lines();
                    Ok(match (lines.next(), lines.next()) {
                        (Some(port), Some(path)) => Some(format!("ws://127.0.0.1:{port}{path}")),
                        _ => None,
                    })
                }
            },
        )
        .await?;
        let cdp = Cdp::connect(&url).await?;
        forward_page_errors(&cdp);
        Ok(Self { child, cdp })
    }

    /// Opens a page at `url` and attaches to it.
    pub async fn new_page(&self, url: &str) -> Result<Page<'_>> {
        let target = self
            .cdp
            .call("Target.createTarget", json!({ "url": "about:blank" }), None)
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let session_id = self.attach(&target_id).await?;
        let page = Page {
            browser: self,
            target_id,
            session_id,
        };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        // The page's dedicated workers (its live worker) attach to its session. Then the
        // network conditions set on the page reach them too, as a real outage would
        // (measured in Chromium 2026-12-06: without the auto-attach a page taken offline
        // keeps a worker that still fetches; the conditions cannot be set on a dedicated
        // worker's own session, "Not supported"). Not reliably for a worker of a page taken
        // offline before it navigated: `live.rs`'s indicator test refuses streams instead.
        page.call(
            "Target.setAutoAttach",
            json!({ "autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true }),
        )
        .await?;
        page.navigate(url).await?;
        Ok(page)
    }

    /// Closes a target and waits until the browser no longer lists it.
    pub async fn close_target(&self, target_id: &str) -> Result<()> {
        self.cdp
            .call("Target.closeTarget", json!({ "targetId": target_id }), None)
            .await?;
        wait_until("the target to close", Duration::from_secs(10), || async {
            let targets = self.cdp.call("Target.getTargets", json!({}), None).await?;
            let open = targets["targetInfos"]
                .as_array()
                .is_some_and(|list| list.iter().any(|t| t["targetId"] == target_id));
            Ok((!open).then_some(()))
        })
        .await
    }

    /// The target id of the running service worker whose script is `script_url`, or `None`
    /// when none runs.
    pub async fn running_service_worker(&self, script_url: &str) -> Result<Option<String>> {
        let targets = self.cdp.call("Target.getTargets", json!({}), None).await?;
        Ok(targets["targetInfos"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "service_worker" && t["url"] == script_url)
            .and_then(|t| t["targetId"].as_str().map(str::to_owned)))
    }

    /// Attaches to a target (flattened) and returns the session id.
    pub async fn attach(&self, target_id: &str) -> Result<String> {
        let attached = self
            .cdp
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                None,
            )
            .await?;
        attached["sessionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Setup(format!("no session from {attached}")))
    }

    /// Attaches to the running service worker whose script is `script_url` (waiting up to
    /// 10 s for one) and returns the session id of its own target (its network emulation is
    /// set there, not on a page's).
    pub async fn service_worker_session(&self, script_url: &str) -> Result<String> {
        let target_id = wait_until(
            "a running service worker target",
            Duration::from_secs(10),
            || self.running_service_worker(script_url),
        )
        .await?;
        self.attach(&target_id).await
    }

    /// Evaluates `expression` (awaiting a promise) in the target of `session` (a worker's,
    /// for instance) and returns its JSON value.
    pub async fn evaluate_in(&self, session: &str, expression: &str) -> Result<Value> {
        let reply = self
            .cdp
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
                Some(session),
            )
            .await?;
        if let Some(exception) = reply.get("exceptionDetails") {
            return Err(HarnessError::Protocol {
                method: "Runtime.evaluate".into(),
                message: format!(
                    "{expression}: {}",
                    exception["exception"]["description"]
                        .as_str()
                        .unwrap_or("exception")
                ),
            });
        }
        Ok(reply["result"]["value"].clone())
    }

    /// Takes the target of `session` (a page's, with its dedicated workers, or a service
    /// worker's) offline or back online.
    pub async fn emulate_offline(&self, session: &str, offline: bool) -> Result<()> {
        self.emulate_network(session, offline, None).await
    }

    /// Sets the network of `session` offline or online, with uploads limited to
    /// `upload_bytes_per_sec` when given (`Network.emulateNetworkConditions`).
    pub async fn emulate_network(
        &self,
        session: &str,
        offline: bool,
        upload_bytes_per_sec: Option<u64>,
    ) -> Result<()> {
        self.cdp
            .call("Network.enable", json!({}), Some(session))
            .await?;
        let upload = upload_bytes_per_sec.map_or(-1.0, |b| b as f64);
        self.cdp
            .call(
                "Network.emulateNetworkConditions",
                json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload }),
                Some(session),
            )
            .await?;
        Ok(())
    }

    /// Stops the browser.
    pub async fn close(mut self) {
        let _ = self.cdp.call("Browser.close", json!({}), None).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// One page (tab) with its CDP session.
pub struct Page<'a> {
    browser: &'a Browser,
    /// The target id (for closing).
    pub target_id: String,
    /// The flattened session id.
    pub session_id: String,
}

impl<'a> Page<'a> {
    /// The browser this page belongs to.
    pub fn browser(&self) -> &'a Browser {
        self.browser
    }

    /// Sends a command to this page.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.browser
            .cdp
            .call(method, params, Some(&self.session_id))
            .await
    }

    /// Sizes the page's viewport to `width` × `height` CSS pixels on a desktop screen
    /// (`Emulation.setDeviceMetricsOverride`): a virtualized list mounts the rows of that
    /// height, and figures are measured on the same window every run.
    pub async fn set_window(&self, width: u32, height: u32) -> Result<()> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await
        .map(|_| ())
    }

    /// Navigates and waits for the load event.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        let mut events = self.browser.cdp.events();
        self.call("Page.navigate", json!({ "url": url })).await?;
        let session = self.session_id.clone();
        tokio::time::timeout(Duration::from_secs(20), async move {
            while let Ok(event) = events.recv().await {
                if event["method"] == "Page.loadEventFired"
                    && event["sessionId"] == session.as_str()
                {
                    return;
                }
            }
        })
        .await
        .map_err(|_| HarnessError::Timeout {
            what: format!("{url} to load"),
            seconds: 20.0,
        })
    }

    /// Evaluates `expression` (awaiting a promise) and returns its JSON value.
    pub async fn evaluate(&self, expression: &str) -> Result<Value> {
        self.browser.evaluate_in(&self.session_id, expression).await
    }

    /// Waits until `expression` evaluates to something other than null, undefined or false.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value> {
        wait_until(expression, timeout, || async {
            let value = self.evaluate(expression).await?;
            Ok((!value.is_null() && value != Value::Bool(false)).then_some(value))
        })
        .await
    }

    /// Signs `username` in with `password` through `fetch` from this page (so the page's
    /// cookie jar holds the session) and returns the user id.
    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let user = self
            .evaluate(&format!(
                "fetch('/api/auth/login', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
                   body: JSON.stringify({{username: {username:?}, password: {password:?}}})}}).then(r => r.json())"
            ))
            .await?;
        user["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Setup(format!("login answered {user}")))
    }

    /// Waits until the page's service worker is activated and, with `controlled`, until it
    /// controls the page.
    pub async fn wait_for_service_worker(&self, controlled: bool) -> Result<()> {
        self.wait_for(
            "navigator.serviceWorker.getRegistration().then(r => r?.active?.state === 'activated')",
            Duration::from_secs(30),
        )
        .await?;
        if controlled {
            self.wait_for(
                "!!navigator.serviceWorker.controller",
                Duration::from_secs(10),
            )
            .await?;
        }
        Ok(())
    }

    /// Saves a PNG screenshot of the page to `path` (for looking at a failing test).
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        use base64::Engine as _;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| HarnessError::Setup(format!("screenshot data: {e}")))?;
        std::fs::write(path, bytes).map_err(|source| HarnessError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
    }

    /// Closes the page.
    pub async fn close(self) -> Result<()> {
        self.browser.close_target(&self.target_id).await
    }
}

/// Prints uncaught exceptions and `console.error`/`console.warn` of every page to stderr, so
/// a failing test shows what the app said (a panic in the wasm, a refused request).
fn forward_page_errors(cdp: &Cdp) {
    let mut events = cdp.events();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if let Some(text) = page_error(&event) {
                let first: String = text.lines().take(3).collect::<Vec<_>>().join(" | ");
                eprintln!("page: {first}");
            }
        }
    });
}

/// What a CDP event reports as going wrong in a page or worker: an uncaught exception's
/// description, or the text of a `console.error`/`console.warn` call; `None` for any other
/// event.
pub fn page_error(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str() {
        Some("Runtime.exceptionThrown") => params["exceptionDetails"]["exception"]["description"]
            .as_str()
            .map(str::to_owned),
        Some("Runtime.consoleAPICalled")
            if matches!(params["type"].as_str(), Some("error" | "warning")) =>
        {
            Some(
                params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["value"].as_str().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        _ => None,
    }
}

/// A fresh directory under the system temp dir for one test's profile and database.
///
/// The directories of a run stay after it (a failed test's profile, database and served log
/// are there to look at) until the next run starts: the first call in a process deletes
/// those of test processes that have ended, so repeated runs do not fill the disk.
pub fn scratch_dir(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_ended_runs);
    let dir = std::env::temp_dir().join(format!("e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Deletes the `e2e-*-<pid>` scratch directories whose process has ended (no `/proc/<pid>`;
/// where there is no `/proc`, nothing is deleted).
fn sweep_ended_runs() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("e2e-")
            .and_then(|rest| rest.rsplit_once('-'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
