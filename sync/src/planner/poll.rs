//! What is due now: `Planner::poll` turns a chat's gaps, the reader's demand and the
//! in-flight set into fetch commands (page by page, newest first) or a full reload, and
//! records each command it issues as in flight.

use super::{ChatInput, Command, FetchCommand, FetchMethod, FetchPurpose, FullReloadReason};
use super::{InFlight, Planner, Progress};
use crate::ranges::{SeqRange, SeqRanges};
use crate::types::{Millis, RequestId};

impl Planner {
    /// The commands due now for one chat.
    pub fn poll(
        &mut self,
        request_id: &RequestId,
        input: ChatInput<'_>,
        now: Millis,
    ) -> Vec<Command> {
        let config = self.config.clone();
        let capabilities = self.capabilities;
        let chat = self.chats.get_or_default(request_id);
        if chat.in_flight_count == 0 {
            chat.machine.revalidate(input.held, input.backend_last);
        }

        if !capabilities.range && !capabilities.cursor && chat.reload_due.is_none() {
            let gaps_exist = input
                .backend_last
                .is_some_and(|last| !input.held.gaps(last).repair_order().is_empty());
            if gaps_exist || chat.older_pages_wanted > 0 {
                chat.reload_due = Some(FullReloadReason::NoHistoryFetch);
            }
        }
        if let Some(reason) = chat.reload_due.take() {
            self.stats.full_reloads += 1;
            chat.older_pages_wanted = 0;
            return vec![Command::FullReload {
                request_id: request_id.clone(),
                reason,
            }];
        }

        if chat.refused || now < chat.not_before {
            return Vec::new();
        }
        let method = if capabilities.range {
            FetchMethod::Range
        } else {
            FetchMethod::Cursor
        };
        // The page after the newest cached message, asked for before anything else.
        let newer = std::mem::take(&mut chat.newer_wanted)
            .then(|| input.held.max())
            .flatten()
            .filter(|_| capabilities.range && chat.in_flight_count < config.max_in_flight_per_chat)
            .filter(|top| chat.in_flight.max().is_none_or(|flying| flying <= *top))
            .map(|top| SeqRange::new(top + 1, top.saturating_add(config.page_limit.max(1))));
        // Single messages a hint named, minus what is held or already being fetched.
        let mut exact = std::mem::take(&mut chat.exact_wanted);
        exact.remove_all(input.held);
        exact.remove_all(&chat.in_flight);
        let mut commands = Vec::new();
        if let Some(range) = newer {
            commands.push(self.issue(request_id, range, FetchPurpose::Repair, method));
        }
        for range in exact.ranges() {
            commands.push(self.issue(request_id, *range, FetchPurpose::Repair, method));
        }
        let chat = self.chats.get_mut(request_id).expect("entry made above");

        let Some(backend_last) = input.backend_last else {
            // Nothing can be validated or repaired before the backend's last sequence is known.
            return commands;
        };

        let gaps = input.held.gaps(backend_last);
        let mut repair = gaps.repair_set();
        repair.remove_all(&chat.in_flight);

        if repair.is_empty() {
            chat.gap_seen_at = None;
            if chat.in_flight_count == 0 {
                chat.urgent = false;
                chat.progress = Progress::default();
            }
        } else {
            let seen = *chat.gap_seen_at.get_or_insert(now);
            let total_missing = repair.count() + chat.in_flight.count();
            chat.progress.total = chat.progress.total.max(chat.progress.done + total_missing);
            if !chat.urgent && now < seen + config.gap_grace_ms {
                repair = SeqRanges::new();
            }
        }

        // Only as many pages as may go out now are built: a chat with a thousand holes costs
        // a few pages of work per poll, not a thousand.
        let room = config
            .max_in_flight_per_chat
            .saturating_sub(chat.in_flight_count);
        let mut pages: Vec<(SeqRange, FetchPurpose)> = Vec::with_capacity(room);
        // Trailing gap first, then interior gaps from the newest down; newest page first within.
        // What the reader is looking at goes first.
        let (on_screen, elsewhere) = match chat.viewport {
            Some(visible) => {
                let on_screen = repair.intersection(&SeqRanges::from_range(visible));
                let mut elsewhere = repair.clone();
                elsewhere.remove_all(&on_screen);
                (on_screen, elsewhere)
            }
            None => (SeqRanges::new(), repair),
        };
        pages.extend(
            on_screen
                .ranges()
                .iter()
                .rev()
                .chain(elsewhere.ranges().iter().rev())
                .flat_map(|range| split_newest_first(*range, config.page_limit))
                .take(room)
                .map(|page| (page, FetchPurpose::Repair)),
        );
        if chat.older_pages_wanted > 0 {
            if let Some(leading) = gaps.leading {
                let mut older = input.held.complement_within(leading);
                older.remove_all(&chat.in_flight);
                // The page adjacent to the oldest cached message, then the one below it.
                let wanted =
                    (chat.older_pages_wanted as usize).min(room.saturating_sub(pages.len()));
                pages.extend(
                    older
                        .ranges()
                        .iter()
                        .rev()
                        .flat_map(|range| split_newest_first(*range, config.page_limit))
                        .take(wanted)
                        .map(|page| (page, FetchPurpose::OlderHistory)),
                );
            } else {
                chat.older_pages_wanted = 0;
            }
        }

        let older_issued = pages
            .iter()
            .filter(|(_, purpose)| *purpose == FetchPurpose::OlderHistory)
            .count();
        chat.older_pages_wanted = chat
            .older_pages_wanted
            .saturating_sub(u32::try_from(older_issued).unwrap_or(u32::MAX));
        for (range, purpose) in pages {
            commands.push(self.issue(request_id, range, purpose, method));
        }
        commands
    }

    /// Records a fetch of `range` as in flight for the chat and returns its command.
    fn issue(
        &mut self,
        request_id: &RequestId,
        range: SeqRange,
        purpose: FetchPurpose,
        method: FetchMethod,
    ) -> Command {
        let id = self.next_id;
        self.next_id += 1;
        let chat = self.chats.get_or_default(request_id);
        chat.in_flight.insert_range(range);
        chat.in_flight_count += 1;
        chat.machine.fetch_started();
        self.stats.fetches += 1;
        self.stats.seqs_requested += range.len();
        self.in_flight.push((
            id,
            InFlight {
                request_id: request_id.clone(),
                range,
                purpose,
            },
        ));
        Command::Fetch(FetchCommand {
            id,
            request_id: request_id.clone(),
            range,
            purpose,
            method,
        })
    }
}

/// Splits `range` into pages of at most `page_limit` sequences, the newest page first.
pub(super) fn split_newest_first(
    range: SeqRange,
    page_limit: u64,
) -> impl Iterator<Item = SeqRange> {
    let limit = page_limit.max(1);
    let mut next_end = Some(range.end);
    std::iter::from_fn(move || {
        let end = next_end?;
        let start = end.saturating_sub(limit - 1).max(range.start);
        next_end = (start > range.start).then(|| start - 1);
        Some(SeqRange::new(start, end))
    })
}
