//! Installing the toolchain, idempotently, into a stable place outside the clone so CI and
//! later runs reuse it (`$SUPPORTDESK_TOOLS`, default `~/.cache/supportdesk-tools`).
//!
//! Every tool comes from a package registry, never from a download of a prebuilt binary
//! (this machine reaches only the registries): wasm-bindgen-cli at exactly the version in
//! `Cargo.lock`, Trunk 0.21.14 (0.22 needs a newer rustc), wasm-opt from npm `binaryen@132`
//! (Debian's binaryen 108 produces a broken app), Chromium and chromedriver and Firefox ESR from
//! Debian, geckodriver from crates.io.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{output, root, run};

const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_VERSION: &str = "132";

/// What a command needs installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// The wasm target, wasm-bindgen, Trunk, wasm-opt: enough to build and serve the app.
    Build,
    /// Also the browsers and their drivers, and PostgreSQL for the server's tests.
    Tests,
}

/// Where the tools live.
pub struct Tools {
    dir: PathBuf,
}

impl Tools {
    /// The tools directory (created if missing).
    pub fn locate() -> Result<Self, String> {
        let dir = match std::env::var_os("SUPPORTDESK_TOOLS") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                    .ok_or("neither XDG_CACHE_HOME nor HOME is set")?;
                cache.join("supportdesk-tools")
            }
        };
        std::fs::create_dir_all(dir.join("bin"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self { dir })
    }

    /// `bin/` of the cargo-installed tools.
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    fn npm_prefix(&self) -> PathBuf {
        self.dir.join("npm")
    }

    fn npm_bin(&self) -> PathBuf {
        self.npm_prefix().join("node_modules").join(".bin")
    }

    /// PATH with the tools first.
    pub fn path_env(&self) -> OsString {
        let mut paths = vec![self.bin(), self.npm_bin()];
        if let Some(existing) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&existing));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }

    /// A command that finds the installed tools on its PATH, run in the workspace root.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("PATH", self.path_env()).current_dir(root());
        command
    }

    /// The chromedriver to use.
    pub fn chromedriver(&self) -> PathBuf {
        PathBuf::from("/usr/bin/chromedriver")
    }

    /// The geckodriver to use.
    pub fn geckodriver(&self) -> PathBuf {
        self.bin().join("geckodriver")
    }

    /// Installs whatever `need` requires and is missing.
    pub fn install(&self, need: Need) -> Result<(), String> {
        self.wasm_target()?;
        self.wasm_bindgen()?;
        self.cargo_tool(
            "trunk",
            TRUNK_VERSION,
            &["--locked", "trunk", "--version", TRUNK_VERSION],
        )?;
        self.wasm_opt()?;
        if need >= Need::Tests {
            self.debian_packages()?;
            let geckodriver = self.geckodriver();
            if !geckodriver.exists() {
                self.cargo_install(&["--locked", "geckodriver"])?;
            }
        }
        Ok(())
    }

    fn wasm_target(&self) -> Result<(), String> {
        let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
            .unwrap_or_default();
        if installed
            .lines()
            .any(|l| l.trim() == "wasm32-unknown-unknown")
        {
            return Ok(());
        }
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
    }

    fn wasm_bindgen(&self) -> Result<(), String> {
        let version = locked_version("wasm-bindgen")?;
        self.cargo_tool(
            "wasm-bindgen",
            &version,
            &["wasm-bindgen-cli", "--version", &version],
        )
    }

    /// Installs a cargo tool unless `bin/<name> --version` already reports `version`.
    fn cargo_tool(&self, name: &str, version: &str, install_args: &[&str]) -> Result<(), String> {
        let current = output(Command::new(self.bin().join(name)).arg("--version"));
        if current
            .as_deref()
            .is_some_and(|v| v.split_whitespace().any(|w| w == version))
        {
            return Ok(());
        }
        eprintln!(
            "xtask: installing {name} {version} into {} (a few minutes, once)",
            self.dir.display()
        );
        self.cargo_install(install_args)
    }

    fn cargo_install(&self, args: &[&str]) -> Result<(), String> {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .arg("install")
            .arg("--root")
            .arg(&self.dir)
            .args(args);
        // Tool builds get their own target directory so they never invalidate the project's.
        command.env("CARGO_TARGET_DIR", self.dir.join("build"));
        run(&mut command)
    }

    fn wasm_opt(&self) -> Result<(), String> {
        let wasm_opt = self.npm_bin().join("wasm-opt");
        let current = output(Command::new(&wasm_opt).arg("--version"));
        if current.is_some_and(|v| v.contains(&format!("version {BINARYEN_VERSION}"))) {
            return Ok(());
        }
        std::fs::create_dir_all(self.npm_prefix()).map_err(|e| e.to_string())?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(self.npm_prefix())
            .arg(format!("binaryen@{BINARYEN_VERSION}")))
    }

    fn debian_packages(&self) -> Result<(), String> {
        let mut missing = Vec::new();
        for (binary, package) in [
            ("/usr/bin/chromium", "chromium"),
            ("/usr/bin/chromedriver", "chromium-driver"),
            ("/usr/bin/firefox-esr", "firefox-esr"),
        ] {
            if !Path::new(binary).exists() {
                missing.push(package);
            }
        }
        if postgres_bin_dir().is_none() {
            missing.push("postgresql");
        }
        if missing.is_empty() {
            return Ok(());
        }
        let sudo = !is_root();
        let apt = |args: &[&str]| {
            let mut command = if sudo {
                Command::new("sudo")
            } else {
                Command::new("apt-get")
            };
            if sudo {
                command.arg("apt-get");
            }
            command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            command
        };
        run(&mut apt(&["update", "-qq"]))?;
        let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
        install.args(&missing);
        run(&mut install)
    }
}

/// The directory holding PostgreSQL's `initdb` and `postgres`, if installed.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates.push(PathBuf::from("/usr/local/bin"));
    candidates.push(PathBuf::from("/usr/bin"));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// The version of a package as `Cargo.lock` pins it.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock_path = root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return Ok(version.trim_matches('"').to_owned());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}
