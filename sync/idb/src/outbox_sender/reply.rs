//! What the server's reply to a send means: a failed reply classified by the core's
//! `classify_send` (retry, park or stop), and a success checked to be our message in our
//! chat.

use chat_sync::outbox::{classify_send, OutboxEntry, SendFailure, SendVerdict};
use chat_sync::protocol::validate_message;
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
pub(super) fn echo(text: &str, entry: &OutboxEntry) -> Result<Message, String> {
    let message: Message = serde_json::from_str(text).map_err(|e| e.to_string())?;
    validate_message(&message).map_err(|e| e.to_string())?;
    if message.request_id != entry.request_id {
        return Err(format!("it names chat {}", message.request_id));
    }
    if message.client_temp_id.as_deref() != Some(entry.client_temp_id.as_str()) {
        return Err(format!(
            "it carries client_temp_id {:?}",
            message.client_temp_id
        ));
    }
    Ok(message)
}
