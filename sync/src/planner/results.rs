//! What a fetch's end means: `Planner::handle_fetch_result` releases the in-flight range,
//! counts progress, lowers the page limit, backs off after a failure or a short reply, stops
//! on a refusal and falls back from range to cursor fetches.

use super::Planner;
use super::{Capabilities, ChatInput, FetchId, FetchOutcome, FetchPurpose, FullReloadReason};
use crate::ranges::{SeqRange, SeqRanges};
use crate::types::Millis;

impl Planner {
    /// Records how a fetch ended, after the driver merged any reply, and re-validates the chat
    /// with `input` (the chat as it is after the merge).
    pub fn handle_fetch_result(
        &mut self,
        id: FetchId,
        outcome: FetchOutcome,
        input: ChatInput<'_>,
        now: Millis,
    ) {
        let Some(at) = self.in_flight.iter().position(|(flying, _)| *flying == id) else {
            return;
        };
        let (_, flight) = self.in_flight.remove(at);
        let policy = self.config.backoff;
        let fallback = self.method_fallback();
        let Some(chat) = self.chats.get_mut(&flight.request_id) else {
            return;
        };
        chat.in_flight.remove_range(flight.range);
        chat.in_flight_count = chat.in_flight_count.saturating_sub(1);

        match outcome {
            FetchOutcome::Received {
                received,
                last_seq,
                page_limit,
            } => {
                chat.failures = 0;
                chat.not_before = 0;
                if let Some(limit) = page_limit.filter(|l| *l > 0) {
                    self.config.page_limit = self.config.page_limit.min(limit);
                }
                let asked_and_existing =
                    SeqRange::new(flight.range.start, flight.range.end.min(last_seq.max(1)));
                let got = received
                    .intersection(&SeqRanges::from_range(flight.range))
                    .count();
                if flight.purpose == FetchPurpose::Repair {
                    chat.progress.done += got;
                }
                let truncated_by_limit = got >= self.config.page_limit;
                let expected = if last_seq >= flight.range.start {
                    asked_and_existing.len()
                } else {
                    0
                };
                if got < expected && !truncated_by_limit {
                    // The server claims not to have sequences below its own last sequence.
                    // Back off rather than asking again at once, which would loop.
                    self.stats.short_replies += 1;
                    chat.failures += 1;
                    chat.not_before = now + policy.delay(chat.failures, &mut self.rng);
                }
            }
            FetchOutcome::AlreadyHeld => {}
            FetchOutcome::Failed => {
                chat.failures += 1;
                chat.not_before = now + policy.delay(chat.failures, &mut self.rng);
                if flight.purpose == FetchPurpose::OlderHistory {
                    // The reader still waits at the top for that page: ask again after the
                    // backoff, as a repair would be.
                    chat.older_pages_wanted = chat.older_pages_wanted.saturating_add(1).min(4);
                }
            }
            FetchOutcome::Refused => {
                chat.refused = true;
            }
            FetchOutcome::MethodUnsupported => match fallback {
                Some(capabilities) => self.capabilities = capabilities,
                None => chat.reload_due = Some(FullReloadReason::NoHistoryFetch),
            },
        }

        if let Some(chat) = self.chats.get_mut(&flight.request_id) {
            chat.machine.fetch_finished(input.held, input.backend_last);
        }
    }

    /// The capabilities after the method in use turned out unsupported: range falls back to
    /// cursor; with neither left, `None`.
    fn method_fallback(&self) -> Option<Capabilities> {
        if self.capabilities.range && self.capabilities.cursor {
            Some(Capabilities {
                range: false,
                cursor: true,
            })
        } else {
            None
        }
    }
}
