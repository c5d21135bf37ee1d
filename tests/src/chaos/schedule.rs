//! Seeded fault schedules: a pure function from a seed to a list of actions, so the seed of a
//! failing run names the exact same sequence of requester posts, push fates, worker stops,
//! network cuts, tab changes, server faults and agent sends when it is run again.
//!
//! Generation follows a small model of the world (tabs open, network cut, server faults on)
//! so every action is meaningful where it stands: a tab is reloaded only if one is open, the
//! network is restored only after a cut.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What becomes of the pushes of one requester post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushFate {
    /// Delivered to the service worker at once.
    Deliver,
    /// Never delivered (a lost push: only catch-up can bring the message).
    Drop,
    /// Delivered twice.
    Duplicate,
    /// Held back and delivered later, in reverse order (a reordered push).
    Defer,
    /// Delivered as a hint (`{"kind":"hint"}`: request id and seq only), so the worker must
    /// fetch the message itself.
    Hint,
}

/// One step of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The requester of chat `chat` (an index into the suite's chats) posts `count` messages.
    Post {
        /// Which chat.
        chat: usize,
        /// How many messages.
        count: usize,
        /// What becomes of their pushes.
        fate: PushFate,
    },
    /// Every deferred push is delivered, newest first.
    DeliverDeferred,
    /// A malformed push (an index into the suite's list of bad payloads) is delivered.
    MalformedPush(usize),
    /// Every service worker is stopped (the next event starts it cold).
    StopWorker,
    /// The network of every tab and of the running worker is cut.
    CutNetwork,
    /// The network is restored everywhere.
    RestoreNetwork,
    /// A new tab opens the app, on chat `Some(i)` or on the chat list.
    OpenTab(Option<usize>),
    /// Tab `i` (an index into the open tabs) reloads.
    ReloadTab(usize),
    /// Tab `i` closes.
    CloseTab(usize),
    /// Tab `tab` opens chat `chat`.
    OpenChat {
        /// Which tab.
        tab: usize,
        /// Which chat.
        chat: usize,
    },
    /// Every chat and media request is delayed by this many milliseconds.
    ServerSlow(u64),
    /// Chat and media requests fail with 503 at this rate (percent).
    ServerFailing(u8),
    /// Server faults off.
    ServerHealthy,
    /// The server process is killed and started again on the same database.
    RestartServer,
    /// The agent types and sends a message in tab `tab`, on chat `chat` (offline when the
    /// network is cut: the outbox must keep it).
    AgentSends {
        /// Which tab.
        tab: usize,
        /// Which chat.
        chat: usize,
    },
    /// Nothing happens for this many milliseconds (time for retries, backoff, live
    /// delivery).
    Pause(u64),
    /// The requester of chat `chat` edits (or deletes, `redact`) their latest message there
    /// that still stands, and the change's push meets `fate` (a hint is a `changes` push).
    Change {
        /// Which chat.
        chat: usize,
        /// Delete instead of edit.
        redact: bool,
        /// What becomes of the change's push.
        fate: PushFate,
    },
    /// The agent hands chat `chat` to another agent; no later action touches it, and the
    /// cache must let go of it.
    Reassign {
        /// Which chat.
        chat: usize,
    },
}

/// The most tabs a schedule keeps open at once.
pub const MAX_TABS: usize = 3;

/// Tabs open when a schedule starts: the agent's desk, on the chat list.
pub const FIRST_TABS: usize = 1;

/// A schedule of `steps` actions over `chats` chats and `malformed` bad push payloads, the
/// same for the same arguments. It starts with [`FIRST_TABS`] tabs open.
pub fn schedule(seed: u64, steps: usize, chats: usize, malformed: usize) -> Vec<Action> {
    assert!(
        chats > 0 && malformed > 0,
        "a schedule needs chats and payloads"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World {
        tabs: FIRST_TABS,
        ..World::default()
    };
    let mut actions = Vec::with_capacity(steps);
    while actions.len() < steps {
        let action = pick(&mut rng, &world, chats, malformed);
        world.apply(&action);
        actions.push(action);
    }
    actions
}

/// What generation needs to know of the state the actions so far leave behind.
#[derive(Default)]
struct World {
    tabs: usize,
    network_cut: bool,
    faults_on: bool,
    deferred: usize,
    reassigned: Option<usize>,
}

impl World {
    fn apply(&mut self, action: &Action) {
        match action {
            Action::Post { count, fate, .. } if *fate == PushFate::Defer => {
                self.deferred += count;
            }
            Action::Change { fate, .. } if *fate == PushFate::Defer => self.deferred += 1,
            Action::Reassign { chat } => self.reassigned = Some(*chat),
            Action::DeliverDeferred => self.deferred = 0,
            Action::CutNetwork => self.network_cut = true,
            Action::RestoreNetwork => self.network_cut = false,
            Action::OpenTab(_) => self.tabs += 1,
            Action::CloseTab(_) => self.tabs -= 1,
            Action::ServerSlow(_) | Action::ServerFailing(_) => self.faults_on = true,
            // A restarted server starts with its faults off.
            Action::ServerHealthy | Action::RestartServer => self.faults_on = false,
            _ => {}
        }
    }
}

/// One action that makes sense in `world`, drawn with weights that keep requesters posting
/// most of the time and everything else happening often enough to interleave.
fn pick(rng: &mut StdRng, world: &World, chats: usize, malformed: usize) -> Action {
    loop {
        let roll = rng.gen_range(0..100u32);
        let chat = rng.gen_range(0..chats);
        if world.reassigned == Some(chat) {
            // The chat is another agent's now: nothing of this agent's touches it.
            continue;
        }
        let action = match roll {
            0..=25 => Action::Post {
                chat,
                count: rng.gen_range(1..=4),
                fate: match rng.gen_range(0..10u32) {
                    0..=3 => PushFate::Deliver,
                    4..=5 => PushFate::Drop,
                    6 => PushFate::Duplicate,
                    7..=8 => PushFate::Defer,
                    _ => PushFate::Hint,
                },
            },
            26..=29 => Action::Change {
                chat,
                redact: rng.gen_bool(0.4),
                fate: match rng.gen_range(0..10u32) {
                    0..=4 => PushFate::Deliver,
                    5..=6 => PushFate::Drop,
                    7 => PushFate::Duplicate,
                    8 => PushFate::Defer,
                    _ => PushFate::Hint,
                },
            },
            30..=33 if world.deferred > 0 => Action::DeliverDeferred,
            34 if world.reassigned.is_none() => Action::Reassign { chat: chats - 1 },
            35 => Action::MalformedPush(rng.gen_range(0..malformed)),
            36..=39 => Action::StopWorker,
            40..=43 if !world.network_cut => Action::CutNetwork,
            44..=49 if world.network_cut => Action::RestoreNetwork,
            50..=54 if world.tabs < MAX_TABS => Action::OpenTab(rng.gen_bool(0.7).then_some(chat)),
            55..=57 if world.tabs > 0 => Action::ReloadTab(rng.gen_range(0..world.tabs)),
            58..=59 if world.tabs > 0 => Action::CloseTab(rng.gen_range(0..world.tabs)),
            60..=64 if world.tabs > 0 => Action::OpenChat {
                tab: rng.gen_range(0..world.tabs),
                chat,
            },
            65..=67 => Action::ServerSlow(rng.gen_range(50..=800)),
            68..=70 => Action::ServerFailing(rng.gen_range(20..=70)),
            71..=75 if world.faults_on => Action::ServerHealthy,
            76..=77 => Action::RestartServer,
            78..=89 if world.tabs > 0 => Action::AgentSends {
                tab: rng.gen_range(0..world.tabs),
                chat,
            },
            90..=99 => Action::Pause(rng.gen_range(50..=1_500)),
            _ => continue,
        };
        return action;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_schedule() {
        assert_eq!(schedule(7, 60, 4, 5), schedule(7, 60, 4, 5));
        assert_ne!(schedule(7, 60, 4, 5), schedule(8, 60, 4, 5));
    }

    #[test]
    fn every_action_is_possible_where_it_stands() {
        for seed in 0..200 {
            let mut world = World {
                tabs: FIRST_TABS,
                ..World::default()
            };
            for action in schedule(seed, 80, 4, 5) {
                match &action {
                    Action::ReloadTab(i) | Action::CloseTab(i) => assert!(*i < world.tabs),
                    Action::OpenChat { tab, chat } | Action::AgentSends { tab, chat } => {
                        assert!(*tab < world.tabs && *chat < 4);
                    }
                    Action::OpenTab(_) => assert!(world.tabs < MAX_TABS),
                    Action::RestoreNetwork => assert!(world.network_cut),
                    Action::CutNetwork => assert!(!world.network_cut),
                    Action::DeliverDeferred => assert!(world.deferred > 0),
                    Action::MalformedPush(i) => assert!(*i < 5),
                    Action::Reassign { chat } => assert!(world.reassigned.is_none() && *chat == 3),
                    _ => {}
                }
                let touches = match &action {
                    Action::Post { chat, .. }
                    | Action::Change { chat, .. }
                    | Action::OpenChat { chat, .. }
                    | Action::AgentSends { chat, .. }
                    | Action::OpenTab(Some(chat)) => Some(*chat),
                    _ => None,
                };
                assert!(
                    touches.is_none() || touches != world.reassigned,
                    "seed {seed}: {action:?} after the chat was reassigned"
                );
                world.apply(&action);
            }
        }
    }

    #[test]
    fn schedules_mix_every_kind_of_fault() {
        let actions: Vec<Action> = (0..20).flat_map(|seed| schedule(seed, 60, 4, 5)).collect();
        let has = |f: &dyn Fn(&Action) -> bool| actions.iter().any(f);
        assert!(has(&|a| matches!(
            a,
            Action::Post {
                fate: PushFate::Drop,
                ..
            }
        )));
        assert!(has(&|a| matches!(
            a,
            Action::Post {
                fate: PushFate::Duplicate,
                ..
            }
        )));
        assert!(has(&|a| matches!(
            a,
            Action::Post {
                fate: PushFate::Hint,
                ..
            }
        )));
        assert!(has(&|a| matches!(a, Action::DeliverDeferred)));
        assert!(has(&|a| matches!(a, Action::RestartServer)));
        assert!(has(&|a| matches!(a, Action::CutNetwork)));
        assert!(has(&|a| matches!(a, Action::AgentSends { .. })));
        assert!(has(&|a| matches!(a, Action::CloseTab(_))));
        assert!(has(&|a| matches!(a, Action::Change { redact: true, .. })));
        assert!(has(&|a| matches!(a, Action::Change { redact: false, .. })));
        assert!(has(&|a| matches!(a, Action::Reassign { .. })));
    }
}
