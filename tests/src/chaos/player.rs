//! The player: the state of a schedule being played, and each action performed on the
//! server (requester posts, changes, a reassignment, faults, restarts), on the pushes (as
//! their fate says) and in the browser (tabs, network cuts, the agent's sends).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::app_page::{open_chat, wait_for_desk};
use super::run::{ChaosReport, CHATS};
use super::schedule::{Action, PushFate};
use super::verdict::Observed;
use crate::browser::Page;
use crate::chat::{post_as, type_and_send};
use crate::http;
use crate::rig::{hint_payload, message_payload, Rig, CURSOR, RANGE};
use crate::{wait_until, HarnessError, Result};

/// One open app tab.
pub(super) struct Tab<'r> {
    pub(super) page: Page<'r>,
}

/// The state of a schedule being played.
pub(super) struct Player<'r> {
    pub(super) rig: &'r Rig,
    pub(super) blank: Page<'r>,
    pub(super) tabs: Vec<Tab<'r>>,
    pub(super) requesters: Vec<String>,
    pub(super) deferred: Vec<String>,
    pub(super) network_cut: bool,
    pub(super) report: ChaosReport,
    pub(super) observed: Observed,
    /// Served-message counters read before each restart (they start at 0 in a new process).
    pub(super) served_counted: f64,
    /// Uncaught exceptions and panics in any attached page or worker.
    pub(super) errors: Arc<Mutex<Vec<String>>>,
    pub(super) sent_counter: usize,
    /// The running worker's target and the session attached to it.
    pub(super) worker: Option<(String, String)>,
    /// Per chat, the requester's messages that still stand: (seq, body).
    pub(super) standing: Vec<Vec<(u64, String)>>,
    /// The chat handed to another agent, if any.
    pub(super) reassigned: Option<usize>,
}

impl<'r> Player<'r> {
    pub(super) async fn act(&mut self, action: &Action, payloads: &[String]) -> Result<()> {
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

    pub(super) async fn deliver(&mut self, payload: &str) -> Result<()> {
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

    pub(super) async fn set_network(&mut self, cut: bool) -> Result<()> {
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

    pub(super) async fn open_tab(&mut self, path: &str) -> Result<()> {
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

    pub(super) async fn faults(&self, settings: Value) -> Result<()> {
        wait_until("the fault switch", Duration::from_secs(10), || async {
            Ok(self.rig.set_faults(settings.clone()).await.ok())
        })
        .await
    }

    pub(super) async fn served_metric(&self) -> Result<f64> {
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
}
