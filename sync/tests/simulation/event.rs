//! What happens in the simulated world (the events, in virtual time) and the tallies of what
//! happened over a run.

use chat_sync::engine::fetch::{FetchTally, HistoryRequest};
use chat_sync::engine::RunId;
use chat_sync::planner::FetchCommand;
use chat_sync::Message;

#[derive(Debug)]
pub(crate) enum Event {
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
pub(crate) struct Counts {
    pub(crate) posted: u64,
    pub(crate) live_delivered: u64,
    pub(crate) live_dropped: u64,
    pub(crate) live_duplicated: u64,
    pub(crate) fetches: u64,
    pub(crate) seqs_fetched: u64,
    pub(crate) already_held: u64,
    pub(crate) network_failures: u64,
    pub(crate) crashes: u64,
    pub(crate) lock_waits: u64,
    pub(crate) steps: u64,
    pub(crate) changes: u64,
    pub(crate) changes_fetches: u64,
    pub(crate) changes_fetched: u64,
    pub(crate) revocations: u64,
}
