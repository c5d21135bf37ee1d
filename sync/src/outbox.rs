//! The outbox model: messages the agent wrote, waiting to be sent.
//!
//! Up to [`OUTBOX_CAPACITY`] entries; the next one is refused with a clear error (nothing typed
//! is lost: the composer keeps it as a draft). Entries of one chat are sent in the order they
//! were written, one at a time; each carries its `client_temp_id`, the idempotency key that
//! makes a retried send store one message. Failures that may pass (offline, 5xx) are retried
//! with capped exponential backoff; a refusal (4xx) parks the entry as `failed` with the reason
//! until the agent retries or deletes it. A parked entry does not hold back later entries of
//! its chat: the agent decides what happens to it.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::backoff::{BackoffPolicy, SplitMix64};
use crate::types::{Attachment, Millis, RequestId};

/// The most unsent messages the outbox holds.
pub const OUTBOX_CAPACITY: usize = 100;

/// Where an outbox entry stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent (possibly after a backoff).
    Queued,
    /// A send is in flight.
    Sending,
    /// Refused by the server; waits for the agent.
    Failed {
        /// What the server said.
        reason: String,
    },
}

/// Decoded flat, without serde's buffering (see [`crate::tagged`]).
impl<'de> Deserialize<'de> for OutboxState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        enum Tag {
            Queued,
            Sending,
            Failed,
        }
        crate::deserialize_unit_variants!(Tag {
            Queued = "queued",
            Sending = "sending",
            Failed = "failed",
        });
        #[derive(Deserialize)]
        #[serde(remote = "Self")]
        struct Flat {
            state: Tag,
            reason: Option<String>,
        }
        let flat = Flat::deserialize(crate::object_only::ObjectOnly(deserializer))?;
        Ok(match flat.state {
            Tag::Queued => OutboxState::Queued,
            Tag::Sending => OutboxState::Sending,
            Tag::Failed => OutboxState::Failed {
                reason: crate::tagged::required(flat.reason, "reason")?,
            },
        })
    }
}

/// One unsent message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct OutboxEntry {
    /// The idempotency key, also the entry's id.
    pub client_temp_id: String,
    /// The chat.
    pub request_id: RequestId,
    /// Text.
    pub body: String,
    /// Attachments (uploaded before the message is sent).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the agent wrote it.
    pub created_at: Millis,
    /// Order of writing, across chats.
    pub order: u64,
    /// State.
    pub state: OutboxState,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// No new attempt before this time.
    #[serde(default)]
    pub not_before: Millis,
}

impl OutboxEntry {
    /// Approximate bytes, counted in the cache budget.
    pub fn approx_bytes(&self) -> u64 {
        (64 + self.client_temp_id.len() + self.request_id.as_str().len() + self.body.len()) as u64
            + self.attachments.iter().map(|a| a.size).sum::<u64>()
    }
}

/// Why the outbox refused or could not find an entry.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OutboxError {
    /// The outbox holds [`OUTBOX_CAPACITY`] unsent messages already.
    #[error(
        "the outbox is full: {capacity} messages are waiting to be sent; send or delete some first"
    )]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// The same `client_temp_id` is queued already.
    #[error("message {0} is already in the outbox")]
    Duplicate(String),
    /// No entry with that id.
    #[error("no outbox entry {0}")]
    NotFound(String),
}

/// How a send attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// Offline, timeout, 5xx, 429: try again later.
    Retryable,
    /// 4xx: park the entry with the server's reason.
    Rejected(String),
}

/// What the sender does after the server answered a send (or an upload) with `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendVerdict {
    /// 2xx: stored (the reply carries the message).
    Stored,
    /// The failure may pass (5xx, 408, 429, or no reply at all): back off and retry.
    Retry(SendFailure),
    /// 401: the session is gone. Stop sending and keep every entry as it is, so nothing is
    /// lost while the agent signs in again.
    SignedOut,
}

/// Classifies a send reply. `status` is `None` when no reply came (offline, a network error,
/// a timeout). `reason` is the server's error text, kept for a parked entry.
///
/// 408 (timeout) and 429 (too many requests) are 4xx but say "later", not "no": they are
/// retried. Every other 4xx but 401 is the server's refusal of this message and parks it.
pub fn classify_send(status: Option<u16>, reason: &str) -> SendVerdict {
    match status {
        Some(200..=299) => SendVerdict::Stored,
        Some(401) => SendVerdict::SignedOut,
        Some(408 | 429) | None => SendVerdict::Retry(SendFailure::Retryable),
        Some(status @ 400..=499) => {
            SendVerdict::Retry(SendFailure::Rejected(if reason.is_empty() {
                format!("refused by the server with {status}")
            } else {
                format!("{status}: {reason}")
            }))
        }
        Some(_) => SendVerdict::Retry(SendFailure::Retryable),
    }
}

/// A message the agent queues, before the outbox gives it its place ([`Outbox::admit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxEntry {
    /// The idempotency key (and the id of the pending row).
    pub client_temp_id: String,
    /// The chat.
    pub request_id: RequestId,
    /// The text.
    pub body: String,
    /// The files, with local media ids until uploaded.
    pub attachments: Vec<Attachment>,
    /// When it was queued.
    pub created_at: Millis,
}

/// The outbox in memory, loaded from and saved to the store by the driver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    entries: Vec<OutboxEntry>,
}

impl Outbox {
    /// An outbox holding `entries` (in any order; kept sorted by writing order).
    pub fn from_entries(mut entries: Vec<OutboxEntry>) -> Self {
        crate::sort::sort_by_key(&mut entries, |e| e.order);
        Self { entries }
    }

    /// The entries in writing order.
    pub fn entries(&self) -> &[OutboxEntry] {
        &self.entries
    }

    /// Number of unsent entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks that one more entry fits in an outbox of `current_len` entries.
    pub fn check_capacity(current_len: usize) -> Result<(), OutboxError> {
        if current_len >= OUTBOX_CAPACITY {
            Err(OutboxError::Full {
                capacity: OUTBOX_CAPACITY,
            })
        } else {
            Ok(())
        }
    }

    /// Admits a queued message: refused when its id is taken or the outbox is full,
    /// otherwise placed after every entry written before it (what every store's
    /// `outbox_enqueue` does inside its write).
    pub fn admit(&mut self, new: NewOutboxEntry) -> Result<&OutboxEntry, OutboxError> {
        self.enqueue(
            new.client_temp_id,
            new.request_id,
            new.body,
            new.attachments,
            new.created_at,
        )
    }

    /// Adds a new message, after every entry written before it.
    pub fn enqueue(
        &mut self,
        client_temp_id: String,
        request_id: RequestId,
        body: String,
        attachments: Vec<Attachment>,
        now: Millis,
    ) -> Result<&OutboxEntry, OutboxError> {
        if self
            .entries
            .iter()
            .any(|e| e.client_temp_id == client_temp_id)
        {
            return Err(OutboxError::Duplicate(client_temp_id));
        }
        Self::check_capacity(self.entries.len())?;
        let order = self.entries.last().map_or(1, |e| e.order + 1);
        self.entries.push(OutboxEntry {
            client_temp_id,
            request_id,
            body,
            attachments,
            created_at: now,
            order,
            state: OutboxState::Queued,
            attempts: 0,
            not_before: 0,
        });
        Ok(self.entries.last().expect("just pushed"))
    }

    /// The entries to send now: for each chat, its oldest entry that is not parked, if it is
    /// queued and its backoff is over. A chat with a send in flight sends nothing else.
    pub fn due(&self, now: Millis) -> Vec<&OutboxEntry> {
        let mut seen_chats: Vec<&RequestId> = Vec::new();
        let mut due = Vec::new();
        for entry in &self.entries {
            if matches!(entry.state, OutboxState::Failed { .. })
                || seen_chats.contains(&&entry.request_id)
            {
                continue;
            }
            seen_chats.push(&entry.request_id);
            if entry.state == OutboxState::Queued && entry.not_before <= now {
                due.push(entry);
            }
        }
        due
    }

    /// The earliest time a queued entry's backoff ends.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.entries
            .iter()
            .filter(|e| e.state == OutboxState::Queued && e.not_before > 0)
            .map(|e| e.not_before)
            .min()
    }

    fn find(&mut self, client_temp_id: &str) -> Result<&mut OutboxEntry, OutboxError> {
        self.entries
            .iter_mut()
            .find(|e| e.client_temp_id == client_temp_id)
            .ok_or_else(|| OutboxError::NotFound(client_temp_id.to_owned()))
    }

    /// A send of this entry went out.
    pub fn mark_sending(&mut self, client_temp_id: &str) -> Result<&OutboxEntry, OutboxError> {
        let entry = self.find(client_temp_id)?;
        entry.state = OutboxState::Sending;
        Ok(entry)
    }

    /// The server stored it: the entry leaves the outbox.
    pub fn on_sent(&mut self, client_temp_id: &str) -> Option<OutboxEntry> {
        let index = self
            .entries
            .iter()
            .position(|e| e.client_temp_id == client_temp_id)?;
        Some(self.entries.remove(index))
    }

    /// A send failed: back off and retry, or park with the reason.
    pub fn on_failure(
        &mut self,
        client_temp_id: &str,
        failure: SendFailure,
        now: Millis,
        policy: &BackoffPolicy,
        rng: &mut SplitMix64,
    ) -> Result<&OutboxEntry, OutboxError> {
        let entry = self.find(client_temp_id)?;
        entry.attempts = entry.attempts.saturating_add(1);
        match failure {
            SendFailure::Retryable => {
                entry.state = OutboxState::Queued;
                entry.not_before = now + policy.delay(entry.attempts, rng);
            }
            SendFailure::Rejected(reason) => entry.state = OutboxState::Failed { reason },
        }
        Ok(entry)
    }

    /// The agent asked to retry a parked entry (or the network came back): send it now.
    pub fn retry(&mut self, client_temp_id: &str) -> Result<&OutboxEntry, OutboxError> {
        let entry = self.find(client_temp_id)?;
        entry.state = OutboxState::Queued;
        entry.attempts = 0;
        entry.not_before = 0;
        Ok(entry)
    }

    /// The network came back or the app started: queued entries need not wait out backoff.
    pub fn wake_all(&mut self) {
        for entry in &mut self.entries {
            if entry.state == OutboxState::Queued {
                entry.not_before = 0;
            }
        }
    }

    /// After a restart, an entry left `Sending` by a context that died is queued again. The
    /// idempotency key makes a second send of it harmless.
    pub fn recover_after_restart(&mut self) {
        for entry in &mut self.entries {
            if entry.state == OutboxState::Sending {
                entry.state = OutboxState::Queued;
            }
        }
    }

    /// The agent deleted an entry.
    pub fn remove(&mut self, client_temp_id: &str) -> Result<OutboxEntry, OutboxError> {
        self.on_sent(client_temp_id)
            .ok_or_else(|| OutboxError::NotFound(client_temp_id.to_owned()))
    }
}

crate::object_only_serde!(OutboxEntry);

#[cfg(test)]
mod tests;
