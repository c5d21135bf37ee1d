//! What the server's reply to a send means: a failed reply classified by the core's
//! `classify_send` (retry, park or stop), and a success checked to be our message in our
//! chat.

use chat_sync::outbox::{classify_send, OutboxEntry, SendFailure, SendVerdict};
use chat_sync::{Message, Seq};

use crate::http::Reply;

/// How sending one entry ended.
pub(super) enum Outcome {
    Sent(Seq),
    Failed(SendFailure),
    SignedOut,
}

impl From<SendVerdict> for Outcome {
    fn from(verdict: SendVerdict) -> Self {
        match verdict {
            // Only replies that are not a success are classified this way (a success is
            // decoded and checked by the caller); were one to arrive here, resending is safe
            // (the idempotency key) and dropping it would lose the message.
            SendVerdict::Stored => Outcome::Failed(SendFailure::Retryable),
            SendVerdict::Retry(failure) => Outcome::Failed(failure),
            SendVerdict::SignedOut => Outcome::SignedOut,
        }
    }
}

/// Classifies a reply (or its absence) that is not a success.
pub(super) fn verdict(reply: &Result<Reply, crate::FetchError>) -> SendVerdict {
    match reply {
        Ok(reply) => classify_send(Some(reply.status), &reply.error_text()),
        Err(_) => classify_send(None, ""),
    }
}

/// Decodes and checks the server's reply to a send: it must be our message in our chat.
/// (The core decides: [`chat_sync::decode::send_echo`].)
pub(super) fn echo(text: &str, entry: &OutboxEntry) -> Result<Message, String> {
    chat_sync::decode::send_echo(text.as_bytes(), &entry.request_id, &entry.client_temp_id)
        .map_err(|e| e.to_string())
}
