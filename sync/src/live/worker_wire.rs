//! What a tab's page and its live worker say to each other, as `postMessage` text.
//!
//! The live channel (the event stream, its leadership and its catch-ups) runs in a dedicated
//! worker the page starts, so its code and its work stay out of the page. The page says
//! once which agent's cache to follow ([`ToLiveWorker::Start`]), and which chats it shows
//! as they open and close ([`ToLiveWorker::ChatOpen`]: the worker's ingest then adds no
//! unread to a chat the agent is looking at, as the page's own did); the worker answers with
//! every [`LiveStatus`] of its channel, or says why it cannot run one
//! ([`FromLiveWorker::Failed`]). The worker also runs the page's catch-ups: the start's
//! (unless its own stream opened at once and caught up) and one each time the page hears
//! that the network is back ([`ToLiveWorker::BackOnline`]); it tells the page how each
//! ended ([`FromLiveWorker::CaughtUp`]), which is what the page's offline banner and its
//! return to sign-in go by. And it sends the outbox whenever the page asks
//! ([`ToLiveWorker::SendOutbox`]: a message queued or retried, the page's start, the network
//! back), again when a backoff ends, and says when the server refused the session while
//! sending ([`FromLiveWorker::OutboxSignedOut`]). It runs the sync of the chats the page
//! shows: their repairs ([`ToLiveWorker::Sync`]), older history while the reader waits for it
//! ([`ToLiveWorker::Older`]), with the gaps on screen first ([`ToLiveWorker::Viewport`]), and
//! reports how each stands ([`FromLiveWorker::Chat`]: the progress in the gaps, a retry to
//! offer, a failure). And it edits and deletes the agent's messages
//! ([`ToLiveWorker::Edit`], [`ToLiveWorker::Redact`]), answering each by its ticket
//! ([`FromLiveWorker::Answer`]). So no write of the cache but the outbox's queue and the read
//! marks is made in the page. Everything else travels as it did before the moves: the worker
//! ingests into the shared IndexedDB cache and announces each commit on the agent's
//! `BroadcastChannel`, which the page hears like any other context's (and, for the chats the
//! page shows, hands the page what a write adds before its commit, as an object beside these
//! texts: `chat_sync_idb::live_worker`).
//!
//! The messages are short texts (`start/4/<agent>`, `open/<chat>`, `closed/<chat>`,
//! `online`, `send`, `send/wake`, `clear-others`, `sync/<chat>`, `resync/<chat>`, `older/<chat>`,
//! `viewport/<from>-<to>/<chat>`, `edit/<ticket>/<seq>/<n>/<chat><body>`,
//! `redact/<ticket>/<seq>/<chat>`, `status/connected`, `status/reconnecting/3`,
//! `caught-up/done`, `caught-up/unreachable/<reason>`, `outbox/signed-out`,
//! `chat/<fetching>/<done>/<total>/<incomplete>/<chat>`, `chat-failed/<n>/<chat><reason>`,
//! `answer/<ticket>/ok`, `answer/<ticket>/failed/<sentence>`, `failed/<reason>`; a chat id
//! followed by free text is counted: `<n>` is its length in bytes), decoded strictly: an unknown or malformed
//! text is an error naming it, never a guess. The page's build and the worker's are served
//! as separate files, so for a moment after a release a page may talk to the previous
//! worker: the start message carries [`LIVE_WORKER_PROTOCOL`], and a worker that does not
//! speak it refuses to start instead of misreading the page.

use core::fmt;

use super::LiveStatus;
use crate::ingest::Written;
use crate::ranges::{Seq, SeqRange};
use crate::types::RequestId;

/// The version of this exchange. Bump it with any change of the texts below.
pub const LIVE_WORKER_PROTOCOL: u32 = 4;

/// What the page tells its live worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToLiveWorker {
    /// Follow this agent's cache: compete for the live channel of their database.
    Start {
        /// The exchange's version the page speaks ([`LIVE_WORKER_PROTOCOL`]).
        protocol: u32,
        /// The signed-in agent whose cache the channel writes to.
        user_id: String,
    },
    /// A chat is now shown in a visible view of the page (`open`), or no longer is.
    ChatOpen {
        /// The chat.
        request_id: RequestId,
        /// Whether it is shown.
        open: bool,
    },
    /// The page heard that the network is back (`online`): catch up. (The page's own
    /// driver asks at once for what arrived in the chats it shows.)
    BackOnline,
    /// Send the outbox now (or right after the send already running); `wake`: queued
    /// entries skip what is left of their backoff first (the page's start, the network back).
    SendOutbox {
        /// Whether backoffs end first.
        wake: bool,
    },
    /// The server confirmed the agent (`clear-others`): clear what other agents left in this
    /// browser (their caches are removed unless they hold unsent work).
    ClearOtherAgents,
    /// Fill what is missing in a chat the page shows (`sync/<chat>`); `manual`: the agent
    /// asked, so the grace period and the backoff are skipped (`resync/<chat>`). Answered
    /// with the chat's [`FromLiveWorker::Chat`] report.
    Sync {
        /// The chat.
        request_id: RequestId,
        /// Whether the agent asked (a retry).
        manual: bool,
    },
    /// The reader reached the oldest cached message of a chat the page shows: fetch older
    /// history, asking again after failures for as long as the chat stays open
    /// (`older/<chat>`). Answered with the chat's reports.
    Older {
        /// The chat.
        request_id: RequestId,
    },
    /// The page shows `visible` of the chat: gaps there are fetched first
    /// (`viewport/<from>-<to>/<chat>`, `viewport/none/<chat>`).
    Viewport {
        /// The chat.
        request_id: RequestId,
        /// The seqs on screen, if any.
        visible: Option<SeqRange>,
    },
    /// Edit the agent's message `seq` to `body` (`edit/<ticket>/<seq>/<n>/<chat><body>`,
    /// `n` the chat id's length in bytes). Answered by [`FromLiveWorker::Answer`] with the
    /// same ticket.
    Edit {
        /// The page's number for the answer.
        ticket: u32,
        /// The chat.
        request_id: RequestId,
        /// The message.
        seq: Seq,
        /// The new text.
        body: String,
    },
    /// Delete the agent's message `seq` for everyone (`redact/<ticket>/<seq>/<chat>`).
    /// Answered by [`FromLiveWorker::Answer`].
    Redact {
        /// The page's number for the answer.
        ticket: u32,
        /// The chat.
        request_id: RequestId,
        /// The message.
        seq: Seq,
    },
}

/// What the live worker tells its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromLiveWorker {
    /// The channel's status changed (the first is [`LiveStatus::Follower`]).
    Status(LiveStatus),
    /// A catch-up the worker ran for the page (the start's, or one after
    /// [`ToLiveWorker::BackOnline`]) ended so.
    CaughtUp(CatchUpOutcome),
    /// The server answered a send with 401: the outbox keeps every entry, and the page leads
    /// back to sign-in.
    OutboxSignedOut,
    /// How the sync of a chat the page shows stands: after each run the page asked for, and
    /// whenever a fetch of it starts or ends (`chat/<fetching>/<done>/<total>/<incomplete>/<chat>`,
    /// `chat-failed/<n>/<chat><reason>`).
    Chat {
        /// The chat.
        request_id: RequestId,
        /// Its state.
        report: ChatReport,
    },
    /// A write of the worker to a chat the page shows only adds: what it adds, handed to the
    /// page's views before the commit, as the writing context's own views would be
    /// (`written/<JSON>`, see [`Written`]).
    Written(Box<Written>),
    /// The commit of a write handed over failed: nothing of it is stored
    /// (`unwritten/<chat>`).
    Unwritten(RequestId),
    /// The answer to the page's [`ToLiveWorker::Edit`] or [`ToLiveWorker::Redact`] with
    /// this ticket (`answer/<ticket>/ok`, `answer/<ticket>/failed/<sentence>`): `Err` holds
    /// a sentence for the agent.
    Answer {
        /// The ticket of the ask.
        ticket: u32,
        /// Done, or why not.
        outcome: Result<(), String>,
    },
    /// The worker runs no channel and no catch-up, for this reason (the page asks the
    /// service worker to catch up instead; pushes and other tabs still fill the cache).
    Failed(String),
}

/// How a catch-up run for the page ended, as far as the page acts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatchUpOutcome {
    /// The chat list was applied (the server is reachable).
    Done,
    /// The server refused the agent's session: the page leads back to sign-in, keeping the
    /// cache.
    SignedOut,
    /// The server could not be reached or failed, for this reason: the page shows that it
    /// is offline, and the cache stays as it was.
    Unreachable(String),
}

/// The sync of a chat as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatReport {
    /// Where the sync stands.
    Status {
        /// Whether a history request of the worker is on the network for the chat.
        fetching: bool,
        /// Messages of a large repair fetched so far.
        done: u64,
        /// Messages the repair is fetching in all (0: none runs).
        total: u64,
        /// Messages are still missing and nothing fetches them (the engine backs off): the
        /// view offers a retry.
        incomplete: bool,
    },
    /// The run the page asked for failed, for this reason.
    Failed(String),
}

/// A message that is not one of this exchange's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// The text received, cut to a length fit for a log.
    pub text: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a live worker message: {:?}", self.text)
    }
}

impl std::error::Error for WireError {}

fn refused(text: &str) -> WireError {
    WireError {
        text: text.chars().take(80).collect(),
    }
}

/// A chat id: the rest of `text`, not empty.
fn chat(text: &str, id: &str) -> Result<RequestId, WireError> {
    if id.is_empty() {
        return Err(refused(text));
    }
    Ok(RequestId::new(id))
}

/// A decimal number of `text`, digits only (no sign, no space).
fn number<T: core::str::FromStr>(text: &str, digits: &str) -> Result<T, WireError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused(text));
    }
    digits.parse().map_err(|_| refused(text))
}

/// `<n>/<chat><rest>`: a chat id of `n` bytes followed by free text (which may hold any
/// character, slashes included).
fn counted<'a>(text: &str, counted: &'a str) -> Result<(RequestId, &'a str), WireError> {
    let (n, rest) = counted.split_once('/').ok_or_else(|| refused(text))?;
    let n: usize = number(text, n)?;
    let id = rest.get(..n).ok_or_else(|| refused(text))?;
    Ok((chat(text, id)?, &rest[n..]))
}

impl ToLiveWorker {
    /// The start message for `user_id`, in this build's protocol.
    pub fn start(user_id: &str) -> Self {
        Self::Start {
            protocol: LIVE_WORKER_PROTOCOL,
            user_id: user_id.to_owned(),
        }
    }

    /// The message as text.
    pub fn encode(&self) -> String {
        match self {
            Self::Start { protocol, user_id } => format!("start/{protocol}/{user_id}"),
            Self::ChatOpen {
                request_id,
                open: true,
            } => format!("open/{}", request_id.as_str()),
            Self::ChatOpen {
                request_id,
                open: false,
            } => format!("closed/{}", request_id.as_str()),
            Self::BackOnline => "online".to_owned(),
            Self::SendOutbox { wake: false } => "send".to_owned(),
            Self::SendOutbox { wake: true } => "send/wake".to_owned(),
            Self::ClearOtherAgents => "clear-others".to_owned(),
            Self::Sync {
                request_id,
                manual: false,
            } => format!("sync/{}", request_id.as_str()),
            Self::Sync {
                request_id,
                manual: true,
            } => format!("resync/{}", request_id.as_str()),
            Self::Older { request_id } => format!("older/{}", request_id.as_str()),
            Self::Viewport {
                request_id,
                visible: Some(range),
            } => format!(
                "viewport/{}-{}/{}",
                range.start,
                range.end,
                request_id.as_str()
            ),
            Self::Viewport {
                request_id,
                visible: None,
            } => format!("viewport/none/{}", request_id.as_str()),
            Self::Edit {
                ticket,
                request_id,
                seq,
                body,
            } => format!(
                "edit/{ticket}/{seq}/{}/{}{body}",
                request_id.as_str().len(),
                request_id.as_str()
            ),
            Self::Redact {
                ticket,
                request_id,
                seq,
            } => format!("redact/{ticket}/{seq}/{}", request_id.as_str()),
        }
    }

    /// The message `text` holds. The agent's or the chat's id is the rest of the text,
    /// whatever it holds (an agent's is only ever used as a database name and a header
    /// value, a chat's as a key); it may not be empty.
    pub fn decode(text: &str) -> Result<Self, WireError> {
        match text {
            "online" => return Ok(Self::BackOnline),
            "send" => return Ok(Self::SendOutbox { wake: false }),
            "send/wake" => return Ok(Self::SendOutbox { wake: true }),
            "clear-others" => return Ok(Self::ClearOtherAgents),
            _ => {}
        }
        for (prefix, open) in [("open/", true), ("closed/", false)] {
            if let Some(id) = text.strip_prefix(prefix) {
                return Ok(Self::ChatOpen {
                    request_id: chat(text, id)?,
                    open,
                });
            }
        }
        for (prefix, manual) in [("sync/", false), ("resync/", true)] {
            if let Some(id) = text.strip_prefix(prefix) {
                return Ok(Self::Sync {
                    request_id: chat(text, id)?,
                    manual,
                });
            }
        }
        if let Some(id) = text.strip_prefix("older/") {
            return Ok(Self::Older {
                request_id: chat(text, id)?,
            });
        }
        if let Some(rest) = text.strip_prefix("viewport/") {
            let (range, id) = rest.split_once('/').ok_or_else(|| refused(text))?;
            let visible = match range {
                "none" => None,
                range => {
                    let (from, to) = range.split_once('-').ok_or_else(|| refused(text))?;
                    let (from, to) = (number(text, from)?, number(text, to)?);
                    if from > to {
                        return Err(refused(text));
                    }
                    Some(SeqRange::new(from, to))
                }
            };
            return Ok(Self::Viewport {
                request_id: chat(text, id)?,
                visible,
            });
        }
        if let Some(rest) = text.strip_prefix("edit/") {
            let (ticket, rest) = rest.split_once('/').ok_or_else(|| refused(text))?;
            let (seq, rest) = rest.split_once('/').ok_or_else(|| refused(text))?;
            let (request_id, body) = counted(text, rest)?;
            return Ok(Self::Edit {
                ticket: number(text, ticket)?,
                request_id,
                seq: number(text, seq)?,
                body: body.to_owned(),
            });
        }
        if let Some(rest) = text.strip_prefix("redact/") {
            let (ticket, rest) = rest.split_once('/').ok_or_else(|| refused(text))?;
            let (seq, id) = rest.split_once('/').ok_or_else(|| refused(text))?;
            return Ok(Self::Redact {
                ticket: number(text, ticket)?,
                request_id: chat(text, id)?,
                seq: number(text, seq)?,
            });
        }
        let rest = text.strip_prefix("start/").ok_or_else(|| refused(text))?;
        let (protocol, user_id) = rest.split_once('/').ok_or_else(|| refused(text))?;
        let protocol = protocol.parse().map_err(|_| refused(text))?;
        if user_id.is_empty() {
            return Err(refused(text));
        }
        Ok(Self::Start {
            protocol,
            user_id: user_id.to_owned(),
        })
    }
}

impl FromLiveWorker {
    /// The message as text.
    pub fn encode(&self) -> String {
        match self {
            Self::Status(LiveStatus::Follower) => "status/follower".to_owned(),
            Self::Status(LiveStatus::Connecting) => "status/connecting".to_owned(),
            Self::Status(LiveStatus::Connected) => "status/connected".to_owned(),
            Self::Status(LiveStatus::Reconnecting { attempt }) => {
                format!("status/reconnecting/{attempt}")
            }
            Self::Status(LiveStatus::SignedOut) => "status/signed-out".to_owned(),
            Self::CaughtUp(CatchUpOutcome::Done) => "caught-up/done".to_owned(),
            Self::CaughtUp(CatchUpOutcome::SignedOut) => "caught-up/signed-out".to_owned(),
            Self::CaughtUp(CatchUpOutcome::Unreachable(reason)) => {
                format!("caught-up/unreachable/{reason}")
            }
            Self::OutboxSignedOut => "outbox/signed-out".to_owned(),
            Self::Failed(reason) => format!("failed/{reason}"),
            Self::Chat {
                request_id,
                report:
                    ChatReport::Status {
                        fetching,
                        done,
                        total,
                        incomplete,
                    },
            } => format!(
                "chat/{}/{done}/{total}/{}/{}",
                u8::from(*fetching),
                u8::from(*incomplete),
                request_id.as_str()
            ),
            Self::Chat {
                request_id,
                report: ChatReport::Failed(reason),
            } => format!(
                "chat-failed/{}/{}{reason}",
                request_id.as_str().len(),
                request_id.as_str()
            ),
            Self::Written(written) => Self::written_text(written),
            Self::Unwritten(request_id) => format!("unwritten/{}", request_id.as_str()),
            Self::Answer {
                ticket,
                outcome: Ok(()),
            } => format!("answer/{ticket}/ok"),
            Self::Answer {
                ticket,
                outcome: Err(sentence),
            } => format!("answer/{ticket}/failed/{sentence}"),
        }
    }

    /// The text of [`FromLiveWorker::Written`] for `written`, without taking (or copying) it:
    /// the worker tells the page of a write it hands over as it happens.
    pub fn written_text(written: &Written) -> String {
        // A written value holds only text, numbers and lists of them: it always writes.
        format!(
            "written/{}",
            crate::json::to_string(written).unwrap_or_default()
        )
    }

    /// The message `text` holds.
    pub fn decode(text: &str) -> Result<Self, WireError> {
        if let Some(reason) = text.strip_prefix("failed/") {
            return Ok(Self::Failed(reason.to_owned()));
        }
        if text == "outbox/signed-out" {
            return Ok(Self::OutboxSignedOut);
        }
        if let Some(rest) = text.strip_prefix("chat/") {
            let mut fields = rest.splitn(5, '/');
            let mut next = || fields.next().ok_or_else(|| refused(text));
            let flag = |field: &str| match field {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(refused(text)),
            };
            let fetching = flag(next()?)?;
            let done = number(text, next()?)?;
            let total = number(text, next()?)?;
            let incomplete = flag(next()?)?;
            return Ok(Self::Chat {
                request_id: chat(text, next()?)?,
                report: ChatReport::Status {
                    fetching,
                    done,
                    total,
                    incomplete,
                },
            });
        }
        if let Some(rest) = text.strip_prefix("chat-failed/") {
            let (request_id, reason) = counted(text, rest)?;
            return Ok(Self::Chat {
                request_id,
                report: ChatReport::Failed(reason.to_owned()),
            });
        }
        if let Some(json) = text.strip_prefix("written/") {
            let written = crate::json::from_str(json).map_err(|_| refused(text))?;
            return Ok(Self::Written(Box::new(written)));
        }
        if let Some(id) = text.strip_prefix("unwritten/") {
            return Ok(Self::Unwritten(chat(text, id)?));
        }
        if let Some(rest) = text.strip_prefix("answer/") {
            let (ticket, outcome) = rest.split_once('/').ok_or_else(|| refused(text))?;
            let outcome = match outcome {
                "ok" => Ok(()),
                other => Err(other
                    .strip_prefix("failed/")
                    .ok_or_else(|| refused(text))?
                    .to_owned()),
            };
            return Ok(Self::Answer {
                ticket: number(text, ticket)?,
                outcome,
            });
        }
        if let Some(outcome) = text.strip_prefix("caught-up/") {
            let outcome = match outcome {
                "done" => CatchUpOutcome::Done,
                "signed-out" => CatchUpOutcome::SignedOut,
                other => CatchUpOutcome::Unreachable(
                    other
                        .strip_prefix("unreachable/")
                        .ok_or_else(|| refused(text))?
                        .to_owned(),
                ),
            };
            return Ok(Self::CaughtUp(outcome));
        }
        let status = match text.strip_prefix("status/").ok_or_else(|| refused(text))? {
            "follower" => LiveStatus::Follower,
            "connecting" => LiveStatus::Connecting,
            "connected" => LiveStatus::Connected,
            "signed-out" => LiveStatus::SignedOut,
            other => {
                let attempt = other
                    .strip_prefix("reconnecting/")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| refused(text))?;
                LiveStatus::Reconnecting { attempt }
            }
        };
        Ok(Self::Status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write's additions as a view is handed them: a record and two new messages, one of
    /// them the echo of an outbox entry.
    fn written() -> Written {
        use crate::types::{ChatRecord, Message, Sender, SenderRole};
        let request_id = RequestId::new("REQ/1 ü");
        let message = |seq: Seq, body: &str| Message {
            request_id: request_id.clone(),
            seq,
            id: format!("m{seq}"),
            attachments: Vec::new(),
            deleted: false,
            version: 0,
            edited_at: None,
            sender: Sender {
                id: "u_alice".to_owned(),
                name: "Alice \"A\" Agent".to_owned(),
                role: SenderRole::Agent,
            },
            body: body.to_owned(),
            created_at: 1_700_000_000_000 + seq as i64,
            client_temp_id: (seq == 8).then(|| "tmp-8".to_owned()),
        };
        let mut record = ChatRecord::new(request_id.clone());
        record.held.insert_range(SeqRange::new(1, 8));
        Written {
            request_id: request_id.clone(),
            record,
            messages: vec![message(7, "line/one\nline two"), message(8, "")],
            confirmed_outbox: vec!["tmp-8".to_owned()],
        }
    }

    #[test]
    fn every_message_reads_back_as_itself() {
        let to = [
            ToLiveWorker::start("alice"),
            ToLiveWorker::start("agent/with/slashes and spaces"),
            ToLiveWorker::Start {
                protocol: 7,
                user_id: "ü".to_owned(),
            },
            ToLiveWorker::ChatOpen {
                request_id: RequestId::new("REQ-1001"),
                open: true,
            },
            ToLiveWorker::ChatOpen {
                request_id: RequestId::new("closed/open/x"),
                open: false,
            },
            ToLiveWorker::BackOnline,
            ToLiveWorker::SendOutbox { wake: false },
            ToLiveWorker::SendOutbox { wake: true },
            ToLiveWorker::ClearOtherAgents,
            ToLiveWorker::Sync {
                request_id: RequestId::new("REQ-1"),
                manual: false,
            },
            ToLiveWorker::Sync {
                request_id: RequestId::new("sync/REQ 2"),
                manual: true,
            },
            ToLiveWorker::Older {
                request_id: RequestId::new("older/x"),
            },
            ToLiveWorker::Viewport {
                request_id: RequestId::new("REQ-1"),
                visible: Some(SeqRange::new(3, 9_007_199_254_740_991)),
            },
            ToLiveWorker::Viewport {
                request_id: RequestId::new("a/b-c"),
                visible: Some(SeqRange::new(7, 7)),
            },
            ToLiveWorker::Viewport {
                request_id: RequestId::new("none"),
                visible: None,
            },
            ToLiveWorker::Edit {
                ticket: 0,
                request_id: RequestId::new("REQ/1"),
                seq: 42,
                body: "line one\nline/two ü 12/3".to_owned(),
            },
            ToLiveWorker::Edit {
                ticket: u32::MAX,
                request_id: RequestId::new("ü"),
                seq: 1,
                body: String::new(),
            },
            ToLiveWorker::Redact {
                ticket: 9,
                request_id: RequestId::new("REQ/1"),
                seq: 3,
            },
        ];
        for message in to {
            assert_eq!(ToLiveWorker::decode(&message.encode()), Ok(message));
        }
        let from = [
            FromLiveWorker::Status(LiveStatus::Follower),
            FromLiveWorker::Status(LiveStatus::Connecting),
            FromLiveWorker::Status(LiveStatus::Connected),
            FromLiveWorker::Status(LiveStatus::Reconnecting { attempt: 1 }),
            FromLiveWorker::Status(LiveStatus::Reconnecting { attempt: u32::MAX }),
            FromLiveWorker::Status(LiveStatus::SignedOut),
            FromLiveWorker::CaughtUp(CatchUpOutcome::Done),
            FromLiveWorker::CaughtUp(CatchUpOutcome::SignedOut),
            FromLiveWorker::CaughtUp(CatchUpOutcome::Unreachable(
                "fetch: the server answered 503".to_owned(),
            )),
            FromLiveWorker::CaughtUp(CatchUpOutcome::Unreachable(String::new())),
            FromLiveWorker::OutboxSignedOut,
            FromLiveWorker::Chat {
                request_id: RequestId::new("REQ/1 ü"),
                report: ChatReport::Status {
                    fetching: true,
                    done: 200,
                    total: 1_000,
                    incomplete: false,
                },
            },
            FromLiveWorker::Chat {
                request_id: RequestId::new("x"),
                report: ChatReport::Status {
                    fetching: false,
                    done: 0,
                    total: 0,
                    incomplete: true,
                },
            },
            FromLiveWorker::Chat {
                request_id: RequestId::new("REQ/9"),
                report: ChatReport::Failed("fetch: the server answered 503 / twice".to_owned()),
            },
            FromLiveWorker::Written(Box::new(written())),
            FromLiveWorker::Unwritten(RequestId::new("REQ/1")),
            FromLiveWorker::Answer {
                ticket: 3,
                outcome: Ok(()),
            },
            FromLiveWorker::Answer {
                ticket: 4,
                outcome: Err("That message was already deleted.".to_owned()),
            },
            FromLiveWorker::Answer {
                ticket: 5,
                outcome: Err(String::new()),
            },
            FromLiveWorker::Failed("no IndexedDB".to_owned()),
            FromLiveWorker::Failed(String::new()),
        ];
        for message in from {
            assert_eq!(FromLiveWorker::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn the_start_message_names_this_builds_protocol() {
        assert_eq!(
            ToLiveWorker::start("bob"),
            ToLiveWorker::Start {
                protocol: LIVE_WORKER_PROTOCOL,
                user_id: "bob".to_owned()
            }
        );
        assert_eq!(
            ToLiveWorker::start("bob").encode(),
            format!("start/{LIVE_WORKER_PROTOCOL}/bob")
        );
    }

    #[test]
    fn a_malformed_message_is_refused_with_its_text() {
        for text in [
            "",
            "start",
            "start/",
            "start/1",
            "start/1/",
            "start/one/alice",
            "start/-1/alice",
            "stop/1/alice",
            "open/",
            "closed/",
            "opened/REQ-1",
            "online/",
            "Online",
            "send/",
            "send/now",
            "sendwake",
            "clear-others/",
            "clear-other",
            "sync/",
            "resync/",
            "older/",
            "viewport/1-2/",
            "viewport/2-1/REQ-1",
            "viewport/1/REQ-1",
            "viewport/-1-2/REQ-1",
            "viewport/+1-2/REQ-1",
            "viewport/x-2/REQ-1",
            "viewport/none",
            "edit/1/2/5/REQ",
            "edit/1/2/0/body",
            "edit/1/2/x/REQ-1body",
            "edit/1/-2/5/REQ-1body",
            "edit//2/5/REQ-1body",
            "edit/1/2/1/ü",
            "redact/1/2/",
            "redact/1/x/REQ-1",
            "redact/1/REQ-1",
        ] {
            let error = ToLiveWorker::decode(text).expect_err(text);
            assert_eq!(error.text, text);
        }
        for text in [
            "",
            "status",
            "status/",
            "status/Connected",
            "status/reconnecting",
            "status/reconnecting/",
            "status/reconnecting/-2",
            "status/reconnecting/99999999999",
            "status/connected/extra",
            "chat/1/0/0/0/",
            "chat/2/0/0/0/REQ-1",
            "chat/1/0/0/REQ-1",
            "chat/1/-1/0/0/REQ-1",
            "chat/1/0/0/true/REQ-1",
            "chat-failed/9/REQ-1",
            "chat-failed/0/reason",
            "chat-failed/x/REQ-1",
            "answer/1",
            "answer/1/",
            "answer/1/fine",
            "answer/x/ok",
            "answer//ok",
            "written/",
            "written/{}",
            "written/{\"request_id\":\"REQ-1\"}",
            "unwritten/",
            "fail/x",
            "caught-up",
            "caught-up/",
            "caught-up/Done",
            "caught-up/done/extra",
            "caught-up/unreachable",
            "outbox",
            "outbox/",
            "outbox/signed-out/x",
        ] {
            let error = FromLiveWorker::decode(text).expect_err(text);
            assert_eq!(error.text, text);
        }
        let long = "x".repeat(1_000);
        assert_eq!(
            FromLiveWorker::decode(&long).unwrap_err().text.len(),
            80,
            "a long text is cut for the log"
        );
    }
}
