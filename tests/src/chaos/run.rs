//! Plays one seeded schedule in the browser, heals everything, lets the agent open every
//! chat, and hands what it saw to the [`verdict`](super::verdict).
//!
//! The server runs with `--test-faults` (latency and 503s on demand) and
//! `--test-served-log` (a JSON line per history reply, kept across restarts). Pushes are
//! delivered over CDP from an about:blank page; tabs are app pages; the network is cut with
//! CDP network emulation on every tab and on the running worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::schedule::{schedule, Action, PushFate};
use super::verdict::{self, Observed, Violation};
use crate::browser::Page;
use crate::chat::{chat_list, post_as, server_messages, type_and_send};
use crate::http;
use crate::rig::{hint_payload, message_payload, Rig, CURSOR, RANGE};
use crate::{wait_until, HarnessError, Result};

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

/// One open app tab.
struct Tab<'r> {
    page: Page<'r>,
}

/// The state of a schedule being played.
struct Player<'r> {
    rig: &'r Rig,
    blank: Page<'r>,
    tabs: Vec<Tab<'r>>,
    requesters: Vec<String>,
    deferred: Vec<String>,
    network_cut: bool,
    report: ChaosReport,
    observed: Observed,
    /// Served-message counters read before each restart (they start at 0 in a new process).
    served_counted: f64,
    /// Uncaught exceptions and panics in any attached page or worker.
    errors: Arc<Mutex<Vec<String>>>,
    sent_counter: usize,
    /// The running worker's target and the session attached to it.
    worker: Option<(String, String)>,
    /// Per chat, the requester's messages that still stand: (seq, body).
    standing: Vec<Vec<(u64, String)>>,
    /// The chat handed to another agent, if any.
    reassigned: Option<usize>,
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

/// Records uncaught exceptions and wasm panics from every attached target.
///
/// Not `guard::ErrorWatch`: that one also counts a rejected promise with no description, and
/// the service worker rejects a Background Sync event on purpose (a string saying how many
/// queued messages wait) so the browser retries it; the schedules cut the network often
/// enough that every run would fail on it.
/// A console line that is a failure whatever else happens: a panic, or a store transaction
/// that the browser committed under a request still to come ("The transaction has finished",
/// a `TransactionInactiveError`: work was lost and only a later catch-up would mend it).
fn is_fatal_log(text: &str) -> bool {
    text.contains("panicked")
        || text.contains("transaction has finished")
        || text.contains("TransactionInactiveError")
}

fn collect_errors(rig: &Rig) -> Arc<Mutex<Vec<String>>> {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let mut events = rig.browser.cdp.events();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let text = match event["method"].as_str() {
                Some("Runtime.exceptionThrown") => event["params"]["exceptionDetails"]["exception"]
                    ["description"]
                    .as_str()
                    .map(str::to_owned),
                Some("Runtime.consoleAPICalled") => Some(
                    event["params"]["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["value"].as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
                .filter(|t| is_fatal_log(t)),
                _ => None,
            };
            if let Some(text) = text {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(text.lines().take(3).collect::<Vec<_>>().join(" | "));
            }
        }
    });
    errors
}

impl<'r> Player<'r> {
    async fn act(&mut self, action: &Action, payloads: &[String]) -> Result<()> {
        match action {
            Action::Post { chat, count, fate } => self.post(*chat, *count, *fate).await?,
            Action::DeliverDeferred => {
                while let Some(payload) = self.deferred.pop() {
                    self.deliver(&payload).await?;
                }
            }
            Action::MalformedPush(i) => {
                self.deliver(&payloads[*i]).await?;
                self.report.malformed += 1;
            }
            Action::StopWorker => {
                self.blank
                    .call("ServiceWorker.stopAllWorkers", json!({}))
                    .await?;
            }
            Action::CutNetwork => {
                self.set_network(true).await?;
                self.report.cuts += 1;
            }
            Action::RestoreNetwork => self.set_network(false).await?,
            Action::OpenTab(chat) => {
                let path = chat.map_or("/".to_owned(), |c| format!("/chat/{}", CHATS[c]));
                self.open_tab(&path).await?;
            }
            Action::ReloadTab(i) => {
                let tab = &self.tabs[*i];
                tab.page
                    .call("Page.reload", json!({ "ignoreCache": false }))
                    .await?;
                wait_for_desk(&tab.page).await?;
                self.report.tab_changes += 1;
            }
            Action::CloseTab(i) => {
                let tab = self.tabs.remove(*i);
                tab.page.close().await?;
                self.report.tab_changes += 1;
            }
            Action::OpenChat { tab, chat } => {
                open_chat(&self.tabs[*tab].page, CHATS[*chat]).await?
            }
            Action::ServerSlow(ms) => self.faults(json!({ "latency_ms": ms })).await?,
            Action::ServerFailing(percent) => {
                self.faults(json!({ "error_rate": f64::from(*percent) / 100.0 }))
                    .await?;
            }
            Action::ServerHealthy => self.faults(json!({})).await?,
            Action::RestartServer => {
                self.served_counted += self.served_metric().await?;
                self.rig.server.restart().await?;
                self.report.restarts += 1;
            }
            Action::AgentSends { tab, chat } => self.agent_sends(*tab, *chat).await?,
            Action::Pause(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Action::Change { chat, redact, fate } => self.change(*chat, *redact, *fate).await?,
            Action::Reassign { chat } => self.reassign(*chat).await?,
        }
        Ok(())
    }

    /// The requester edits (or deletes) their latest standing message in `chat`, over HTTP
    /// through injected 503s, and the change's push meets `fate`.
    async fn change(&mut self, chat: usize, redact: bool, fate: PushFate) -> Result<()> {
        let Some((seq, old)) = self.standing[chat].last().cloned() else {
            return Ok(());
        };
        let body = format!("seed {} edit {}", self.report.seed, self.report.changes);
        let (method, request) = if redact {
            ("DELETE", json!({ "request_id": CHATS[chat], "seq": seq }))
        } else {
            (
                "PATCH",
                json!({ "request_id": CHATS[chat], "seq": seq, "body": body }),
            )
        };
        let cookie = self.requesters[chat].clone();
        let changed = wait_until(
            "the requester's change to be stored",
            Duration::from_secs(30),
            || async {
                Ok(http::json_as(
                    &self.rig.server.addr,
                    &cookie,
                    method,
                    "/api/chat/messages",
                    &request,
                )
                .await
                .ok())
            },
        )
        .await?;
        self.report.changes += 1;
        if redact {
            self.standing[chat].pop();
            self.observed.redacted.push(old);
        } else if let Some(last) = self.standing[chat].last_mut() {
            last.1 = body;
        }
        let payload =
            json!({ "kind": "change", "to": self.rig.user_id, "message": changed }).to_string();
        let hint = json!({
            "kind": "changes",
            "to": self.rig.user_id,
            "request_id": CHATS[chat],
            "version": changed["version"],
        })
        .to_string();
        self.push_with_fate(payload, hint, fate).await
    }

    /// Delivers `payload` as `fate` says: at once, never, twice, later, or `hint` instead.
    async fn push_with_fate(
        &mut self,
        payload: String,
        hint: String,
        fate: PushFate,
    ) -> Result<()> {
        match fate {
            PushFate::Deliver => self.deliver(&payload).await?,
            PushFate::Drop => self.report.pushes_dropped += 1,
            PushFate::Duplicate => {
                self.deliver(&payload).await?;
                self.deliver(&payload).await?;
            }
            PushFate::Defer => self.deferred.push(payload),
            PushFate::Hint => self.deliver(&hint).await?,
        }
        Ok(())
    }

    /// The agent hands `chat` to bob (over HTTP, through injected 503s); the server's
    /// `revoked` push reaches the worker, and open tabs hear it live.
    async fn reassign(&mut self, chat: usize) -> Result<()> {
        let alice = http::login(&self.rig.server.addr, "alice", "demo").await?;
        let request = json!({ "request_id": CHATS[chat], "agent": "bob" });
        wait_until(
            "the reassignment to be stored",
            Duration::from_secs(30),
            || async {
                Ok(http::json_as(
                    &self.rig.server.addr,
                    &alice,
                    "POST",
                    "/api/chat/requests/assign",
                    &request,
                )
                .await
                .ok())
            },
        )
        .await?;
        self.reassigned = Some(chat);
        self.observed.revoked.push(CHATS[chat].to_owned());
        self.report.reassigned += 1;
        let payload =
            json!({ "kind": "revoked", "to": self.rig.user_id, "request_id": CHATS[chat] });
        self.deliver(&payload.to_string()).await
    }

    /// The requester posts `count` messages over HTTP (retrying through injected 503s with
    /// the same idempotency key), and their pushes meet `fate`.
    async fn post(&mut self, chat: usize, count: usize, fate: PushFate) -> Result<()> {
        for _ in 0..count {
            let body = format!(
                "seed {} requester message {}",
                self.report.seed, self.report.posted
            );
            let message = wait_until(
                "the requester's post to be stored",
                Duration::from_secs(30),
                || async {
                    Ok(
                        post_as(&self.rig.server, &self.requesters[chat], CHATS[chat], &body)
                            .await
                            .ok(),
                    )
                },
            )
            .await?;
            self.report.posted += 1;
            if let Some(seq) = message["seq"].as_u64() {
                self.standing[chat].push((seq, body.clone()));
            }
            let payload = message_payload(&message, &self.rig.user_id);
            let seq = message["seq"].as_u64().unwrap_or_default();
            let hint = hint_payload(CHATS[chat], seq, &self.rig.user_id);
            self.push_with_fate(payload, hint, fate).await?;
        }
        Ok(())
    }

    async fn deliver(&mut self, payload: &str) -> Result<()> {
        self.rig.deliver(&self.blank, payload).await?;
        self.report.pushes_delivered += 1;
        // A worker started by this push must lose the network too while it is cut.
        if self.network_cut {
            if let Some(worker) = self.running_worker().await? {
                self.rig.browser.emulate_offline(&worker, true).await?;
            }
        }
        Ok(())
    }

    /// The session of the running service worker, attached once per worker (with its
    /// runtime events on, so its panics are seen: a second attachment would repeat every
    /// event), or `None` when no worker runs.
    async fn running_worker(&mut self) -> Result<Option<String>> {
        let script = self.rig.server.url("/sw.js");
        let Some(target_id) = self.rig.browser.running_service_worker(&script).await? else {
            return Ok(None);
        };
        if let Some((known, session)) = &self.worker {
            if *known == target_id {
                return Ok(Some(session.clone()));
            }
        }
        // The worker may have stopped between the two calls.
        let Ok(session) = self.rig.browser.attach(&target_id).await else {
            return Ok(None);
        };
        let _ = self
            .rig
            .browser
            .cdp
            .call("Runtime.enable", json!({}), Some(&session))
            .await;
        self.worker = Some((target_id, session.clone()));
        Ok(Some(session))
    }

    async fn set_network(&mut self, cut: bool) -> Result<()> {
        self.network_cut = cut;
        for tab in &self.tabs {
            self.rig
                .browser
                .emulate_offline(&tab.page.session_id, cut)
                .await?;
        }
        if let Some(worker) = self.running_worker().await? {
            self.rig.browser.emulate_offline(&worker, cut).await?;
        }
        Ok(())
    }

    async fn open_tab(&mut self, path: &str) -> Result<()> {
        let page = self.rig.browser.new_page("about:blank").await?;
        page.call("Runtime.enable", json!({})).await?;
        if self.network_cut {
            self.rig
                .browser
                .emulate_offline(&page.session_id, true)
                .await?;
        }
        page.navigate(&self.rig.server.url(path)).await?;
        wait_for_desk(&page).await?;
        self.tabs.push(Tab { page });
        self.report.tab_changes += 1;
        Ok(())
    }

    async fn faults(&self, settings: Value) -> Result<()> {
        wait_until("the fault switch", Duration::from_secs(10), || async {
            Ok(self.rig.set_faults(settings.clone()).await.ok())
        })
        .await
    }

    async fn served_metric(&self) -> Result<f64> {
        Ok(self.rig.metric(RANGE).await? + self.rig.metric(CURSOR).await?)
    }

    /// The agent opens `chat` in tab `tab` if it shows another, types a message and sends it.
    async fn agent_sends(&mut self, tab: usize, chat: usize) -> Result<()> {
        let page = &self.tabs[tab].page;
        // The agent types in the tab in front (a hidden tab gets no animation frames, so its
        // view would never paint).
        page.call("Page.bringToFront", json!({})).await?;
        open_chat(page, CHATS[chat]).await?;
        let body = format!(
            "seed {} agent message {}",
            self.report.seed, self.sent_counter
        );
        self.sent_counter += 1;
        let outcome = type_and_send(page, &body).await?;
        if outcome != "taken" {
            return Err(HarnessError::Setup(format!(
                "the composer did not take {body:?}: {outcome}"
            )));
        }
        self.observed.sent.push((CHATS[chat].to_owned(), body));
        self.report.sent += 1;
        if self.network_cut {
            self.report.sent_offline += 1;
        }
        Ok(())
    }

    /// Heals everything (faults off, network back, late pushes delivered), waits for the
    /// outbox to drain, and opens every chat and scrolls it to the top so the agent sees it
    /// whole.
    async fn settle(&mut self) -> Result<()> {
        self.faults(json!({})).await?;
        self.set_network(false).await?;
        while let Some(payload) = self.deferred.pop() {
            self.deliver(&payload).await?;
        }
        if self.tabs.is_empty() {
            self.open_tab("/").await?;
        }
        let page = &self.tabs[0].page;
        page.call("Page.bringToFront", json!({})).await?;
        // Queued messages go out when their backoff ends (at most a minute after a failure).
        page.wait_for(&outbox_empty_js(&self.rig.user_id), Duration::from_secs(90))
            .await?;
        let alice = http::login(&self.rig.server.addr, "alice", "demo").await?;
        let list = chat_list(&self.rig.server, &alice).await?;
        for (index, chat) in CHATS.iter().copied().enumerate() {
            if self.reassigned == Some(index) {
                continue;
            }
            let last = list
                .iter()
                .find(|c| c["request_id"] == chat)
                .and_then(|c| c["last_seq"].as_u64())
                .unwrap_or(0);
            open_chat(page, chat).await?;
            // The agent reads the chat whole: scrolled to the top, so older history the cache
            // does not hold is asked for the way a reader asks for it (a page of it that
            // failed earlier, in a tab since closed, is asked for again).
            let held = page
                .wait_for(
                    &format!(
                        "(async () => {{ const m = document.querySelector('.messages'); \
                           if (m) m.scrollTop = 0; return await {}; }})()",
                        chat_complete_js(&self.rig.user_id, chat, last)
                    ),
                    Duration::from_secs(60),
                )
                .await;
            if let Err(error) = held {
                // Say what the cache held instead, which is what a failure needs explained.
                let record = page
                    .evaluate(&crate::chat::snapshot_js(
                        &crate::chat::database_name(&self.rig.user_id),
                        chat,
                    ))
                    .await
                    .unwrap_or_default();
                let seqs = crate::chat::seqs(&record);
                return Err(HarnessError::Setup(format!(
                    "{chat} never held 1..={last} ({error}); it holds {} seqs {:?}…{:?}, record {}",
                    seqs.len(),
                    seqs.first(),
                    seqs.last(),
                    record["chat"]
                )));
            }
            let settled = page
                .wait_for(
                    "(() => { const v = document.querySelector('[data-testid=chat-view]'); \
                      return v?.dataset.ready === 'true' \
                        && !document.querySelector('[data-testid=gap-skeleton]') \
                        && !document.querySelector('[data-testid=message][data-state=pending]'); })()",
                    Duration::from_secs(30),
                )
                .await;
            if let Err(error) = settled {
                let shown = page
                    .evaluate(crate::chat::ROWS_JS)
                    .await
                    .unwrap_or_default();
                let pending = page
                    .evaluate(
                        "[...document.querySelectorAll('[data-testid=message]')]\
                         .filter(r => r.dataset.state !== 'sent').map(r => r.outerHTML.slice(0, 300))",
                    )
                    .await
                    .unwrap_or_default();
                return Err(HarnessError::Setup(format!(
                    "{chat} held 1..={last} but the view did not settle ({error}); it shows {shown}; not sent: {pending}"
                )));
            }
        }
        // Let anything still scheduled (a retry, a late catch-up) reach the server, so a
        // needless fetch shows in the log.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        Ok(())
    }

    /// Reads the served log, the server's messages and the cache, and judges.
    async fn judge(&mut self, log_path: &std::path::Path) -> Result<()> {
        // The counters, then the log (which must hold at least what they count), both before
        // the harness's own reads of the server below, which are history fetches too.
        self.observed.served_metric = self.served_counted + self.served_metric().await?;
        let log = std::fs::read_to_string(log_path).map_err(|source| HarnessError::Io {
            what: format!("reading {}", log_path.display()),
            source,
        })?;
        self.observed.served_log = verdict::parse_served_log(&log, &self.rig.user_id)?;
        let alice = http::login(&self.rig.server.addr, "alice", "demo").await?;
        for (index, chat) in CHATS.iter().copied().enumerate() {
            if self.reassigned == Some(index) {
                // alice may no longer read it: the verdict checks it left her cache.
                continue;
            }
            self.observed.server.insert(
                chat.to_owned(),
                server_messages(&self.rig.server, &alice, chat).await?,
            );
        }
        let cache = self.tabs[0]
            .page
            .evaluate(&cache_js(&self.rig.user_id))
            .await?;
        self.observed.cache = verdict::parse_cache(&cache)?;
        self.observed.outbox_left = cache["outbox"].as_u64().unwrap_or(u64::MAX);
        self.observed.records = cache["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        if !self.observed.redacted.is_empty() {
            let database = crate::chat::database_name(&self.rig.user_id);
            let found = self.tabs[0]
                .page
                .evaluate(&crate::chat::scan_js(&database, &self.observed.redacted))
                .await?;
            for place in ["idb", "caches"] {
                for hit in found[place].as_array().into_iter().flatten() {
                    self.observed.redacted_found.push(hit.to_string());
                }
            }
        }
        self.observed.errors = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let judged = verdict::judge(&self.observed, &CHATS);
        self.report.served = judged.served;
        self.report.refetched_after_loss = judged.refetched_after_loss;
        self.report.cached = judged.cached;
        self.report.violations = judged.violations;
        Ok(())
    }
}

/// Waits until the page shows the signed-in desk with its cache open (the panes, or the
/// failure to open it).
///
/// Not only the header: Chromium puts a page navigated away from in the back/forward cache
/// even while its IndexedDB open request is in flight, and every later open of that
/// database in the origin then waits for ever (measured with a fresh profile and a
/// navigation as soon as the header shows: 3 to 5 hangs in 12; with the back/forward cache
/// disabled, or after the cache opened, none). The schedules play faults in the app and the
/// worker, not that browser defect, which is reported in the closing notes.
async fn wait_for_desk(page: &Page<'_>) -> Result<()> {
    page.wait_for(
        "document.querySelector('.desk__panes, .desk__failure') !== null",
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
}

/// Opens `chat` in `page`: a click on its chat-list entry when the list shows it (the
/// in-app route change), a navigation otherwise; returns once the chat view shows it.
async fn open_chat(page: &Page<'_>, chat: &str) -> Result<()> {
    let shown = format!(
        "document.querySelector('[data-testid=chat-view]')?.dataset.requestId === {chat:?}"
    );
    if page.evaluate(&shown).await? == Value::Bool(true) {
        return Ok(());
    }
    let clicked = page
        .evaluate(&format!(
            "(() => {{ const item = document.querySelector('[data-testid=chat-item][data-request-id={chat:?}]'); \
               if (!item) return false; item.click(); return true; }})()"
        ))
        .await?;
    if clicked != Value::Bool(true) {
        let url = page
            .evaluate("location.origin")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        page.navigate(&format!("{url}/chat/{chat}")).await?;
    }
    if let Err(error) = page.wait_for(&shown, Duration::from_secs(30)).await {
        let state = page
            .evaluate(
                &format!("({{ href: location.href, clicked: {clicked}, \
                   view: document.querySelector('[data-testid=chat-view]')?.outerHTML.slice(0, 200) ?? null, \
                   items: [...document.querySelectorAll('[data-testid=chat-item]')].map(i => i.dataset.requestId) }})",
                ),
            )
            .await
            .unwrap_or_default();
        return Err(HarnessError::Setup(format!(
            "{chat} not shown after {} ({error}): {state}",
            if clicked == Value::Bool(true) {
                "a click"
            } else {
                "a navigation"
            }
        )));
    }
    page.wait_for(
        "document.querySelector('[data-testid=composer]') !== null",
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
}

fn open_db_js(user_id: &str) -> String {
    format!(
        "await new Promise((ok, err) => {{ const r = indexedDB.open({:?}); \
           r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error); }})",
        crate::chat::database_name(user_id)
    )
}

/// JS: true once the outbox store is empty.
fn outbox_empty_js(user_id: &str) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  try {{
    const rq = db.transaction('outbox').objectStore('outbox').count();
    return (await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }})) === 0;
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}

/// JS: true once the cache holds every seq `1..=last` of `chat`.
fn chat_complete_js(user_id: &str, chat: &str, last: u64) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  try {{
    const rq = db.transaction('messages').objectStore('messages')
      .getAllKeys(IDBKeyRange.bound([{chat:?}, 1], [{chat:?}, {last}]));
    const keys = await new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
    return keys.length === {last};
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}

/// JS: every cached message of every chat as `{chat: [[seq, id, body], ...]}`, the outbox
/// size, and the ids of the chat records.
fn cache_js(user_id: &str) -> String {
    format!(
        r#"(async () => {{
  const db = {open};
  const get = rq => new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  try {{
    const tx = db.transaction(['messages', 'outbox', 'chats'], 'readonly');
    const all = await get(tx.objectStore('messages').getAll());
    const outbox = await get(tx.objectStore('outbox').count());
    const records = await get(tx.objectStore('chats').getAllKeys());
    const chats = {{}};
    for (const m of all) (chats[m.request_id] ??= []).push([m.seq, m.id, m.body]);
    return {{ chats, outbox, records }};
  }} finally {{ db.close(); }}
}})()"#,
        open = open_db_js(user_id)
    )
}
