//! The in-memory [`Store`]: the reference implementation the shared suite is written
//! against, and the store of native simulations.
//!
//! It can be given a byte quota, to exercise quota exhaustion the way a full browser
//! storage does.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::eviction::{apply_eviction, Eviction};
use crate::ingest::{
    apply_summary, mark_read, note_backend_last_seq, plan_ingest_keeping, IngestContext,
    IngestReport, IngestUndo, UndoOutcome,
};
use crate::media_cache::{MediaIndex, MediaStats};
use crate::outbox::{NewOutboxEntry, Outbox, OutboxEntry, OutboxError};
use crate::ranges::SeqRange;
use crate::store::{check_read, Revocation, Store, StoreError, Usage, Window};
use crate::types::{ChatRecord, ChatSummary, Message, Millis, RequestId, Seq};

#[derive(Debug, Default)]
struct Inner {
    messages: BTreeMap<(RequestId, Seq), Message>,
    chats: HashMap<RequestId, ChatRecord>,
    outbox: Vec<OutboxEntry>,
    revoked: crate::changes::Revoked,
    media: MediaIndex,
}

/// A [`Store`] in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RefCell<Inner>,
    quota_bytes: Option<u64>,
}

impl MemoryStore {
    /// An empty store without a quota.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that refuses writes taking it past `bytes`, like a full disk.
    pub fn with_quota(bytes: u64) -> Self {
        Self {
            inner: RefCell::default(),
            quota_bytes: Some(bytes),
        }
    }

    fn used_bytes(inner: &Inner) -> u64 {
        inner.chats.values().map(|c| c.bytes).sum::<u64>()
            + inner
                .outbox
                .iter()
                .map(OutboxEntry::approx_bytes)
                .sum::<u64>()
    }

    fn read(inner: &Inner, request_id: &RequestId, range: SeqRange) -> Window {
        let messages = inner
            .messages
            .range((request_id.clone(), range.start)..=(request_id.clone(), range.end))
            .map(|(_, m)| m.clone())
            .collect();
        Window {
            messages,
            corrupt: Vec::new(),
        }
    }

    /// The one ingest, with its undo when `keep_undo` asks for it.
    fn ingest_keeping(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
        keep_undo: bool,
    ) -> Result<(IngestReport, Option<IngestUndo>), StoreError> {
        let mut inner = self.inner.borrow_mut();
        let replace = ctx.source.replaces_chat();
        let record = if replace {
            None
        } else {
            inner.chats.get(request_id).cloned()
        };
        if record.is_none() && !replace && inner.revoked.contains_key(request_id) {
            return Ok((crate::ingest::refused_as_revoked(request_id), None));
        }
        let existing: Vec<Message> = match &record {
            Some(record) => messages
                .iter()
                .filter(|m| record.held.contains(m.seq))
                .filter_map(|m| inner.messages.get(&(request_id.clone(), m.seq)).cloned())
                .collect(),
            None => Vec::new(),
        };
        let (plan, undo) =
            plan_ingest_keeping(request_id, record, &existing, messages, ctx, keep_undo);
        if !plan.touched {
            return Ok((plan.report, None));
        }
        if let Some(quota) = self.quota_bytes {
            let before = inner.chats.get(request_id).map_or(0, |c| c.bytes);
            let after = Self::used_bytes(&inner) - before + plan.record.bytes;
            if after > quota && plan.record.bytes > before {
                return Err(StoreError::QuotaExceeded {
                    operation: "ingest",
                    message: format!("{after} bytes would exceed the {quota} byte quota"),
                });
            }
        }
        if replace {
            // Only now that the page is known to fit: the swap loses nothing on a failure.
            inner.chats.remove(request_id);
            inner.messages.retain(|(chat, _), _| chat != request_id);
        }
        for message in plan.put {
            inner
                .messages
                .insert((request_id.clone(), message.seq), message);
        }
        inner
            .outbox
            .retain(|e| !plan.outbox_remove.contains(&e.client_temp_id));
        inner.chats.insert(request_id.clone(), plan.record);
        Ok((plan.report, undo))
    }
}

impl Store for MemoryStore {
    async fn ingest(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<IngestReport, StoreError> {
        Ok(self.ingest_keeping(request_id, messages, ctx, false)?.0)
    }

    async fn ingest_undoable(
        &self,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
    ) -> Result<(IngestReport, Option<IngestUndo>), StoreError> {
        self.ingest_keeping(request_id, messages, ctx, true)
    }

    async fn undo_ingest(&self, undo: &IngestUndo) -> Result<UndoOutcome, StoreError> {
        let chat = &undo.request_id;
        let current = self.inner.borrow().chats.get(chat).cloned();
        if !undo.still_current(current.as_ref()) {
            self.clear_chat(chat).await?;
            return Ok(UndoOutcome::ChatCleared);
        }
        let mut inner = self.inner.borrow_mut();
        for seq in &undo.remove {
            inner.messages.remove(&(chat.clone(), *seq));
        }
        for message in &undo.restore {
            inner
                .messages
                .insert((chat.clone(), message.seq), message.clone());
        }
        match &undo.before {
            Some(record) => inner.chats.insert(chat.clone(), record.clone()),
            None => inner.chats.remove(chat),
        };
        Ok(UndoOutcome::Restored)
    }

    async fn chat(&self, request_id: &RequestId) -> Result<Option<ChatRecord>, StoreError> {
        Ok(self.inner.borrow().chats.get(request_id).cloned())
    }

    async fn chats(&self) -> Result<Vec<ChatRecord>, StoreError> {
        Ok(self.inner.borrow().chats.values().cloned().collect())
    }

    async fn apply_summaries(
        &self,
        summaries: &[ChatSummary],
        listed_at: Millis,
    ) -> Result<Vec<RequestId>, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let mut changed = Vec::new();
        for summary in summaries {
            if !crate::changes::may_list(&inner.revoked, &summary.request_id, listed_at) {
                continue;
            }
            // Listed after it was revoked: handed back to the agent.
            inner.revoked.remove(&summary.request_id);
            let record = inner.chats.remove(&summary.request_id);
            let applied = apply_summary(record.clone(), summary);
            if record.as_ref() != Some(&applied) {
                changed.push(summary.request_id.clone());
            }
            inner.chats.insert(summary.request_id.clone(), applied);
        }
        Ok(changed)
    }

    async fn note_backend_last_seq(
        &self,
        request_id: &RequestId,
        last_seq: Seq,
    ) -> Result<(), StoreError> {
        if !self.inner.borrow().chats.contains_key(request_id)
            && self.inner.borrow().revoked.contains_key(request_id)
        {
            // A fetch answered before the chat was taken away must not bring back its record.
            return Ok(());
        }
        let mut inner = self.inner.borrow_mut();
        let record = inner
            .chats
            .entry(request_id.clone())
            .or_insert_with(|| ChatRecord::new(request_id.clone()));
        note_backend_last_seq(record, last_seq);
        Ok(())
    }

    async fn newest(&self, request_id: &RequestId, limit: u64) -> Result<Window, StoreError> {
        check_read(limit)?;
        let inner = self.inner.borrow();
        let mut messages: Vec<Message> = inner
            .messages
            .range((request_id.clone(), 0)..=(request_id.clone(), Seq::MAX))
            .rev()
            .take(limit as usize)
            .map(|(_, m)| m.clone())
            .collect();
        messages.reverse();
        Ok(Window {
            messages,
            corrupt: Vec::new(),
        })
    }

    async fn range(&self, request_id: &RequestId, range: SeqRange) -> Result<Window, StoreError> {
        check_read(range.len())?;
        Ok(Self::read(&self.inner.borrow(), request_id, range))
    }

    async fn mark_read(
        &self,
        request_id: &RequestId,
        read_seq: Seq,
        now: Millis,
    ) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .borrow_mut()
            .chats
            .get_mut(request_id)
            .is_some_and(|record| mark_read(record, read_seq, now).unread_changed))
    }

    async fn outbox_enqueue(&self, new: NewOutboxEntry) -> Result<OutboxEntry, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let mut outbox = Outbox::from_entries(inner.outbox.clone());
        let entry = outbox.admit(new)?.clone();
        inner.outbox.push(entry.clone());
        Ok(entry)
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut entries = self.inner.borrow().outbox.clone();
        crate::sort::sort_by_key(&mut entries, |e| e.order);
        Ok(entries)
    }

    async fn outbox_update(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let mut inner = self.inner.borrow_mut();
        match inner
            .outbox
            .iter_mut()
            .find(|e| e.client_temp_id == entry.client_temp_id)
        {
            Some(slot) => {
                *slot = entry.clone();
                Ok(())
            }
            None => Err(OutboxError::NotFound(entry.client_temp_id.clone()).into()),
        }
    }

    async fn outbox_remove(&self, client_temp_id: &str) -> Result<(), StoreError> {
        self.inner
            .borrow_mut()
            .outbox
            .retain(|e| e.client_temp_id != client_temp_id);
        Ok(())
    }

    async fn evict(&self, eviction: &Eviction) -> Result<u64, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let Some(mut record) = inner.chats.get(&eviction.request_id).cloned() else {
            return Ok(0);
        };
        let removed = apply_eviction(&mut record, eviction.below_seq);
        let id = eviction.request_id.clone();
        let doomed: Vec<(RequestId, Seq)> = inner
            .messages
            .range((id.clone(), 0)..(id.clone(), eviction.below_seq))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            inner.messages.remove(&key);
        }
        inner.chats.insert(id, record);
        Ok(removed)
    }

    async fn clear_chat(&self, request_id: &RequestId) -> Result<(), StoreError> {
        let mut inner = self.inner.borrow_mut();
        inner.chats.remove(request_id);
        let doomed: Vec<(RequestId, Seq)> = inner
            .messages
            .range((request_id.clone(), 0)..=(request_id.clone(), Seq::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            inner.messages.remove(&key);
        }
        Ok(())
    }

    async fn revoke_chat(
        &self,
        request_id: &RequestId,
        at: Millis,
    ) -> Result<Revocation, StoreError> {
        let mut inner = self.inner.borrow_mut();
        crate::changes::remember_revoked(&mut inner.revoked, request_id, at);
        let had_record = inner.chats.remove(request_id).is_some();
        let doomed: Vec<(RequestId, Seq)> = inner
            .messages
            .range((request_id.clone(), 0)..=(request_id.clone(), Seq::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        let mut media_ids = Vec::new();
        for key in doomed {
            if let Some(message) = inner.messages.remove(&key) {
                media_ids.extend(message.attachments.into_iter().map(|a| a.media_id));
            }
        }
        let (discarded, kept): (Vec<OutboxEntry>, Vec<OutboxEntry>) = inner
            .outbox
            .drain(..)
            .partition(|entry| &entry.request_id == request_id);
        inner.outbox = kept;
        Ok(Revocation {
            held_anything: had_record || !discarded.is_empty(),
            media_ids,
            outbox_discarded: discarded,
        })
    }

    async fn media_stats(&self) -> Result<MediaStats, StoreError> {
        Ok(self.inner.borrow().media.stats())
    }

    async fn media_hit(&self, media_id: &str, bytes: u64, now: Millis) -> Result<(), StoreError> {
        self.inner.borrow_mut().media.hit(media_id, bytes, now);
        Ok(())
    }

    async fn media_miss(&self) -> Result<(), StoreError> {
        self.inner.borrow_mut().media.miss();
        Ok(())
    }

    async fn media_stored(
        &self,
        media_id: &str,
        bytes: u64,
        now: Millis,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self.inner.borrow_mut().media.stored(media_id, bytes, now))
    }

    async fn media_set_budget(&self, budget: u64) -> Result<Vec<String>, StoreError> {
        Ok(self.inner.borrow_mut().media.set_budget(budget))
    }

    async fn media_forget(&self, ids: &[String]) -> Result<(), StoreError> {
        self.inner.borrow_mut().media.forget(ids);
        Ok(())
    }

    async fn media_clear(&self) -> Result<(), StoreError> {
        self.inner.borrow_mut().media.clear();
        Ok(())
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        let inner = self.inner.borrow();
        Ok(Usage {
            chats: inner.chats.len() as u64,
            messages: inner.messages.len() as u64,
            message_bytes: inner.chats.values().map(|c| c.bytes).sum(),
            outbox_entries: inner.outbox.len() as u64,
            outbox_bytes: inner.outbox.iter().map(OutboxEntry::approx_bytes).sum(),
        })
    }
}
