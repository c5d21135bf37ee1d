//! A deterministic simulation in virtual time: a server whose requesters keep posting, a live
//! channel that drops, duplicates and reorders, a flaky network, and several contexts (tabs
//! and a service worker) that share one store and coordinate fetches through per-chat locks,
//! as Web Locks do in the browser. Contexts crash mid-fetch now and then; their locks are
//! released, as the browser releases a dead context's locks.
//!
//! Messages are edited and redacted at the server as the run goes (issue 16): each change is
//! delivered live (dropped, duplicated and reordered like messages), and a context that sees
//! a hole in a chat's change versions, or a chat list naming a newer version, fetches the
//! changes since its cached version. In some seeds one chat is reassigned to another agent
//! mid-run: the contexts hear it live (or not), their fetches of it are refused with 403, the
//! chat list stops naming it, and the cache must let go of it.
//!
//! Every seed runs to quiescence within a step bound and must end with every chat still the
//! agent's in the store equal to the server's current state of every message (edits applied,
//! redactions erased, the change cursor at the server's version), no redacted body anywhere in
//! the store, a reassigned chat gone from it, each message stored once, every fetched
//! sequence missing when it was requested, no range requested by two contexts at once, and no
//! full reload. A failing seed is printed and reproduces the run exactly.
#![cfg(not(target_arch = "wasm32"))]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use chat_sync::backoff::SplitMix64;
use chat_sync::engine::fetch::{requests_for, Failure, FetchTally, HistoryQuery, HistoryRequest};
use chat_sync::engine::{ChatFacts, Engine, Goal, RunId, Step};
use chat_sync::ingest::{ChangeFacts, IngestContext, Source};
use chat_sync::memory_store::MemoryStore;
use chat_sync::planner::{ChatInput, Command, FetchCommand, FetchId, FetchOutcome, PlannerConfig};
use chat_sync::store::Store;
use chat_sync::suite::message;
use chat_sync::{ChatSummary, Message, Millis, Person, RequestId, Seq, SeqRange, SeqRanges};
use futures::executor::block_on;

const CHATS: usize = 4;
const CONTEXTS: usize = 3;
const POST_UNTIL: Millis = 20_000;
const STEP_BOUND: usize = 200_000;
const SERVER_PAGE: u64 = 40;

#[derive(Debug)]
enum Event {
    Post {
        chat: usize,
    },
    Live {
        ctx: usize,
        epoch: u32,
        message: Message,
    },
    /// The answer to one request of a fetch command (`requests[index]`); the command's
    /// next request goes out when it is merged, as the driver sends them in turn.
    Reply {
        ctx: usize,
        epoch: u32,
        fetch: FetchCommand,
        requests: Vec<HistoryRequest>,
        index: usize,
        tally: FetchTally,
        ok: bool,
    },
    /// A run's sleep ends.
    Wake {
        ctx: usize,
        epoch: u32,
        run: RunId,
    },
    Tick {
        ctx: usize,
        epoch: u32,
    },
    Crash {
        ctx: usize,
    },
    ChatList {
        ctx: usize,
        epoch: u32,
    },
    /// An edit or a redaction at the server.
    Change {
        chat: usize,
    },
    LiveChange {
        ctx: usize,
        epoch: u32,
        message: Message,
    },
    /// A context asks for a chat's changes since its cached version (`confirm`: whatever the
    /// cache expects, to learn whether the chat is still the agent's).
    ChangesFetch {
        ctx: usize,
        epoch: u32,
        chat: usize,
        confirm: bool,
    },
    ChangesReply {
        ctx: usize,
        epoch: u32,
        chat: usize,
        since: u64,
        ok: bool,
    },
    /// The chat is reassigned to another agent.
    Reassign {
        chat: usize,
    },
    LiveRevoked {
        ctx: usize,
        epoch: u32,
        chat: usize,
    },
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    posted: u64,
    live_delivered: u64,
    live_dropped: u64,
    live_duplicated: u64,
    fetches: u64,
    seqs_fetched: u64,
    already_held: u64,
    network_failures: u64,
    crashes: u64,
    lock_waits: u64,
    steps: u64,
    changes: u64,
    changes_fetches: u64,
    changes_fetched: u64,
    revocations: u64,
}

/// One context (a tab or the service worker): the shipped sync engine, and what the
/// simulation performs for it as the browser glue (`chat_sync_idb::driver`) would.
struct Context {
    engine: Engine,
    epoch: u32,
    /// Commands waiting for their chat's lock.
    waiting: Vec<FetchCommand>,
    /// The live runs and their chats.
    runs: HashMap<RunId, usize>,
    /// Which run performs each fetch out.
    fetch_runs: HashMap<FetchId, RunId>,
    /// Chats with a repair after a live event running (one at a time per chat, as the live
    /// channel runs them).
    repairing: HashMap<usize, RunId>,
}

impl Context {
    fn new(seed: u64) -> Self {
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

struct Sim {
    rng: SplitMix64,
    now: Millis,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    events: HashMap<u64, Event>,
    next_event: u64,
    server: Vec<Vec<Message>>,
    store: MemoryStore,
    contexts: Vec<Context>,
    /// Which context holds each chat's lock.
    locks: HashMap<usize, usize>,
    /// Ranges on the wire, per chat, across all contexts.
    on_the_wire: HashMap<usize, SeqRanges>,
    stored_new: BTreeMap<(usize, Seq), u32>,
    /// Each chat's change version at the server.
    versions: Vec<u64>,
    /// Chats taken from the agent.
    reassigned: Vec<bool>,
    /// Bodies the server redacted, which must be nowhere in the store.
    redacted_bodies: Vec<String>,
    counts: Counts,
}

fn chat_id(chat: usize) -> RequestId {
    RequestId::from(format!("chat{chat}").as_str())
}

fn chat_index(id: &RequestId) -> usize {
    id.as_str()[4..]
        .parse()
        .expect("simulation chat ids are chatN")
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut sim = Sim {
            rng: SplitMix64::new(seed),
            now: 0,
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            next_event: 0,
            server: vec![Vec::new(); CHATS],
            store: MemoryStore::new(),
            contexts: (0..CONTEXTS)
                .map(|i| Context::new(seed ^ (i as u64 + 1)))
                .collect(),
            locks: HashMap::new(),
            on_the_wire: HashMap::new(),
            stored_new: BTreeMap::new(),
            versions: vec![0; CHATS],
            reassigned: vec![false; CHATS],
            redacted_bodies: Vec::new(),
            counts: Counts::default(),
        };
        // Some history exists before any context starts: the cache begins empty and partial.
        for chat in 0..CHATS {
            let history = sim.rng.below(120);
            for _ in 0..history {
                sim.server_append(chat);
            }
        }
        for chat in 0..CHATS {
            let at = sim.rng.below(1_000) as Millis;
            sim.schedule(at, Event::Post { chat });
        }
        for ctx in 0..CONTEXTS {
            sim.schedule(0, Event::ChatList { ctx, epoch: 0 });
            sim.schedule(10, Event::Tick { ctx, epoch: 0 });
        }
        let crash_at = 3_000 + sim.rng.below(10_000) as Millis;
        sim.schedule(crash_at, Event::Crash { ctx: 1 });
        for chat in 0..CHATS {
            let at = 500 + sim.rng.below(3_000) as Millis;
            sim.schedule(at, Event::Change { chat });
        }
        if sim.rng.chance(1, 3) {
            let at = 2_000 + sim.rng.below(15_000) as Millis;
            sim.schedule(at, Event::Reassign { chat: CHATS - 1 });
        }
        sim
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        let id = self.next_event;
        self.next_event += 1;
        self.queue.push(Reverse((at, id)));
        self.events.insert(id, event);
    }

    fn server_append(&mut self, chat: usize) -> Message {
        let seq = self.server[chat].len() as Seq + 1;
        let m = message(&format!("chat{chat}"), seq, &format!("server {chat}/{seq}"));
        self.server[chat].push(m.clone());
        m
    }

    fn ingest_ctx(&self, source: Source) -> IngestContext {
        IngestContext {
            now: self.now,
            chat_open: false,
            own_user_id: None,
            source,
            backend_last: None,
        }
    }

    fn ingest_from(
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

    /// The server's answer to "changes of `chat` since `since`": every message changed after
    /// it in its current state, ascending by version, one page.
    fn changes_page(&self, chat: usize, since: u64) -> chat_sync::change_wire::ChangesPage {
        let mut changed: Vec<Message> = self.server[chat]
            .iter()
            .filter(|m| m.version > since)
            .cloned()
            .collect();
        changed.sort_by_key(|m| m.version);
        let more = changed.len() as u64 > SERVER_PAGE;
        changed.truncate(SERVER_PAGE as usize);
        chat_sync::change_wire::ChangesPage {
            request_id: chat_id(chat),
            changes: changed,
            version: self.versions[chat],
            more,
            closed: false,
        }
    }

    fn revoke(&mut self, chat: usize) {
        let revocation =
            block_on(self.store.revoke_chat(&chat_id(chat), self.now)).expect("revoke");
        if revocation.held_anything {
            self.counts.revocations += 1;
        }
    }

    /// Asks for the changes of `chat` when the cache knows it misses some.
    fn changes_due(&mut self, ctx: usize, chat: usize) {
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
    fn held(&self, chat: usize) -> (SeqRanges, Option<Seq>) {
        let record = block_on(self.store.chat(&chat_id(chat))).expect("memory read");
        let facts = ChatFacts::of(record.as_ref());
        (facts.held, facts.backend_last)
    }

    /// The goal of a run the reader's context starts for `chat`: one more page of older
    /// history while the reader scrolls up through it (until the start), an ordinary sync
    /// otherwise.
    fn reader_goal(&self, chat: usize) -> Goal {
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
    fn start_run(&mut self, ctx: usize, chat: usize, goal: Goal) -> RunId {
        let run = self.contexts[ctx].engine.start(&chat_id(chat), goal);
        self.contexts[ctx].runs.insert(run, chat);
        self.advance(ctx, run);
        run
    }

    /// Performs one step of a run, as the driver does: commands go to the chat's lock queue,
    /// a sleep becomes a wake-up event, and a finished run is forgotten.
    fn advance(&mut self, ctx: usize, run: RunId) {
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
    fn start_waiting(&mut self, ctx: usize) {
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
    fn send(
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

    /// The server's answer to one history request: at most a page of its messages.
    fn answer(&self, chat: usize, query: HistoryQuery) -> Vec<Message> {
        let messages = &self.server[chat];
        match query {
            HistoryQuery::Range { from, to } => messages
                .iter()
                .filter(|m| (from..=to).contains(&m.seq))
                .take(SERVER_PAGE as usize)
                .cloned()
                .collect(),
            HistoryQuery::Before { before, limit } => {
                let below: Vec<&Message> = messages.iter().filter(|m| m.seq < before).collect();
                let take = limit.min(SERVER_PAGE) as usize;
                below[below.len().saturating_sub(take)..]
                    .iter()
                    .map(|m| (*m).clone())
                    .collect()
            }
        }
    }

    /// Tells the engine how a fetch ended (after its merge) and wakes the run that made it.
    fn report(&mut self, ctx: usize, fetch: &FetchCommand, outcome: FetchOutcome) {
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

    fn release(&mut self, ctx: usize, chat: usize, sent: SeqRange) {
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

    fn handle(&mut self, event: Event) {
        match event {
            Event::Post { chat } => {
                let m = self.server_append(chat);
                self.counts.posted += 1;
                for ctx in 0..CONTEXTS {
                    if self.reassigned[chat] {
                        break;
                    }
                    if self.rng.chance(1, 6) {
                        self.counts.live_dropped += 1;
                        continue;
                    }
                    let epoch = self.contexts[ctx].epoch;
                    let delay = self.rng.below(600) as Millis;
                    self.schedule(
                        self.now + delay,
                        Event::Live {
                            ctx,
                            epoch,
                            message: m.clone(),
                        },
                    );
                    if self.rng.chance(1, 10) {
                        self.counts.live_duplicated += 1;
                        self.schedule(
                            self.now + delay + 50,
                            Event::Live {
                                ctx,
                                epoch,
                                message: m.clone(),
                            },
                        );
                    }
                }
                let next = self.now + 100 + self.rng.below(1_500) as Millis;
                if next < POST_UNTIL {
                    self.schedule(next, Event::Post { chat });
                }
            }
            Event::Live {
                ctx,
                epoch,
                message,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                self.counts.live_delivered += 1;
                let chat = chat_index(&message.request_id);
                let report = self.ingest_from(chat, vec![message], Source::Live);
                if report.reveals_gap && report.rejected.is_empty() {
                    // The live channel's repair, one per chat at a time.
                    if !self.contexts[ctx].repairing.contains_key(&chat) {
                        let goal = Goal::after_ingest(Source::Live, true);
                        let run = self.start_run(ctx, chat, goal);
                        if self.contexts[ctx].runs.contains_key(&run) {
                            self.contexts[ctx].repairing.insert(chat, run);
                        }
                    }
                } else {
                    // The open view syncs what it shows after each notice.
                    let goal = self.reader_goal(chat);
                    self.start_run(ctx, chat, goal);
                }
            }
            Event::Reply {
                ctx,
                epoch,
                fetch,
                requests,
                index,
                mut tally,
                ok,
            } => {
                let chat = chat_index(&fetch.request_id);
                if epoch != self.contexts[ctx].epoch {
                    // The context died mid-fetch: its lock was released when it crashed.
                    return;
                }
                let request = requests[index];
                let failure = if self.reassigned[chat] {
                    // The chat is another agent's now.
                    Some(Failure::Refused(403))
                } else if !ok {
                    self.counts.network_failures += 1;
                    Some(Failure::Transient)
                } else {
                    None
                };
                if let Some(failure) = failure {
                    if failure.revokes_chat() {
                        self.revoke(chat);
                    }
                    self.report(ctx, &fetch, failure.outcome());
                    self.release(ctx, chat, request.range);
                    return;
                }
                let last = self.server[chat].len() as Seq;
                let page = self.answer(chat, request.query);
                assert!(page.iter().all(|m| request.accept.contains(m.seq)));
                self.counts.seqs_fetched += page.len() as u64;
                tally.add(page.iter().map(|m| m.seq), last, SERVER_PAGE);
                self.ingest_from(chat, page, Source::Fetch);
                block_on(self.store.note_backend_last_seq(&chat_id(chat), last)).expect("note");
                if let Some(wire) = self.on_the_wire.get_mut(&chat) {
                    wire.remove_range(request.range);
                }
                if index + 1 < requests.len() {
                    // The command's next request, still under the chat's lock.
                    self.send(ctx, fetch, requests, index + 1, tally);
                    return;
                }
                self.report(ctx, &fetch, tally.outcome());
                self.release(ctx, chat, request.range);
            }
            Event::Wake { ctx, epoch, run } => {
                if epoch == self.contexts[ctx].epoch {
                    self.advance(ctx, run);
                }
            }
            Event::Tick { ctx, epoch } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                // The timer of a context: a chat with no run going gets one (the runs
                // themselves sleep out grace periods and backoffs).
                for chat in 0..CHATS {
                    if !self.contexts[ctx].runs.values().any(|c| *c == chat) {
                        let goal = self.reader_goal(chat);
                        self.start_run(ctx, chat, goal);
                    }
                }
                let next = self.contexts[ctx]
                    .engine
                    .planner()
                    .next_wakeup()
                    .unwrap_or(self.now + 1_000);
                self.schedule(
                    next.max(self.now + 50).min(self.now + 1_000),
                    Event::Tick { ctx, epoch },
                );
            }
            Event::Crash { ctx } => {
                self.counts.crashes += 1;
                let epoch = self.contexts[ctx].epoch + 1;
                self.contexts[ctx] = Context {
                    epoch,
                    ..Context::new(self.rng.next_u64())
                };
                let held_locks: Vec<usize> = self
                    .locks
                    .iter()
                    .filter(|(_, h)| **h == ctx)
                    .map(|(c, _)| *c)
                    .collect();
                for chat in held_locks {
                    // The browser releases a dead context's locks; its request may still be
                    // answered, but nobody will merge the answer.
                    self.locks.remove(&chat);
                    self.on_the_wire.remove(&chat);
                }
                let epoch = self.contexts[ctx].epoch;
                // The context comes back (a tab reloaded, the worker woken by a push).
                self.schedule(self.now + 500, Event::ChatList { ctx, epoch });
                self.schedule(self.now + 510, Event::Tick { ctx, epoch });
                for other in 0..CONTEXTS {
                    self.start_waiting(other);
                }
            }
            Event::ChatList { ctx, epoch } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let summaries: Vec<ChatSummary> = (0..CHATS)
                    .filter(|chat| !self.reassigned[*chat])
                    .map(|chat| ChatSummary {
                        request_id: chat_id(chat),
                        title: format!("chat {chat}"),
                        requester: Person {
                            id: "r".into(),
                            name: "R".into(),
                        },
                        last_seq: self.server[chat].len() as Seq,
                        last_message: None,
                        updated_at: self.now,
                        change_version: self.versions[chat],
                        closed: false,
                    })
                    .collect();
                block_on(self.store.apply_summaries(&summaries, self.now)).expect("summaries");
                for chat in 0..CHATS {
                    if self.reassigned[chat] {
                        // Not in the list: the runtime asks the server, which answers 403.
                        let cached = block_on(self.store.chat(&chat_id(chat)))
                            .expect("read")
                            .is_some();
                        if cached {
                            self.schedule(
                                self.now,
                                Event::ChangesFetch {
                                    ctx,
                                    epoch,
                                    chat,
                                    confirm: true,
                                },
                            );
                        }
                    } else {
                        self.changes_due(ctx, chat);
                    }
                }
                // The live channel reconnects and catches up by the chat list every few
                // seconds, as the runtime does after any disconnect.
                if self.now < POST_UNTIL + 10_000 {
                    self.schedule(self.now + 2_500, Event::ChatList { ctx, epoch });
                }
            }
            Event::Change { chat } => {
                let live: Vec<usize> = (0..self.server[chat].len())
                    .filter(|i| !self.server[chat][*i].deleted)
                    .collect();
                if !live.is_empty() && !self.reassigned[chat] {
                    let at = live[self.rng.below(live.len() as u64) as usize];
                    self.versions[chat] += 1;
                    let version = self.versions[chat];
                    let redact = self.rng.chance(1, 3);
                    let message = &mut self.server[chat][at];
                    if redact {
                        self.redacted_bodies.push(message.body.clone());
                        message.body.clear();
                        message.attachments.clear();
                        message.deleted = true;
                    } else {
                        message.body = format!("edit {version} of {chat}/{}", message.seq);
                        message.edited_at = Some(self.now);
                    }
                    message.version = version;
                    let changed = message.clone();
                    self.counts.changes += 1;
                    for ctx in 0..CONTEXTS {
                        if self.rng.chance(1, 6) {
                            continue;
                        }
                        let epoch = self.contexts[ctx].epoch;
                        let delay = self.rng.below(600) as Millis;
                        self.schedule(
                            self.now + delay,
                            Event::LiveChange {
                                ctx,
                                epoch,
                                message: changed.clone(),
                            },
                        );
                    }
                }
                let next = self.now + 200 + self.rng.below(2_000) as Millis;
                if next < POST_UNTIL {
                    self.schedule(next, Event::Change { chat });
                }
            }
            Event::LiveChange {
                ctx,
                epoch,
                message,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let chat = chat_index(&message.request_id);
                let facts = ChangeFacts {
                    through: None,
                    backend_version: message.version,
                    closed: None,
                };
                let report = self.ingest_from(chat, vec![message], Source::Change(facts));
                if report.changes_due.is_some() {
                    self.changes_due(ctx, chat);
                }
                let goal = self.reader_goal(chat);
                self.start_run(ctx, chat, goal);
            }
            Event::ChangesFetch {
                ctx,
                epoch,
                chat,
                confirm,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                let Some(record) = block_on(self.store.chat(&chat_id(chat))).expect("read") else {
                    return;
                };
                let since = match chat_sync::changes::changes_since(&record) {
                    Some(since) => since,
                    None if confirm => record.change_version,
                    None => return,
                };
                self.counts.changes_fetches += 1;
                let ok = !self.rng.chance(1, 8);
                let latency = 20 + self.rng.below(400) as Millis;
                self.schedule(
                    self.now + latency,
                    Event::ChangesReply {
                        ctx,
                        epoch,
                        chat,
                        since,
                        ok,
                    },
                );
            }
            Event::ChangesReply {
                ctx,
                epoch,
                chat,
                since,
                ok,
            } => {
                if epoch != self.contexts[ctx].epoch {
                    return;
                }
                if self.reassigned[chat] {
                    self.revoke(chat);
                    return;
                }
                if !ok {
                    self.counts.network_failures += 1;
                    let epoch = self.contexts[ctx].epoch;
                    self.schedule(
                        self.now + 500,
                        Event::ChangesFetch {
                            ctx,
                            epoch,
                            chat,
                            confirm: false,
                        },
                    );
                    return;
                }
                let page = self.changes_page(chat, since);
                self.counts.changes_fetched += page.changes.len() as u64;
                let facts = ChangeFacts {
                    through: Some(page.applied_through()),
                    backend_version: page.version,
                    closed: Some(page.closed),
                };
                let more = page.more;
                self.ingest_from(chat, page.changes, Source::Change(facts));
                if more {
                    self.changes_due(ctx, chat);
                }
                let goal = self.reader_goal(chat);
                self.start_run(ctx, chat, goal);
            }
            Event::Reassign { chat } => {
                self.reassigned[chat] = true;
                self.versions[chat] += 1;
                for ctx in 0..CONTEXTS {
                    if self.rng.chance(1, 3) {
                        continue;
                    }
                    let epoch = self.contexts[ctx].epoch;
                    let delay = self.rng.below(600) as Millis;
                    self.schedule(self.now + delay, Event::LiveRevoked { ctx, epoch, chat });
                }
            }
            Event::LiveRevoked { ctx, epoch, chat } => {
                if epoch == self.contexts[ctx].epoch {
                    self.revoke(chat);
                }
            }
        }
    }

    fn run(mut self, seed: u64) -> Counts {
        while let Some(Reverse((at, id))) = self.queue.pop() {
            self.counts.steps += 1;
            assert!(
                (self.counts.steps as usize) < STEP_BOUND,
                "seed {seed}: no quiescence within {STEP_BOUND} steps"
            );
            self.now = at;
            let event = self.events.remove(&id).expect("scheduled event");
            self.handle(event);
            if self.now > POST_UNTIL + 12_000 && self.converged() {
                break;
            }
        }
        self.check(seed);
        self.counts
    }

    fn converged(&self) -> bool {
        (0..CHATS).all(|chat| {
            let record = block_on(self.store.chat(&chat_id(chat))).expect("read");
            if self.reassigned[chat] {
                return record.is_none();
            }
            let (held, _) = self.held(chat);
            let last = self.server[chat].len() as Seq;
            let versions = record.is_none_or(|r| r.change_version == self.versions[chat]);
            last == 0 || (held.ranges() == [SeqRange::new(1, last)] && versions)
        })
    }

    /// Every cached message of `chat` within the server's seqs, read in bounded reads.
    fn cached(&self, chat: usize) -> Vec<Message> {
        let last = self.server[chat].len() as Seq;
        let mut cached = Vec::new();
        let mut from = 1;
        while from <= last {
            let to = (from + 999).min(last);
            cached.extend(
                block_on(self.store.range(&chat_id(chat), SeqRange::new(from, to)))
                    .expect("read")
                    .messages,
            );
            from = to + 1;
        }
        cached
    }

    fn check(&self, seed: u64) {
        for chat in 0..CHATS {
            if self.reassigned[chat] {
                assert!(
                    block_on(self.store.chat(&chat_id(chat)))
                        .expect("read")
                        .is_none(),
                    "seed {seed}: reassigned chat {chat} is still cached"
                );
                assert!(
                    block_on(self.store.range(&chat_id(chat), SeqRange::new(1, 1_000)))
                        .expect("read")
                        .messages
                        .is_empty(),
                    "seed {seed}: messages of reassigned chat {chat} are still cached"
                );
                continue;
            }
            if let Some(record) = block_on(self.store.chat(&chat_id(chat))).expect("read") {
                assert_eq!(
                    record.change_version, self.versions[chat],
                    "seed {seed}: chat {chat} did not apply every change"
                );
                assert!(record
                    .pending_changes
                    .iter()
                    .all(|m| m.body.is_empty() || !m.deleted));
            }
            let cached = self.cached(chat);
            assert_eq!(
                cached, self.server[chat],
                "seed {seed}: chat {chat} differs from the server"
            );
        }
        for chat in 0..CHATS {
            for message in self.cached(chat) {
                assert!(
                    !self
                        .redacted_bodies
                        .iter()
                        .any(|b| !b.is_empty() && message.body == *b),
                    "seed {seed}: a redacted body is still in the store"
                );
            }
        }
        for ((chat, seq), times) in &self.stored_new {
            if self.reassigned[*chat] {
                continue;
            }
            assert_eq!(
                *times, 1,
                "seed {seed}: chat {chat} seq {seq} stored {times} times"
            );
        }
        let total: usize = (0..CHATS)
            .filter(|chat| !self.reassigned[*chat])
            .map(|chat| self.server[chat].len())
            .sum();
        assert_eq!(
            self.stored_new
                .keys()
                .filter(|(chat, _)| !self.reassigned[*chat])
                .count(),
            total,
            "seed {seed}: every message stored exactly once"
        );
        for ctx in &self.contexts {
            assert_eq!(
                ctx.engine.planner().stats().full_reloads,
                0,
                "seed {seed}: a full reload happened"
            );
        }
    }
}

#[test]
fn thousands_of_seeds_converge_without_loss_duplicates_or_double_fetches() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let first: u64 = std::env::var("SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut total = Counts::default();
    for seed in first..first + seeds {
        let c = Sim::new(seed).run(seed);
        total.posted += c.posted;
        total.live_delivered += c.live_delivered;
        total.live_dropped += c.live_dropped;
        total.live_duplicated += c.live_duplicated;
        total.fetches += c.fetches;
        total.seqs_fetched += c.seqs_fetched;
        total.already_held += c.already_held;
        total.network_failures += c.network_failures;
        total.crashes += c.crashes;
        total.lock_waits += c.lock_waits;
        total.steps += c.steps;
        total.changes += c.changes;
        total.changes_fetches += c.changes_fetches;
        total.changes_fetched += c.changes_fetched;
        total.revocations += c.revocations;
    }
    println!("simulation: {seeds} seeds from {first}: {total:#?}");
    assert!(
        total.fetches > 0
            && total.live_dropped > 0
            && total.network_failures > 0
            && total.crashes > 0
            && total.changes > 0
            && total.changes_fetches > 0
            && total.revocations > 0,
        "the run exercised every fault and change: {total:#?}"
    );
}
