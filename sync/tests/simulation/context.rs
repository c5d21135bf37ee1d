//! The contexts (tabs and the service worker): each runs the shipped sync engine, and the
//! simulation performs its steps as the browser glue would: ingest into the shared store,
//! start and step runs, queue fetch commands on the chat's lock, put requests on the wire,
//! report how each fetch ended and release the lock.

use std::collections::HashMap;

use chat_sync::engine::fetch::{requests_for, FetchTally, HistoryRequest};
use chat_sync::engine::{ChatFacts, Engine, Goal, RunId, Step};
use chat_sync::ingest::{IngestContext, Source};
use chat_sync::planner::{ChatInput, Command, FetchCommand, FetchId, FetchOutcome, PlannerConfig};
use chat_sync::store::Store;
use chat_sync::{Message, Millis, Seq, SeqRange, SeqRanges};
use futures::executor::block_on;

use crate::event::Event;
use crate::world::{chat_id, chat_index, Sim};
use crate::CONTEXTS;

/// One context (a tab or the service worker): the shipped sync engine, and what the
/// simulation performs for it as the browser glue (`chat_sync_idb::driver`) would.
pub(crate) struct Context {
    pub(crate) engine: Engine,
    pub(crate) epoch: u32,
    /// Commands waiting for their chat's lock.
    pub(crate) waiting: Vec<FetchCommand>,
    /// The live runs and their chats.
    pub(crate) runs: HashMap<RunId, usize>,
    /// Which run performs each fetch out.
    pub(crate) fetch_runs: HashMap<FetchId, RunId>,
    /// Chats with a repair after a live event running (one at a time per chat, as the live
    /// channel runs them).
    pub(crate) repairing: HashMap<usize, RunId>,
}

impl Context {
    pub(crate) fn new(seed: u64) -> Self {
        Context {
            engine: Engine::new(PlannerConfig::default(), seed),
            epoch: 0,
            waiting: Vec::new(),
            runs: HashMap::new(),
            fetch_runs: HashMap::new(),
            repairing: HashMap::new(),
        }
    }
}

impl Sim {
    pub(crate) fn ingest_ctx(&self, source: Source) -> IngestContext {
        IngestContext {
            now: self.now,
            chat_open: false,
            own_user_id: None,
            source,
            backend_last: None,
        }
    }

    pub(crate) fn ingest_from(
        &mut self,
        chat: usize,
        messages: Vec<Message>,
        source: Source,
    ) -> chat_sync::ingest::IngestReport {
        let ctx = self.ingest_ctx(source);
        let report =
            block_on(self.store.ingest(&chat_id(chat), messages, &ctx)).expect("memory ingest");
        // A late event of a chat the cache let go of is refused, and only then.
        assert!(
            (report.rejected.is_empty() || self.reassigned[chat]) && report.anomalies.is_empty(),
            "{report:?}"
        );
        for seq in &report.new_seqs {
            *self.stored_new.entry((chat, *seq)).or_default() += 1;
        }
        report
    }

    pub(crate) fn revoke(&mut self, chat: usize) {
        let revocation =
            block_on(self.store.revoke_chat(&chat_id(chat), self.now)).expect("revoke");
        if revocation.held_anything {
            self.counts.revocations += 1;
        }
    }

    /// Asks for the changes of `chat` when the cache knows it misses some.
    pub(crate) fn changes_due(&mut self, ctx: usize, chat: usize) {
        let record = block_on(self.store.chat(&chat_id(chat))).expect("read");
        if record.is_some_and(|r| chat_sync::changes::changes_since(&r).is_some()) {
            let epoch = self.contexts[ctx].epoch;
            self.schedule(
                self.now,
                Event::ChangesFetch {
                    ctx,
                    epoch,
                    chat,
                    confirm: false,
                },
            );
        }
    }

    /// The chat as the engine is told of it, read the way the driver reads it.
    pub(crate) fn held(&self, chat: usize) -> (SeqRanges, Option<Seq>) {
        let record = block_on(self.store.chat(&chat_id(chat))).expect("memory read");
        let facts = ChatFacts::of(record.as_ref());
        (facts.held, facts.backend_last)
    }

    /// The goal of a run the reader's context starts for `chat`: one more page of older
    /// history while the reader scrolls up through it (until the start), an ordinary sync
    /// otherwise.
    pub(crate) fn reader_goal(&self, chat: usize) -> Goal {
        let (held, backend_last) = self.held(chat);
        if held.min().is_some_and(|m| m > 1)
            || (held.is_empty() && backend_last.is_some_and(|l| l > 0))
        {
            Goal::OlderWhileReading
        } else {
            Goal::Sync
        }
    }

    /// Starts a run of `goal` for `chat` in `ctx`, as the glue does for each reason to sync,
    /// and steps it.
    pub(crate) fn start_run(&mut self, ctx: usize, chat: usize, goal: Goal) -> RunId {
        let run = self.contexts[ctx].engine.start(&chat_id(chat), goal);
        self.contexts[ctx].runs.insert(run, chat);
        self.advance(ctx, run);
        run
    }

    /// Performs one step of a run, as the driver does: commands go to the chat's lock queue,
    /// a sleep becomes a wake-up event, and a finished run is forgotten.
    pub(crate) fn advance(&mut self, ctx: usize, run: RunId) {
        let Some(&chat) = self.contexts[ctx].runs.get(&run) else {
            return;
        };
        let (held, backend_last) = self.held(chat);
        let step = self.contexts[ctx].engine.step(
            run,
            ChatInput {
                held: &held,
                backend_last,
            },
            self.now,
        );
        match step {
            Step::Perform(commands) => {
                for command in commands {
                    match command {
                        Command::Fetch(fetch) => {
                            self.contexts[ctx].fetch_runs.insert(fetch.id, run);
                            self.contexts[ctx].waiting.push(fetch);
                        }
                        Command::FullReload { reason, .. } => {
                            panic!("full reload at {}: {reason}", self.now)
                        }
                    }
                }
                self.start_waiting(ctx);
            }
            Step::Await => {}
            Step::Sleep { until } | Step::Retry { until } => {
                assert!(until >= self.now, "a run sleeps into the future");
                let epoch = self.contexts[ctx].epoch;
                self.schedule(until, Event::Wake { ctx, epoch, run });
            }
            Step::Done => {
                let context = &mut self.contexts[ctx];
                context.runs.remove(&run);
                if context.repairing.get(&chat) == Some(&run) {
                    context.repairing.remove(&chat);
                }
            }
        }
    }

    /// Runs the commands of `ctx` whose chat lock is free; the others keep waiting.
    pub(crate) fn start_waiting(&mut self, ctx: usize) {
        let waiting = std::mem::take(&mut self.contexts[ctx].waiting);
        for fetch in waiting {
            let chat = chat_index(&fetch.request_id);
            match self.locks.get(&chat) {
                Some(holder) if *holder != ctx => {
                    self.counts.lock_waits += 1;
                    self.contexts[ctx].waiting.push(fetch);
                    continue;
                }
                Some(_) => {
                    // This context already has a fetch of the chat on the wire; the Web Lock
                    // is per chat, so the next one waits for it.
                    self.contexts[ctx].waiting.push(fetch);
                    continue;
                }
                None => {}
            }
            // Holding the lock, the glue asks the engine what is still to be requested.
            let (held, _) = self.held(chat);
            let requests = requests_for(&fetch, &held);
            if requests.is_empty() {
                self.counts.already_held += 1;
                self.report(ctx, &fetch, FetchOutcome::AlreadyHeld);
                continue;
            }
            self.locks.insert(chat, ctx);
            self.send(ctx, fetch, requests, 0, FetchTally::default());
        }
    }

    /// Puts request `index` of a fetch command on the wire; the context holds the chat's lock.
    pub(crate) fn send(
        &mut self,
        ctx: usize,
        fetch: FetchCommand,
        requests: Vec<HistoryRequest>,
        index: usize,
        tally: FetchTally,
    ) {
        let chat = chat_index(&fetch.request_id);
        let range = requests[index].range;
        let (held, _) = self.held(chat);
        // Everything requested is missing now and on nobody else's wire.
        let wire = self.on_the_wire.entry(chat).or_default();
        assert!(
            !wire.intersects(range),
            "seed run: {range} requested twice at once"
        );
        assert!(!held.intersects(range), "{range} requested but held");
        wire.insert_range(range);
        self.counts.fetches += 1;
        let ok = !self.rng.chance(1, 8);
        let latency = 20 + self.rng.below(400) as Millis;
        let epoch = self.contexts[ctx].epoch;
        self.schedule(
            self.now + latency,
            Event::Reply {
                ctx,
                epoch,
                fetch,
                requests,
                index,
                tally,
                ok,
            },
        );
    }

    /// Tells the engine how a fetch ended (after its merge) and wakes the run that made it.
    pub(crate) fn report(&mut self, ctx: usize, fetch: &FetchCommand, outcome: FetchOutcome) {
        let (held, backend_last) = self.held(chat_index(&fetch.request_id));
        self.contexts[ctx].engine.handle_fetch_result(
            fetch.id,
            outcome,
            ChatInput {
                held: &held,
                backend_last,
            },
            self.now,
        );
        if let Some(run) = self.contexts[ctx].fetch_runs.remove(&fetch.id) {
            let epoch = self.contexts[ctx].epoch;
            self.schedule(self.now, Event::Wake { ctx, epoch, run });
        }
    }

    pub(crate) fn release(&mut self, ctx: usize, chat: usize, sent: SeqRange) {
        if self.locks.get(&chat) == Some(&ctx) {
            self.locks.remove(&chat);
        }
        if let Some(wire) = self.on_the_wire.get_mut(&chat) {
            wire.remove_range(sent);
        }
        // Every context waiting for this lock gets a chance now.
        for other in 0..CONTEXTS {
            self.start_waiting(other);
        }
    }
}
