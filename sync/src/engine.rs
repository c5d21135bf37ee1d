//! The sync engine: the round loop of one context, sans-IO.
//!
//! The [`Planner`] says which fetches are due for a chat at an instant. The engine owns what
//! happens around it: a *run* is one reason to sync a chat (a push proved a gap, the reader
//! scrolled to the top, a manual resync, coming back online), and the engine decides, step
//! by step, what that run does next: perform commands, wait for its fetches, sleep until a
//! grace period or backoff ends, wait out a backoff a bounded number of times, or stop. The
//! browser glue (`chat_sync_idb::driver`) and the native simulation drive the same engine:
//!
//! ```text
//! let run = engine.start(&chat, goal, now);
//! loop {
//!     let input = read the chat record;
//!     match engine.step(run, input, now) {
//!         Step::Perform(commands) => perform each; report with engine.handle_fetch_result,
//!         Step::Await => wait for this run's fetches to be reported,
//!         Step::Sleep { until } => sleep until then,
//!         Step::Retry { until } => sleep until then, or cancel if no longer wanted,
//!         Step::Done => break,
//!     }
//! }
//! ```
//!
//! It takes the time as an input and does no I/O, so every rule here is tested natively
//! (`engine/tests.rs`) and by the simulation (`sync/tests/simulation/`), which drives this engine
//! in virtual time against a flaky network and several contexts.

mod facts;
pub mod fetch;

pub use facts::{plan_hint, ChatFacts, ChatStatus, HintAction};

use crate::ingest::Source;
use crate::planner::{ChatInput, Command, FetchId, FetchOutcome, Planner, PlannerConfig};
use crate::types::{Millis, RequestId, Seq};
use crate::vec_map::VecMap;
use facts::needs_repair;

/// The most planner rounds one run performs before it stops (a guard against a backend that
/// keeps answering without making progress; the planner's backoff paces the rounds).
pub const MAX_ROUNDS: u32 = 1_000;

/// How long a run waits for another run of this context that is fetching the same chat,
/// before it looks again.
pub const IN_FLIGHT_POLL_MS: Millis = 10;

/// How many times a run whose goal is still unmet waits out a backoff and tries again.
pub const RETRIES: u32 = 5;

/// The longest such a run waits for one backoff to end.
pub const RETRY_MAX_WAIT_MS: Millis = 30_000;

/// The shortest wait between two retries of a [`Goal::OlderWhileReading`] run once its
/// [`RETRIES`] are spent.
pub const PATIENT_RETRY_MIN_MS: Millis = 1_000;

/// The longest a run sleeps for a grace period or backoff before it stops and leaves the
/// rest to the next run.
pub const MAX_WAIT_MS: Millis = 5_000;

/// Why a chat is synced: each goal says what it asks the planner for and when the run has
/// done enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Fill what is known to be missing, within the grace period and backoff.
    Sync,
    /// A manual resync: at once, skipping the grace period and any backoff, undoing a refusal.
    Resync,
    /// A push proved missing messages exist: no grace period, the backoff of earlier failures
    /// kept, and a backoff longer than one round is waited out a bounded number of times (the
    /// push that came back online repairs the chat).
    ProvenGap,
    /// Back online with the chat open: the page after the newest cached message at once,
    /// without waiting for the chat list.
    Newer,
    /// A push hint named this message of a chat the cache never held: exactly that message.
    Exact(Seq),
    /// The reader scrolled to the oldest cached message and waits there: one more page of
    /// older history, asked again after failures for as long as the run lives (a long network
    /// cut spends [`RETRIES`]; after them, at most once per [`PATIENT_RETRY_MIN_MS`]). Each
    /// retry is a [`Step::Retry`], at which a caller whose reader left cancels the run.
    OlderWhileReading,
}

impl Goal {
    /// The run that follows a message ingested from `source` (a push or the live channel).
    ///
    /// No gap revealed: an ordinary sync, since a gap already known may be due. A gap
    /// revealed proves the missing messages exist, so the grace period is skipped:
    /// - after a push, the backoff of earlier failures is kept ([`Goal::ProvenGap`]): the
    ///   service worker is woken once per push, and a burst of pushes to a chat whose fetches
    ///   fail (the server down) must not send one request per push;
    /// - after a live event, the backoff is skipped too ([`Goal::Resync`]): the live channel
    ///   just delivered, so the network works now and a backoff from earlier failures is
    ///   stale, and the glue runs one repair per chat at a time, so a burst of events costs
    ///   one request.
    pub fn after_ingest(source: Source, reveals_gap: bool) -> Goal {
        match (reveals_gap, source) {
            (false, _) => Goal::Sync,
            (true, Source::Live) => Goal::Resync,
            (true, _) => Goal::ProvenGap,
        }
    }
}

/// What the glue does next for a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Perform these commands (concurrently), reporting each fetch's end with
    /// [`Engine::handle_fetch_result`], then step again.
    Perform(Vec<Command>),
    /// Fetches of this run are still out: step again when they are reported.
    Await,
    /// Nothing is due before `until`: sleep until then and step again.
    Sleep {
        /// When to step again.
        until: Millis,
    },
    /// The goal is still unmet after a round (its fetch failed): sleep until `until` and
    /// step again to retry, or cancel the run if its caller no longer wants it.
    Retry {
        /// When to step again.
        until: Millis,
    },
    /// The run is over; its handle is no longer valid.
    Done,
}

/// Identifies a run of an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(u64);

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Polling the planner until nothing is due now.
    Rounds,
    /// The rounds ended: retry after the backoff while the goal is unmet, or stop.
    Settled,
}

#[derive(Clone, Debug)]
struct Run {
    request_id: RequestId,
    goal: Goal,
    phase: Phase,
    rounds: u32,
    retries: u32,
    /// The fetches of this run still on the network: a handful at most (the planner caps
    /// them per chat), so a list; every map or set type costs its own code in the wasm.
    outstanding: Vec<FetchId>,
}

/// The sync engine of one context (a tab or the service worker): the planner and the runs.
#[derive(Clone, Debug)]
pub struct Engine {
    planner: Planner,
    runs: VecMap<RunId, Run>,
    next_run: u64,
}

impl Engine {
    /// An engine whose planner has `config`; `seed` drives the retry jitter.
    pub fn new(config: PlannerConfig, seed: u64) -> Self {
        Self {
            planner: Planner::new(config, seed),
            runs: VecMap::new(),
            next_run: 1,
        }
    }

    /// The planner, for its read-only questions (stats, sync state, wakeups).
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// The planner, to feed it facts outside a run (the viewport, a corrupt chat).
    pub fn planner_mut(&mut self) -> &mut Planner {
        &mut self.planner
    }

    /// How many runs are live (started and not done or cancelled).
    pub fn live_runs(&self) -> usize {
        self.runs.len()
    }

    /// Starts a run of `goal` for the chat: the goal's request goes to the planner now.
    pub fn start(&mut self, request_id: &RequestId, goal: Goal) -> RunId {
        match goal {
            Goal::Sync => {}
            Goal::Resync => self.planner.request_resync(request_id),
            Goal::ProvenGap => self.planner.note_gap_proven(request_id),
            Goal::Newer => self.planner.request_newer(request_id),
            Goal::Exact(seq) => self.planner.request_exact(request_id, seq),
            Goal::OlderWhileReading => self.planner.request_older(request_id),
        }
        let id = RunId(self.next_run);
        self.next_run += 1;
        self.runs.insert(
            id,
            Run {
                request_id: request_id.clone(),
                goal,
                phase: Phase::Rounds,
                rounds: 0,
                retries: 0,
                outstanding: Vec::new(),
            },
        );
        id
    }

    /// Ends a run early (its caller went away). Its fetches still report their results.
    pub fn cancel(&mut self, run: RunId) {
        self.runs.remove(&run);
    }

    /// The next thing the run does, given the chat as it is now (`input`, read just before).
    pub fn step(&mut self, run_id: RunId, input: ChatInput<'_>, now: Millis) -> Step {
        let Some(run) = self.runs.get_mut(&run_id) else {
            return Step::Done;
        };
        if !run.outstanding.is_empty() {
            return Step::Await;
        }
        let request_id = run.request_id.clone();
        if run.phase == Phase::Rounds {
            if run.rounds < MAX_ROUNDS {
                run.rounds += 1;
                let commands = self.planner.poll(&request_id, input, now);
                if !commands.is_empty() {
                    run.outstanding
                        .extend(commands.iter().filter_map(|c| match c {
                            Command::Fetch(fetch) => Some(fetch.id),
                            Command::FullReload { .. } => None,
                        }));
                    return Step::Perform(commands);
                }
                if self.planner.is_fetching(&request_id) {
                    // Another run of this context is fetching this chat: wait for it rather
                    // than stop with a status that is about to change.
                    return Step::Sleep {
                        until: now + IN_FLIGHT_POLL_MS,
                    };
                }
                let missing = needs_repair(input);
                match self.planner.next_wakeup() {
                    Some(at) if missing && at > now && at - now <= MAX_WAIT_MS => {
                        return Step::Sleep { until: at };
                    }
                    _ => {}
                }
            }
            run.phase = Phase::Settled;
        }
        let patient = run.goal == Goal::OlderWhileReading;
        if (patient || run.retries < RETRIES) && goal_unmet(&self.planner, run, input) {
            let wakeup = self.planner.next_wakeup();
            if wakeup.is_some() || patient {
                let wait = wakeup.map_or(0, |at| (at - now).clamp(0, RETRY_MAX_WAIT_MS));
                let wait = if run.retries >= RETRIES {
                    wait.max(PATIENT_RETRY_MIN_MS)
                } else {
                    wait
                };
                run.retries = run.retries.saturating_add(1);
                run.rounds = 0;
                run.phase = Phase::Rounds;
                return Step::Retry { until: now + wait };
            }
        }
        self.runs.remove(&run_id);
        Step::Done
    }

    /// Records how a fetch ended, after the glue merged any reply; `input` is the chat as it
    /// is after the merge.
    pub fn handle_fetch_result(
        &mut self,
        id: FetchId,
        outcome: FetchOutcome,
        input: ChatInput<'_>,
        now: Millis,
    ) {
        for run in self.runs.values_mut() {
            run.outstanding.retain(|outstanding| *outstanding != id);
        }
        self.planner.handle_fetch_result(id, outcome, input, now);
    }

    /// The chat's status for the UI; `fetching` says whether a request of this context is on
    /// the network for it.
    pub fn status(
        &self,
        request_id: &RequestId,
        input: ChatInput<'_>,
        fetching: bool,
    ) -> ChatStatus {
        let gaps = input.held.gaps(input.backend_last.unwrap_or(0));
        ChatStatus {
            sync_state: self.planner.sync_state(request_id),
            fetching,
            missing: gaps.repair_order(),
            older: gaps.leading,
            progress: self.planner.progress(request_id),
        }
    }
}

/// Whether the run's goal still wants fetching after its rounds ended (only the goals that
/// wait out backoffs have one).
fn goal_unmet(planner: &Planner, run: &Run, input: ChatInput<'_>) -> bool {
    let request_id = &run.request_id;
    match run.goal {
        Goal::ProvenGap => {
            let missing = input
                .held
                .gaps(input.backend_last.unwrap_or(0))
                .repair_count()
                > 0;
            missing && !planner.is_refused(request_id)
        }
        Goal::OlderWhileReading => planner.wants_older(request_id),
        Goal::Sync | Goal::Resync | Goal::Newer | Goal::Exact(_) => false,
    }
}

#[cfg(test)]
mod tests;
