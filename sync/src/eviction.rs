//! Cache budget accounting and the eviction plan.
//!
//! The cache is bounded (100 MB and 10,000 messages per chat by default, any number of chats).
//! When it is over budget, the oldest messages of the least recently used chats go first,
//! which leaves leading gaps: older history, a valid partial state that is fetched again when
//! the reader scrolls to it. The outbox is counted in the total but is never part of a plan:
//! an unsent message is never evicted.

use crate::ranges::SeqRange;
use crate::types::{ChatRecord, RequestId, Seq};

/// The limits of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBudget {
    /// Bytes for messages and the outbox together.
    pub max_bytes: u64,
    /// Messages kept per chat.
    pub max_messages_per_chat: u64,
    /// Messages of a chat kept while other chats can still give up older ones.
    pub keep_newest_per_chat: u64,
}

impl Default for CacheBudget {
    fn default() -> Self {
        Self {
            max_bytes: 100 * 1024 * 1024,
            max_messages_per_chat: 10_000,
            keep_newest_per_chat: 50,
        }
    }
}

/// Drop every held message of `request_id` with a seq below `below_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The chat.
    pub request_id: RequestId,
    /// Messages with `seq < below_seq` go.
    pub below_seq: Seq,
    /// How many messages that removes.
    pub messages: u64,
    /// About how many bytes that frees.
    pub bytes: u64,
}

/// A plan and what it leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvictionPlan {
    /// Steps, least recently used chats first.
    pub evictions: Vec<Eviction>,
    /// Bytes the cache would still be over budget after the plan (outbox and pinned chats
    /// are never evicted, so this can stay above zero).
    pub still_over: u64,
}

/// Plans evictions so that `chats` plus `outbox_bytes` fit `budget`.
///
/// `pinned` chats (open in a view) are evicted last, and only down to the newest
/// `keep_newest_per_chat` messages.
pub fn plan_eviction(
    chats: &[ChatRecord],
    outbox_bytes: u64,
    budget: &CacheBudget,
    pinned: &[RequestId],
) -> EvictionPlan {
    let mut plan = EvictionPlan::default();
    // Remaining (count, bytes) per chat as the plan proceeds.
    let mut remaining: Vec<(u64, u64)> = chats.iter().map(|c| (c.held.count(), c.bytes)).collect();

    // First the per-chat message cap.
    for (i, chat) in chats.iter().enumerate() {
        if remaining[i].0 > budget.max_messages_per_chat {
            let step = evict_to_keep(chat, budget.max_messages_per_chat, remaining[i]);
            remaining[i] = (remaining[i].0 - step.messages, remaining[i].1 - step.bytes);
            plan.evictions.push(step);
        }
    }

    let total =
        |remaining: &[(u64, u64)]| remaining.iter().map(|r| r.1).sum::<u64>() + outbox_bytes;
    let mut order: Vec<usize> = (0..chats.len()).collect();
    // Least recently used first; pinned chats last; ties in their listed order.
    crate::sort::sort_by_key(&mut order, |&i| {
        (pinned.contains(&chats[i].request_id), chats[i].last_access)
    });

    for keep in [budget.keep_newest_per_chat, 0] {
        for &i in &order {
            let used = total(&remaining);
            if used <= budget.max_bytes {
                break;
            }
            let chat = &chats[i];
            let keep = if pinned.contains(&chat.request_id) {
                budget.keep_newest_per_chat
            } else {
                keep
            };
            let (count, bytes) = remaining[i];
            if count <= keep || count == 0 {
                continue;
            }
            let per_message = (bytes / count).max(1);
            let over = used - budget.max_bytes;
            let drop = over.div_ceil(per_message).min(count - keep);
            let step = evict_to_keep(chat, count - drop, remaining[i]);
            remaining[i] = (count - step.messages, bytes.saturating_sub(step.bytes));
            merge_step(&mut plan.evictions, step);
        }
    }
    plan.still_over = total(&remaining).saturating_sub(budget.max_bytes);
    plan
}

/// One step that leaves the newest `keep` of the chat's currently remaining messages.
fn evict_to_keep(chat: &ChatRecord, keep: u64, (count, bytes): (u64, u64)) -> Eviction {
    // The messages already planned away are the oldest ones, so the remaining ones are the
    // newest `count`; keeping the newest `keep` of those means cutting at the newest `keep`.
    let below_seq = cut_keeping_newest(chat, keep);
    let messages = count.saturating_sub(keep);
    let bytes = bytes.checked_div(count).unwrap_or(0) * messages;
    Eviction {
        request_id: chat.request_id.clone(),
        below_seq,
        messages,
        bytes,
    }
}

fn merge_step(evictions: &mut Vec<Eviction>, step: Eviction) {
    match evictions
        .iter_mut()
        .find(|e| e.request_id == step.request_id)
    {
        Some(existing) => {
            existing.below_seq = existing.below_seq.max(step.below_seq);
            existing.messages += step.messages;
            existing.bytes += step.bytes;
        }
        None => evictions.push(step),
    }
}

/// The smallest `s` such that the chat holds exactly `keep` messages with `seq >= s`
/// (one past the newest when `keep` is 0).
pub fn cut_keeping_newest(chat: &ChatRecord, keep: u64) -> Seq {
    let mut left = keep;
    for range in chat.held.ranges().iter().rev() {
        if left == 0 {
            return range.end + 1;
        }
        if range.len() >= left {
            return range.end + 1 - left;
        }
        left -= range.len();
    }
    chat.held.min().unwrap_or(1)
}

/// Applies an eviction to a chat record: the held ranges lose everything below the cut,
/// the count and bytes go down. Returns how many messages were removed.
pub fn apply_eviction(record: &mut ChatRecord, below_seq: Seq) -> u64 {
    if below_seq <= 1 {
        return 0;
    }
    let before = record.held.count();
    let per_message = record.bytes.checked_div(before).unwrap_or(0);
    let cut = SeqRange::new(1, below_seq - 1);
    record.held.remove_range(cut);
    record.corrupt.remove_range(cut);
    let removed = before - record.held.count();
    record.message_count = record.held.count();
    record.bytes = record.bytes.saturating_sub(per_message * removed);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranges::SeqRanges;

    fn chat(
        id: &str,
        ranges: &[(Seq, Seq)],
        bytes_per_message: u64,
        last_access: i64,
    ) -> ChatRecord {
        let mut record = ChatRecord::new(RequestId::from(id));
        let mut held = SeqRanges::new();
        for &(a, b) in ranges {
            held.insert_range(SeqRange::new(a, b));
        }
        record.message_count = held.count();
        record.bytes = held.count() * bytes_per_message;
        record.held = held;
        record.last_access = last_access;
        record
    }

    #[test]
    fn cut_keeps_the_newest_across_ranges() {
        let c = chat("a", &[(1, 10), (20, 24)], 1, 0);
        assert_eq!(cut_keeping_newest(&c, 3), 22);
        assert_eq!(cut_keeping_newest(&c, 5), 20);
        assert_eq!(cut_keeping_newest(&c, 7), 9);
        assert_eq!(cut_keeping_newest(&c, 0), 25);
        assert_eq!(cut_keeping_newest(&c, 100), 1);
    }

    #[test]
    fn least_recently_used_chats_lose_their_oldest_messages_first() {
        let budget = CacheBudget {
            max_bytes: 1_500,
            max_messages_per_chat: 10_000,
            keep_newest_per_chat: 10,
        };
        let old = chat("old", &[(1, 100)], 10, 1);
        let new = chat("new", &[(1, 100)], 10, 2);
        let plan = plan_eviction(&[new.clone(), old.clone()], 0, &budget, &[]);
        assert_eq!(plan.still_over, 0);
        assert_eq!(plan.evictions.len(), 1);
        assert_eq!(plan.evictions[0].request_id, RequestId::from("old"));
        assert_eq!(plan.evictions[0].below_seq, 51);
        let mut evicted = old;
        assert_eq!(apply_eviction(&mut evicted, 51), 50);
        assert_eq!(evicted.held.min(), Some(51));
    }

    #[test]
    fn per_chat_cap_and_outbox_that_is_never_evicted() {
        let budget = CacheBudget {
            max_bytes: 100,
            max_messages_per_chat: 20,
            keep_newest_per_chat: 5,
        };
        let big = chat("big", &[(1, 30)], 1, 1);
        let plan = plan_eviction(&[big], 500, &budget, &[]);
        // The cap leaves 20; the outbox alone is over budget so everything evictable goes,
        // and the plan says honestly what is left over.
        assert_eq!(plan.evictions[0].below_seq, 31);
        assert_eq!(plan.still_over, 400);
    }

    #[test]
    fn pinned_chats_keep_their_newest_window() {
        let budget = CacheBudget {
            max_bytes: 0,
            max_messages_per_chat: 1_000,
            keep_newest_per_chat: 5,
        };
        let open = chat("open", &[(1, 50)], 10, 9);
        let plan = plan_eviction(
            std::slice::from_ref(&open),
            0,
            &budget,
            std::slice::from_ref(&open.request_id),
        );
        assert_eq!(plan.evictions[0].below_seq, 46);
        assert_eq!(plan.still_over, 50);
    }
}
