//! The end of a schedule: everything healed, the agent reads every chat whole, then the
//! served log, the server's messages and the cache are read and handed to the verdict.

use std::time::Duration;

use serde_json::json;

use super::app_page::{cache_js, chat_complete_js, open_chat, outbox_empty_js};
use super::player::Player;
use super::run::CHATS;
use super::verdict;
use crate::chat::{chat_list, server_messages};
use crate::http;
use crate::{HarnessError, Result};

impl Player<'_> {
    /// Heals everything (faults off, network back, late pushes delivered), waits for the
    /// outbox to drain, and opens every chat and scrolls it to the top so the agent sees it
    /// whole.
    pub(super) async fn settle(&mut self) -> Result<()> {
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
    pub(super) async fn judge(&mut self, log_path: &std::path::Path) -> Result<()> {
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
