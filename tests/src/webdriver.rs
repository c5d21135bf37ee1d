//! A small W3C WebDriver client for headless Firefox, over the crate's plain HTTP helper.
//!
//! Firefox has no DevTools Protocol, so its suite goes through geckodriver: [`Firefox::launch`]
//! starts geckodriver on a free loopback port (in its own process group, so nothing it starts
//! can outlive the test), opens a session with a fresh profile and headless Firefox, and the
//! methods below send the few commands the tests need (navigate, reload, window size, sync
//! and async scripts). [`Firefox::close`] ends the session and geckodriver; dropping a
//! `Firefox` that was not closed (a failed assertion) does the same, blocking.
//!
//! Binaries: `E2E_GECKODRIVER` (default: `geckodriver` on `PATH`, then
//! `$HOME/.cache/supportdesk-tools/bin/geckodriver`) and `E2E_FIREFOX` (default
//! `/usr/bin/firefox`). A missing one is an error naming the variable, never a skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::{http, wait_until, HarnessError, Result};

/// How long a command may take. Scripts have their own limit inside Firefox
/// ([`SCRIPT_TIMEOUT_MS`]); this one only guards against a driver that stopped answering.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

/// A new session starts Firefox with a new profile: measured up to 15 s on a busy 2-core
/// machine, so the limit is generous.
const SESSION_LIMIT: Duration = Duration::from_secs(120);

/// Firefox's own limit for one script (WebDriver's default is 30 s).
const SCRIPT_TIMEOUT_MS: u64 = 60_000;

/// Firefox's own limit for one navigation.
const PAGE_LOAD_TIMEOUT_MS: u64 = 30_000;

/// Headless Firefox driven by its own geckodriver.
pub struct Firefox {
    driver: Child,
    /// geckodriver's `127.0.0.1:port`.
    addr: String,
    /// The WebDriver session, once created (`None` while launching or after close).
    session: Option<String>,
}

impl Firefox {
    /// Starts geckodriver and a headless Firefox session; geckodriver's log (with the pages'
    /// console output) is `dir/geckodriver.log`, the temporary profile lives under `dir`.
    pub async fn launch(dir: &Path) -> Result<Self> {
        Self::launch_with_prefs(dir, json!({})).await
    }

    /// [`Firefox::launch`] with `prefs` (an object of Firefox preferences) set in the new
    /// profile besides the usual ones: the UI benchmark turns off Firefox's coarsening of
    /// `performance.now()` and frame times (`privacy.reduceTimerPrecision`, 1 ms with jitter
    /// by default) so its figures have Chromium's resolution.
    pub async fn launch_with_prefs(dir: &Path, prefs: Value) -> Result<Self> {
        let geckodriver = geckodriver_path()?;
        let firefox = firefox_path()?;
        let profiles = dir.join("profiles");
        std::fs::create_dir_all(&profiles).map_err(|source| HarnessError::Io {
            what: format!("creating {}", profiles.display()),
            source,
        })?;
        let port = crate::server::free_port()?;
        let driver = spawn_driver(&geckodriver, port, &profiles, &dir.join("geckodriver.log"))?;
        let mut browser = Self {
            driver,
            addr: format!("127.0.0.1:{port}"),
            session: None,
        };
        // From here on, a failure drops `browser`, which stops geckodriver.
        browser.wait_for_driver().await?;
        browser.session = Some(browser.new_session(&firefox, &prefs).await?);
        browser
            .session_command(
                "POST",
                "/timeouts",
                &json!({ "script": SCRIPT_TIMEOUT_MS, "pageLoad": PAGE_LOAD_TIMEOUT_MS }),
            )
            .await?;
        Ok(browser)
    }

    /// Fills the app's sign-in form with `username` and `password` and submits it, once the
    /// form is on the page (within `timeout`).
    pub async fn submit_sign_in(
        &self,
        username: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<()> {
        self.wait_for(
            "document.querySelector('[data-testid=login-submit]') !== null",
            timeout,
        )
        .await?;
        self.execute(
            r#"const set = (id, value) => {
  const input = document.querySelector(`[data-testid=${id}]`);
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
};
set('login-username', arguments[0]);
set('login-password', arguments[1]);
document.querySelector('[data-testid=login-submit]').click();"#,
            json!([username, password]),
        )
        .await
        .map(|_| ())
    }

    /// Waits until geckodriver answers `GET /status` as ready.
    async fn wait_for_driver(&self) -> Result<()> {
        wait_until("geckodriver to answer", Duration::from_secs(30), || async {
            let Ok(reply) = http::get(&self.addr, "/status").await else {
                return Ok(None);
            };
            let status: Value = serde_json::from_str(&reply.body).unwrap_or_default();
            Ok((status["value"]["ready"] == true).then_some(()))
        })
        .await
    }

    /// Creates the session: headless, a fresh profile, and prefs that keep the run quiet.
    async fn new_session(&self, firefox: &Path, extra_prefs: &Value) -> Result<String> {
        let mut prefs = json!({
            // The pages' console output goes to Firefox's stdout, which is geckodriver's
            // log: what the app said is there when a test fails.
            "devtools.console.stdout.content": true,
            // Headless Firefox cannot answer a permission prompt: refuse outright.
            "permissions.default.desktop-notification": 2,
            // `dom.serviceWorkers.testing.enabled` is not needed: 127.0.0.1 is a secure
            // context, so the app's service worker registers as in production.
        });
        if let (Some(all), Some(extra)) = (prefs.as_object_mut(), extra_prefs.as_object()) {
            all.extend(extra.clone());
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "firefox",
            "moz:firefoxOptions": { "binary": firefox, "args": ["-headless"], "prefs": prefs },
        }}});
        let value = self
            .command("POST", "/session", Some(&capabilities), SESSION_LIMIT)
            .await?;
        value["sessionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::WebDriver {
                command: "POST /session".into(),
                error: "no session id".into(),
                message: value.to_string(),
            })
    }

    /// Navigates the session's window to `url` and waits for its load event.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        self.session_command("POST", "/url", &json!({ "url": url }))
            .await
            .map(|_| ())
    }

    /// Reloads the page as the agent would (F5): `location.reload()`, which goes through the
    /// service worker, and waits for the new document to be loaded. WebDriver's own Refresh
    /// command does not do that: measured in Firefox 153 with the server down, Refresh
    /// reaches `about:neterror` while `location.reload()` gets the shell from the worker.
    pub async fn reload(&self) -> Result<()> {
        self.execute(
            "window.__e2eBeforeReload = true; setTimeout(() => location.reload(), 0);",
            json!([]),
        )
        .await?;
        // While the old document unloads a script may fail ("no such window", "document
        // unloaded"): that is the reload under way, so such a poll counts as not yet.
        wait_until("the reloaded page", Duration::from_secs(30), || async {
            let loaded = self
                .evaluate(
                    "window.__e2eBeforeReload === undefined && document.readyState === 'complete'",
                )
                .await
                .unwrap_or(Value::Bool(false));
            Ok((loaded == true).then_some(()))
        })
        .await
    }

    /// Sets the window's size in CSS pixels (the chat list is virtualized: a taller window
    /// keeps more rows in the DOM).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.session_command(
            "POST",
            "/window/rect",
            &json!({ "width": width, "height": height }),
        )
        .await
        .map(|_| ())
    }

    /// Runs `script` (a function body: `return …`) with `args` as `arguments`. A returned
    /// promise is awaited (W3C "execute script").
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.session_command(
            "POST",
            "/execute/sync",
            &json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Runs `script` with `args`, plus a last argument: the callback that ends it with its
    /// value.
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value> {
        self.session_command(
            "POST",
            "/execute/async",
            &json!({ "script": script, "args": args }),
        )
        .await
    }

    /// The JSON value of `expression` (a promise is awaited).
    pub async fn evaluate(&self, expression: &str) -> Result<Value> {
        self.execute(&format!("return ({expression});"), json!([]))
            .await
    }

    /// Waits until `expression` evaluates to something other than null, undefined or false,
    /// and returns it.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value> {
        wait_until(&short(expression), timeout, || async {
            let value = self.evaluate(expression).await?;
            Ok((!value.is_null() && value != Value::Bool(false)).then_some(value))
        })
        .await
    }

    /// Ends the session (geckodriver quits Firefox) and stops geckodriver.
    pub async fn close(mut self) {
        if let Some(session) = self.session.take() {
            let path = format!("/session/{session}");
            let _ = self
                .command("DELETE", &path, None, Duration::from_secs(30))
                .await;
        }
        self.kill_group();
        let _ = self.driver.kill().await;
    }

    /// A command on the session: `path` is relative to `/session/{id}`.
    async fn session_command(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        let session = self
            .session
            .as_deref()
            .ok_or_else(|| HarnessError::Setup("the WebDriver session is closed".into()))?;
        let path = format!("/session/{session}{path}");
        self.command(method, &path, Some(body), COMMAND_LIMIT).await
    }

    /// One WebDriver command; its reply's `value`, or the W3C error it carries.
    async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        limit: Duration,
    ) -> Result<Value> {
        let command = format!("{method} {path}");
        let body = body.map(Value::to_string).unwrap_or_default();
        let headers = [("Content-Type", "application/json; charset=utf-8")];
        let reply =
            tokio::time::timeout(limit, http::send(&self.addr, method, path, &headers, &body))
                .await
                .map_err(|_| HarnessError::Timeout {
                    what: format!("geckodriver to answer {command}"),
                    seconds: limit.as_secs_f64(),
                })??;
        let parsed: Value =
            serde_json::from_str(&reply.body).map_err(|source| HarnessError::Json {
                what: format!("the reply to {command} ({} bytes)", reply.body.len()),
                source,
            })?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if reply.status == 200 {
            return Ok(value);
        }
        Err(HarnessError::WebDriver {
            command: short(&command),
            error: value["error"].as_str().unwrap_or("unknown").to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Kills whatever is left in geckodriver's process group (Firefox and its content
    /// processes, if the session could not be ended): a killed geckodriver does not take
    /// Firefox with it.
    fn kill_group(&self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Firefox {
    /// A test that failed before [`Firefox::close`]: end the session all the same (blocking,
    /// there is no async drop), then the process group.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            delete_session_blocking(&self.addr, &session);
        }
        self.kill_group();
        let _ = self.driver.start_kill();
    }
}

/// `DELETE /session/{id}` over a plain blocking socket, waiting at most 30 s for Firefox to
/// quit; failures are ignored (the process group is killed next anyway).
fn delete_session_blocking(addr: &str, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// Starts geckodriver on `port` in a process group of its own, logging to `log`.
fn spawn_driver(binary: &Path, port: u16, profiles: &Path, log: &Path) -> Result<Child> {
    let log_file = |what: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| HarnessError::Io {
                what: format!("opening {} for {what}", log.display()),
                source,
            })
    };
    Command::new(binary)
        .arg("--port")
        .arg(port.to_string())
        .arg("--profile-root")
        .arg(profiles)
        .stdin(Stdio::null())
        .stdout(log_file("stdout")?)
        .stderr(log_file("stderr")?)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HarnessError::Io {
            what: format!("starting {}", binary.display()),
            source,
        })
}

/// geckodriver: `$E2E_GECKODRIVER`, else `geckodriver` on `PATH`, else the one `cargo xtask
/// setup` installs.
pub fn geckodriver_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("E2E_GECKODRIVER") {
        return existing("E2E_GECKODRIVER", PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("geckodriver"));
    let installed = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/supportdesk-tools/bin/geckodriver"));
    on_path
        .chain(installed)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            HarnessError::Setup(
                "E2E_GECKODRIVER is not set and no geckodriver was found on PATH or in \
             ~/.cache/supportdesk-tools/bin (cargo xtask setup --browsers installs it)"
                    .into(),
            )
        })
}

/// Firefox: `$E2E_FIREFOX`, default `/usr/bin/firefox`.
pub fn firefox_path() -> Result<PathBuf> {
    let path =
        std::env::var_os("E2E_FIREFOX").map_or_else(|| "/usr/bin/firefox".into(), PathBuf::from);
    existing("E2E_FIREFOX", path)
}

fn existing(variable: &str, path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::Setup(format!(
            "{variable}: {} does not exist (set {variable} to the binary; see tests/README)",
            path.display()
        )))
    }
}

/// The first 160 characters of a script or command, for error messages.
fn short(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
