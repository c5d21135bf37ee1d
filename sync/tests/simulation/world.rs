//! The simulated world: the event queue in virtual time, the server's chats (their messages,
//! change versions and who they belong to) and its answers, the shared store, the contexts
//! and the locks; and the loop that plays the events until the run settles.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use chat_sync::backoff::SplitMix64;
use chat_sync::engine::fetch::HistoryQuery;
use chat_sync::memory_store::MemoryStore;
use chat_sync::suite::message;
use chat_sync::{Message, Millis, RequestId, Seq, SeqRanges};

use crate::context::Context;
use crate::event::{Counts, Event};
use crate::{CHATS, CONTEXTS, POST_UNTIL, SERVER_PAGE, STEP_BOUND};

pub(crate) struct Sim {
    pub(crate) rng: SplitMix64,
    pub(crate) now: Millis,
    pub(crate) queue: BinaryHeap<Reverse<(Millis, u64)>>,
    pub(crate) events: HashMap<u64, Event>,
    pub(crate) next_event: u64,
    pub(crate) server: Vec<Vec<Message>>,
    pub(crate) store: MemoryStore,
    pub(crate) contexts: Vec<Context>,
    /// Which context holds each chat's lock.
    pub(crate) locks: HashMap<usize, usize>,
    /// Ranges on the wire, per chat, across all contexts.
    pub(crate) on_the_wire: HashMap<usize, SeqRanges>,
    pub(crate) stored_new: BTreeMap<(usize, Seq), u32>,
    /// Each chat's change version at the server.
    pub(crate) versions: Vec<u64>,
    /// Chats taken from the agent.
    pub(crate) reassigned: Vec<bool>,
    /// Bodies the server redacted, which must be nowhere in the store.
    pub(crate) redacted_bodies: Vec<String>,
    pub(crate) counts: Counts,
}

pub(crate) fn chat_id(chat: usize) -> RequestId {
    RequestId::from(format!("chat{chat}").as_str())
}

pub(crate) fn chat_index(id: &RequestId) -> usize {
    id.as_str()[4..]
        .parse()
        .expect("simulation chat ids are chatN")
}

impl Sim {
    pub(crate) fn new(seed: u64) -> Self {
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

    pub(crate) fn schedule(&mut self, at: Millis, event: Event) {
        let id = self.next_event;
        self.next_event += 1;
        self.queue.push(Reverse((at, id)));
        self.events.insert(id, event);
    }

    pub(crate) fn server_append(&mut self, chat: usize) -> Message {
        let seq = self.server[chat].len() as Seq + 1;
        let m = message(&format!("chat{chat}"), seq, &format!("server {chat}/{seq}"));
        self.server[chat].push(m.clone());
        m
    }

    /// The server's answer to "changes of `chat` since `since`": every message changed after
    /// it in its current state, ascending by version, one page.
    pub(crate) fn changes_page(
        &self,
        chat: usize,
        since: u64,
    ) -> chat_sync::change_wire::ChangesPage {
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

    /// The server's answer to one history request: at most a page of its messages.
    pub(crate) fn answer(&self, chat: usize, query: HistoryQuery) -> Vec<Message> {
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

    pub(crate) fn run(mut self, seed: u64) -> Counts {
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
}
