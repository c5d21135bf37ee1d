//! The verdict of a run: whether the world has settled, and what must hold once it has (every
//! chat still the agent's equal to the server, no redacted body stored, a reassigned chat
//! gone, each message stored once, no full reload).

use chat_sync::store::Store;
use chat_sync::{Message, Seq, SeqRange};
use futures::executor::block_on;

use crate::world::{chat_id, Sim};
use crate::CHATS;

impl Sim {
    pub(crate) fn converged(&self) -> bool {
        (0..CHATS).all(|chat| {
            let record = block_on(self.store.chat(&chat_id(chat))).expect("read");
            if self.reassigned[chat] {
                return record.is_none();
            }
            let (held, _) = self.held(chat);
            let last = self.server[chat].len() as Seq;
            let versions = record.is_none_or(|r| r.change_version == self.versions[chat]);
            last == 0 || (held.ranges() == [SeqRange::new(1, last)] && versions)
        })
    }

    /// Every cached message of `chat` within the server's seqs, read in bounded reads.
    pub(crate) fn cached(&self, chat: usize) -> Vec<Message> {
        let last = self.server[chat].len() as Seq;
        let mut cached = Vec::new();
        let mut from = 1;
        while from <= last {
            let to = (from + 999).min(last);
            cached.extend(
                block_on(self.store.range(&chat_id(chat), SeqRange::new(from, to)))
                    .expect("read")
                    .messages,
            );
            from = to + 1;
        }
        cached
    }

    pub(crate) fn check(&self, seed: u64) {
        for chat in 0..CHATS {
            if self.reassigned[chat] {
                assert!(
                    block_on(self.store.chat(&chat_id(chat)))
                        .expect("read")
                        .is_none(),
                    "seed {seed}: reassigned chat {chat} is still cached"
                );
                assert!(
                    block_on(self.store.range(&chat_id(chat), SeqRange::new(1, 1_000)))
                        .expect("read")
                        .messages
                        .is_empty(),
                    "seed {seed}: messages of reassigned chat {chat} are still cached"
                );
                continue;
            }
            if let Some(record) = block_on(self.store.chat(&chat_id(chat))).expect("read") {
                assert_eq!(
                    record.change_version, self.versions[chat],
                    "seed {seed}: chat {chat} did not apply every change"
                );
                assert!(record
                    .pending_changes
                    .iter()
                    .all(|m| m.body.is_empty() || !m.deleted));
            }
            let cached = self.cached(chat);
            assert_eq!(
                cached, self.server[chat],
                "seed {seed}: chat {chat} differs from the server"
            );
        }
        for chat in 0..CHATS {
            for message in self.cached(chat) {
                assert!(
                    !self
                        .redacted_bodies
                        .iter()
                        .any(|b| !b.is_empty() && message.body == *b),
                    "seed {seed}: a redacted body is still in the store"
                );
            }
        }
        for ((chat, seq), times) in &self.stored_new {
            if self.reassigned[*chat] {
                continue;
            }
            assert_eq!(
                *times, 1,
                "seed {seed}: chat {chat} seq {seq} stored {times} times"
            );
        }
        let total: usize = (0..CHATS)
            .filter(|chat| !self.reassigned[*chat])
            .map(|chat| self.server[chat].len())
            .sum();
        assert_eq!(
            self.stored_new
                .keys()
                .filter(|(chat, _)| !self.reassigned[*chat])
                .count(),
            total,
            "seed {seed}: every message stored exactly once"
        );
        for ctx in &self.contexts {
            assert_eq!(
                ctx.engine.planner().stats().full_reloads,
                0,
                "seed {seed}: a full reload happened"
            );
        }
    }
}
