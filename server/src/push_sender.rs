//! The Web Push sender: claims due rows of the durable queue (`db::push_outbox`) and runs
//! their deliveries (`push_delivery`), woken by every new message and every
//! `push_poll_interval` (retries, and rows queued by other server processes).
//!
//! A slow or hanging push service cannot stall anyone else's pushes:
//!
//! - every delivery has short connect and total timeouts (`push_connect_timeout`,
//!   `push_timeout`), and redirects are not followed;
//! - at most `push_per_host` deliveries run at once per push-service host and
//!   `push_concurrency` in all. A row is claimed only with both slots free: the rows of a
//!   host with no free slot are left out of the claim, so they neither take a global slot
//!   nor sit claimed while they wait (a claim outliving its lease would be sent twice);
//! - names resolve to public addresses only (`push_endpoint::PublicResolver`).
//!
//! A claim is a lease (`push_claim_lease`, always longer than a delivery may take): a process
//! that dies mid-delivery leaves its rows to be claimed again when the lease runs out. On a
//! graceful stop, deliveries in flight get `push_shutdown_grace` to finish; the rest are cut
//! off and their rows released for the next process at once. Either way a push cut off
//! mid-delivery may arrive twice, which the client's ingest (idempotent by request and
//! sequence) absorbs; a push is never lost to a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

use crate::clock::now_ms;
use crate::db::push_outbox::OutboxRow;
use crate::push_endpoint::PublicResolver;
use crate::state::AppState;

/// Most rows claimed by one query.
const CLAIM_BATCH: usize = 64;

/// Hosts remembered before idle ones are forgotten.
const MAX_IDLE_HOSTS: usize = 1_000;

/// The slots deliveries run in: a global pool and one pool per push-service host.
struct Slots {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: HashMap<String, Arc<Semaphore>>,
}

/// Both slots of one delivery, released when it ends.
struct Permits {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Slots {
    fn new(global: usize, per_host: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_host: per_host.max(1),
            hosts: HashMap::new(),
        }
    }

    fn free(&self) -> usize {
        self.global.available_permits()
    }

    /// Hosts with no free slot: their rows are not claimed now.
    fn busy_hosts(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, slots)| slots.available_permits() == 0)
            .map(|(host, _)| host.clone())
            .collect()
    }

    /// Both slots for a delivery to `host`, or `None` when either pool is full.
    fn take(&mut self, host: &str) -> Option<Permits> {
        if self.hosts.len() > MAX_IDLE_HOSTS {
            let per_host = self.per_host;
            self.hosts
                .retain(|_, slots| slots.available_permits() < per_host);
        }
        let per_host = self.per_host;
        let host_slots = self
            .hosts
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
            .clone();
        let host = host_slots.try_acquire_owned().ok()?;
        let global = self.global.clone().try_acquire_owned().ok()?;
        Some(Permits {
            _host: host,
            _global: global,
        })
    }
}

/// The running sender's bookkeeping.
struct Sender {
    state: AppState,
    client: reqwest::Client,
    slots: Slots,
    lease_ms: i64,
    deliveries: JoinSet<()>,
    /// The row each running delivery holds, by task.
    in_flight: HashMap<tokio::task::Id, i64>,
}

/// What woke the sender.
enum Wake {
    Work,
    Finished(Result<(tokio::task::Id, ()), JoinError>),
    Stop,
}

/// The HTTP client every delivery uses.
pub fn http_client(state: &AppState) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(state.config.push_connect_timeout)
        .timeout(state.config.push_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicResolver {
            allow_loopback: state.config.allow_insecure_push,
        }))
        .build()
}

/// Runs until the server shuts down.
pub async fn run(state: AppState) {
    let client = match http_client(&state) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the push HTTP client; Web Push is off");
            return;
        }
    };
    let config = &state.config;
    // A lease shorter than a delivery could run would let a second claim send it again.
    let lease = config
        .push_claim_lease
        .max(config.push_timeout + config.push_connect_timeout + Duration::from_secs(5));
    let mut sender = Sender {
        slots: Slots::new(config.push_concurrency, config.push_per_host),
        lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        client,
        deliveries: JoinSet::new(),
        in_flight: HashMap::new(),
        state: state.clone(),
    };
    let mut shutdown = state.shutdown.clone();
    let mut poll = tokio::time::interval(config.push_poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            break;
        }
        sender.dispatch().await;
        let wake = tokio::select! {
            () = state.push_wake.notified() => Wake::Work,
            _ = poll.tick() => Wake::Work,
            Some(done) = sender.deliveries.join_next_with_id(), if !sender.deliveries.is_empty() => {
                Wake::Finished(done)
            }
            changed = shutdown.changed() => match changed {
                Ok(()) => Wake::Work,
                Err(_) => Wake::Stop,
            },
        };
        match wake {
            Wake::Work => {}
            Wake::Finished(done) => sender.finished(done),
            Wake::Stop => break,
        }
    }
    sender.stop().await;
}

impl Sender {
    /// Claims and starts as many due deliveries as there are free slots for.
    async fn dispatch(&mut self) {
        loop {
            let free = self.slots.free();
            if free == 0 {
                return;
            }
            let limit = free.min(CLAIM_BATCH);
            let busy = self.slots.busy_hosts();
            let rows = match self
                .state
                .db
                .claim_pushes(now_ms(), self.lease_ms, limit as i64, &busy)
                .await
            {
                Ok(rows) => rows,
                Err(error) => {
                    // The next wake-up tries again.
                    tracing::warn!(%error, "cannot claim queued pushes");
                    return;
                }
            };
            let claimed = rows.len();
            let mut released = Vec::new();
            for row in rows {
                match self.slots.take(&row.host) {
                    Some(permits) => self.start(row, permits),
                    // Its host filled up within this batch: back to the queue, untried.
                    None => released.push(row.id),
                }
            }
            if !released.is_empty() {
                if let Err(error) = self.state.db.release_pushes(&released).await {
                    tracing::warn!(%error, "cannot release claimed pushes; their lease will");
                }
            }
            // A short batch means nothing more is due for the hosts with free slots. Otherwise
            // claim again: either slots are left, or the hosts that filled up are now busy
            // and left out of the next claim, so this ends.
            if claimed < limit {
                return;
            }
        }
    }

    fn start(&mut self, row: OutboxRow, permits: Permits) {
        let id = row.id;
        let state = self.state.clone();
        let client = self.client.clone();
        let handle = self.deliveries.spawn(async move {
            crate::push_delivery::deliver(&state, &client, row).await;
            drop(permits);
        });
        self.in_flight.insert(handle.id(), id);
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, ()), JoinError>) {
        match done {
            Ok((task, ())) => {
                self.in_flight.remove(&task);
            }
            Err(error) => {
                // A panicked delivery's row stays claimed until its lease runs out.
                tracing::error!(%error, "a push delivery failed");
                self.in_flight.remove(&error.id());
            }
        }
    }

    /// Lets deliveries in flight finish for a grace period, cuts off the rest and releases
    /// their rows, so the next process sends them without waiting out the lease.
    async fn stop(mut self) {
        let grace = self.state.config.push_shutdown_grace;
        let _ = tokio::time::timeout(grace, async {
            while let Some(done) = self.deliveries.join_next_with_id().await {
                self.finished(done);
            }
        })
        .await;
        self.deliveries.abort_all();
        while let Some(done) = self.deliveries.join_next_with_id().await {
            if let Ok((task, ())) = done {
                self.in_flight.remove(&task);
            }
        }
        let cut_off: Vec<i64> = self.in_flight.values().copied().collect();
        if !cut_off.is_empty() {
            tracing::info!(
                count = cut_off.len(),
                "pushes cut off by shutdown are left for the next process"
            );
            if let Err(error) = self.state.db.release_pushes(&cut_off).await {
                tracing::warn!(%error, "cannot release cut-off pushes; their lease will");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_host_takes_no_global_slot() {
        let mut slots = Slots::new(3, 2);
        let a1 = slots.take("a:443").expect("first slot of a");
        let _a2 = slots.take("a:443").expect("second slot of a");
        assert!(slots.take("a:443").is_none(), "a is full");
        assert_eq!(slots.busy_hosts(), ["a:443"]);
        assert_eq!(slots.free(), 1, "a's refusal took no global slot");
        let _b = slots.take("b:443").expect("another host still runs");
        assert!(slots.take("c:443").is_none(), "every global slot taken");
        drop(a1);
        assert!(slots.busy_hosts().is_empty());
        assert!(slots.take("a:443").is_some());
    }
}
