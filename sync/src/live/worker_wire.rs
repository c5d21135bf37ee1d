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
//! sending ([`FromLiveWorker::OutboxSignedOut`]). Everything else travels as it did before
//! the move: the worker ingests into the shared IndexedDB cache and announces each commit on
//! the agent's `BroadcastChannel`, which the page hears like any other context's.
//!
//! The messages are short texts (`start/3/<agent>`, `open/<chat>`, `closed/<chat>`,
//! `online`, `send`, `send/wake`, `status/connected`, `status/reconnecting/3`,
//! `caught-up/done`, `caught-up/unreachable/<reason>`, `outbox/signed-out`,
//! `failed/<reason>`), decoded strictly: an unknown or malformed
//! text is an error naming it, never a guess. The page's build and the worker's are served
//! as separate files, so for a moment after a release a page may talk to the previous
//! worker: the start message carries [`LIVE_WORKER_PROTOCOL`], and a worker that does not
//! speak it refuses to start instead of misreading the page.

use core::fmt;

use super::LiveStatus;
use crate::types::RequestId;

/// The version of this exchange. Bump it with any change of the texts below.
pub const LIVE_WORKER_PROTOCOL: u32 = 3;

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
            _ => {}
        }
        for (prefix, open) in [("open/", true), ("closed/", false)] {
            if let Some(id) = text.strip_prefix(prefix) {
                if id.is_empty() {
                    return Err(refused(text));
                }
                return Ok(Self::ChatOpen {
                    request_id: RequestId::new(id),
                    open,
                });
            }
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
        }
    }

    /// The message `text` holds.
    pub fn decode(text: &str) -> Result<Self, WireError> {
        if let Some(reason) = text.strip_prefix("failed/") {
            return Ok(Self::Failed(reason.to_owned()));
        }
        if text == "outbox/signed-out" {
            return Ok(Self::OutboxSignedOut);
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
