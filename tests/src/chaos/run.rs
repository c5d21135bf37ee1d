//! Plays one seeded schedule in the browser, heals everything, lets the agent open every
//! chat, and hands what it saw to the [`verdict`](super::verdict).
//!
//! The server runs with `--test-faults` (latency and 503s on demand) and
//! `--test-served-log` (a JSON line per history reply, kept across restarts). Pushes are
//! delivered over CDP from an about:blank page; tabs are app pages; the network is cut with
//! CDP network emulation on every tab and on the running worker.
//!
//! This module starts the run, plays the actions and hands over to the end; the player
//! performs each action (`player`), the end heals, reads and judges (`settle`), and the
//! browser's own failures are collected beside it (`errors`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::errors::collect_errors;
use super::player::Player;
use super::schedule::{schedule, Action};
use super::verdict::{Observed, Violation};
use crate::chat::chat_list;
use crate::http;
use crate::rig::Rig;
use crate::{HarnessError, Result};

/// alice's demo chats the schedules play on (1, 3, 8 and 20 seeded messages).
pub const CHATS: [&str; 4] = ["REQ-1001", "REQ-1003", "REQ-1005", "REQ-1007"];

/// What a schedule did, and what the verdict found.
#[derive(Debug, Default)]
pub struct ChaosReport {
    /// The seed.
    pub seed: u64,
    /// Actions played.
    pub steps: usize,
    /// Messages posted by requesters.
    pub posted: usize,
    /// Messages the agent sent from the composer (of which offline).
    pub sent: usize,
    /// Sends made while the network was cut.
    pub sent_offline: usize,
    /// Pushes delivered (duplicates and late deliveries included).
    pub pushes_delivered: usize,
    /// Pushes never delivered.
    pub pushes_dropped: usize,
    /// Malformed pushes delivered.
    pub malformed: usize,
    /// Server restarts.
    pub restarts: usize,
    /// Network cuts.
    pub cuts: usize,
    /// Tabs opened, reloaded or closed.
    pub tab_changes: usize,
    /// Messages the server sent in history replies.
    pub served: usize,
    /// Messages sent twice, each right after its first reply was lost with a closed tab, a
    /// stopped worker or a killed server (allowed: nothing had reached the cache).
    pub refetched_after_loss: usize,
    /// Messages cached at the end over every chat played.
    pub cached: usize,
    /// Edits and deletions the requesters made.
    pub changes: usize,
    /// Chats handed to another agent.
    pub reassigned: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// What broke an invariant (empty when the schedule passed).
    pub violations: Vec<Violation>,
}

/// Bad push payloads the schedules deliver (each must change nothing).
pub fn malformed_payloads() -> Vec<String> {
    vec![
        "not json at all".to_owned(),
        r#"{"kind":"message"}"#.to_owned(),
        r#"{"kind":"message","message":{"id":"","seq":0,"request_id":"REQ-1001"}}"#.to_owned(),
        r#"{"kind":"hint","request_id":"REQ-1003","seq":-4}"#.to_owned(),
        json!({ "kind": "hint", "request_id": "REQ-1005", "seq": 5, "pad": "x".repeat(12_000) })
            .to_string(),
    ]
}

/// How many actions one schedule has.
pub const STEPS: usize = 60;

/// Plays the schedule of `seed` with a fresh server and browser, and returns the report
/// (with any violations); harness failures (a browser that stops answering) are errors.
pub async fn run_seed(seed: u64) -> Result<ChaosReport> {
    let name = format!("chaos-{seed}");
    let log_path = crate::browser::scratch_dir(&format!("{name}-log")).join("served.jsonl");
    std::fs::create_dir_all(log_path.parent().unwrap_or(&log_path)).map_err(|source| {
        HarnessError::Io {
            what: "creating the served-log directory".into(),
            source,
        }
    })?;
    let log_arg = log_path.display().to_string();
    let rig = Rig::start_with(
        &name,
        &["--test-faults", "--test-served-log", log_arg.as_str()],
    )
    .await?;
    let started = Instant::now();
    let result = play(&rig, seed, &log_path).await;
    rig.stop().await;
    let mut report = result?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn play(rig: &Rig, seed: u64, log_path: &std::path::Path) -> Result<ChaosReport> {
    let payloads = malformed_payloads();
    let actions = schedule(seed, STEPS, CHATS.len(), payloads.len());
    let mut requesters = Vec::new();
    let alice = http::login(&rig.server.addr, "alice", "demo").await?;
    let list = chat_list(&rig.server, &alice).await?;
    for chat in CHATS {
        let entry = list
            .iter()
            .find(|c| c["request_id"] == chat)
            .ok_or_else(|| HarnessError::Setup(format!("{chat} is not alice's")))?;
        let username = entry["requester"]["id"]
            .as_str()
            .and_then(|id| id.strip_prefix("u_"))
            .ok_or_else(|| HarnessError::Setup(format!("no requester in {entry}")))?;
        requesters.push(http::login(&rig.server.addr, username, "demo").await?);
    }
    let errors = collect_errors(rig);
    let mut player = Player {
        rig,
        blank: rig.blank().await?,
        tabs: Vec::new(),
        requesters,
        deferred: Vec::new(),
        network_cut: false,
        report: ChaosReport {
            seed,
            steps: actions.len(),
            ..ChaosReport::default()
        },
        observed: Observed::default(),
        served_counted: 0.0,
        errors,
        sent_counter: 0,
        worker: None,
        standing: vec![Vec::new(); CHATS.len()],
        reassigned: None,
    };
    // `CHAOS_VERBOSE=1` prints each action as it is played (with the time, to line up with
    // the page and worker logs).
    let verbose = std::env::var_os("CHAOS_VERBOSE").is_some();
    for _ in 0..super::schedule::FIRST_TABS {
        player.open_tab("/").await?;
    }
    player.report.tab_changes = 0;
    for (index, action) in actions.iter().enumerate() {
        let at = now_ms();
        if verbose {
            eprintln!("chaos seed {seed} step {index} at {at}: {action:?}");
        }
        if let Err(error) = player.act(action, &payloads).await {
            return Err(HarnessError::Setup(format!(
                "seed {seed}, step {index} ({action:?}): {error}"
            )));
        }
        player.observed.disruptions.extend(disruption(action, at));
    }
    player
        .settle()
        .await
        .map_err(|error| HarnessError::Setup(format!("seed {seed}, settling: {error}")))?;
    player.judge(log_path).await?;
    Ok(player.report)
}

/// When an action can lose a history reply in flight (the context that asked is gone).
fn disruption(action: &Action, at: u64) -> Option<u64> {
    matches!(
        action,
        Action::StopWorker
            | Action::ReloadTab(_)
            | Action::CloseTab(_)
            | Action::OpenChat { .. }
            | Action::RestartServer
            | Action::CutNetwork
    )
    .then_some(at)
}
