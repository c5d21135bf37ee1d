//! The IndexedDB store's write path: one ingest in one transaction over the chat record, the
//! cached copies it touches, the outbox entries it confirms and the remembered revocations.
//! The core decides what to write ([`chat_sync::ingest::plan_ingest`], with its undo when
//! asked); this reads its inputs and writes its plan, or refuses the whole write past the
//! byte budget.

use std::future::Future;

use chat_sync::ingest::{
    plan_ingest_keeping, IngestContext, IngestReport, IngestUndo, UndoOutcome,
};
use chat_sync::outbox::OutboxEntry;
use chat_sync::protocol::MAX_SEQ;
use chat_sync::store::StoreError;
use chat_sync::{ChatRecord, Message, RequestId, SeqRanges};
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbObjectStore};

use super::{read_record, revoked, Handed, IdbStore, RecordRead};
use crate::codec::{decode, encode, encode_all, message_key, message_range};
use crate::database::{Access, Database};
use crate::error::store_error;
use crate::platform;
use crate::request::{
    commit, committed, get_all, get_all_unbounded, object_store, put, request_commit,
};
use crate::schema::{self, CHATS, MESSAGES, OUTBOX};

impl IdbStore {
    /// Reads a record for a write, dropping an unusable one inside the same transaction.
    pub(super) async fn record_for_write(
        &self,
        chats: &IdbObjectStore,
        messages: &IdbObjectStore,
        request_id: &RequestId,
        operation: &'static str,
    ) -> Result<Option<ChatRecord>, StoreError> {
        match read_record(chats, request_id, operation).await? {
            RecordRead::Missing => Ok(None),
            RecordRead::Found(record) => Ok(Some(record)),
            RecordRead::Corrupt(reason) => {
                self.note_corrupt(&format!("chat {request_id}"), &reason);
                self.drop_reason(request_id, reason);
                delete_chat_in(chats, messages, request_id, operation)?;
                Ok(None)
            }
        }
    }

    pub(super) async fn ingest_once(
        &self,
        db: IdbDatabase,
        request_id: &RequestId,
        messages: Vec<Message>,
        ctx: &IngestContext,
        keep_undo: bool,
    ) -> Result<(IngestReport, Option<IngestUndo>), StoreError> {
        const OP: &str = "ingest";
        // The phases are left as `performance.measure` entries (`idb:ingest-read`, `-write`,
        // `-commit`): the delta sync benchmark prints them.
        let started = platform::precise_now();
        let tx = Database::transaction(
            &db,
            &[MESSAGES, CHATS, OUTBOX, schema::META],
            Access::Write,
            OP,
        )?;
        let message_store = object_store(&tx, MESSAGES, OP)?;
        let chat_store = object_store(&tx, CHATS, OP)?;
        let outbox_store = object_store(&tx, OUTBOX, OP)?;
        // What the rest of the cache holds, for the byte budget: asked for now, beside the
        // record, so the answer is there when the plan needs it (it rarely waits on it then).
        let held_elsewhere = self.budget.map(|budget| {
            (
                budget,
                chat_bytes_except(&chat_store, request_id, OP),
                outbox_bytes(&outbox_store, OP),
            )
        });
        let record = if ctx.source.replaces_chat() {
            // A full reload: the old copy goes in this transaction, with the new page, so a
            // failure anywhere leaves it whole.
            delete_chat_in(&chat_store, &message_store, request_id, OP)?;
            None
        } else {
            self.record_for_write(&chat_store, &message_store, request_id, OP)
                .await?
        };
        if record.is_none() && !ctx.source.replaces_chat() {
            // Only a chat without a record can be one the cache let go of.
            let meta = object_store(&tx, schema::META, OP)?;
            if revoked::read_revoked(&meta, OP)
                .await?
                .contains_key(request_id)
            {
                return Ok((chat_sync::ingest::refused_as_revoked(request_id), None));
            }
        }
        let bytes_before = record.as_ref().map_or(0, |r| r.bytes);
        platform::measure("idb:ingest-read", started);

        // The cached copies of the incoming seqs the chat already holds, read as contiguous
        // runs with one getAll each, all issued before any is awaited.
        let mut wanted = SeqRanges::new();
        if let Some(record) = &record {
            for message in &messages {
                if &message.request_id == request_id && record.held.contains(message.seq) {
                    wanted.insert(message.seq);
                }
            }
        }
        let mut reads = Vec::new();
        for run in wanted.ranges() {
            let range = message_range(request_id, run.start, run.end, OP)?;
            reads.push(get_all(&message_store, &range, OP)?);
        }
        let mut existing = Vec::new();
        for read in reads {
            existing.extend(self.decode_messages(read.await?));
        }

        let planned = platform::precise_now();
        let (plan, undo) =
            plan_ingest_keeping(request_id, record, &existing, messages, ctx, keep_undo);
        if !plan.touched {
            // Everything was refused: the transaction ends with nothing written.
            return Ok((plan.report, None));
        }

        if let Some((budget, others, outbox)) = held_elsewhere {
            if plan.record.bytes > bytes_before {
                let used = others.await? + outbox.await? + plan.record.bytes;
                if used > budget {
                    let _ = tx.abort();
                    return Err(StoreError::QuotaExceeded {
                        operation: OP,
                        message: format!("{used} bytes would exceed the {budget} byte budget"),
                    });
                }
            }
        }

        let written = (|| {
            for record in encode_all(&plan.put, OP)?.iter() {
                put(&message_store, &record, OP)?;
            }
            put(&chat_store, &encode(&plan.record, OP)?, OP)?;
            for id in &plan.outbox_remove {
                outbox_store
                    .delete(&JsValue::from_str(id))
                    .map_err(|e| store_error(OP, &e))?;
            }
            Ok::<(), StoreError>(())
        })();
        if let Err(error) = written {
            let _ = tx.abort();
            return Err(error);
        }
        platform::measure("idb:ingest-write", planned);
        let committing = platform::precise_now();
        // What this context's views may show before the commit, once it is asked for: they
        // are handed it while the browser commits (see `written`).
        let handed = if self.watchers.watched(request_id) {
            plan.written(request_id, ctx, keep_undo)
        } else {
            None
        };
        request_commit(&tx);
        if let Some(written) = &handed {
            self.watchers.tell(request_id, Handed::Written(written));
        }
        if let Err(error) = committed(&tx, OP).await {
            if handed.is_some() {
                self.watchers.tell(request_id, Handed::Unwritten);
            }
            return Err(error);
        }
        platform::measure("idb:ingest-commit", committing);
        Ok((plan.report, undo))
    }

    /// Takes an ingest back ([`IngestUndo`]) in one transaction, committed with strict
    /// durability: what it removes must not come back after a crash.
    pub(super) async fn undo_once(
        &self,
        db: IdbDatabase,
        undo: &IngestUndo,
    ) -> Result<UndoOutcome, StoreError> {
        const OP: &str = "undo_ingest";
        let tx = Database::transaction(&db, &[CHATS, MESSAGES], Access::WriteDurable, OP)?;
        let chat_store = object_store(&tx, CHATS, OP)?;
        let message_store = object_store(&tx, MESSAGES, OP)?;
        let chat = &undo.request_id;
        let current = match read_record(&chat_store, chat, OP).await? {
            RecordRead::Found(record) => Some(record),
            RecordRead::Missing | RecordRead::Corrupt(_) => None,
        };
        let outcome = if undo.still_current(current.as_ref()) {
            for seq in &undo.remove {
                message_store
                    .delete(&message_key(chat, *seq))
                    .map_err(|e| store_error(OP, &e))?;
            }
            for record in encode_all(&undo.restore, OP)?.iter() {
                put(&message_store, &record, OP)?;
            }
            match &undo.before {
                Some(record) => put(&chat_store, &encode(record, OP)?, OP)?,
                None => {
                    chat_store
                        .delete(&JsValue::from_str(chat.as_str()))
                        .map_err(|e| store_error(OP, &e))?;
                }
            }
            UndoOutcome::Restored
        } else {
            delete_chat_in(&chat_store, &message_store, chat, OP)?;
            UndoOutcome::ChatCleared
        };
        commit(&tx, OP).await?;
        Ok(outcome)
    }
}

/// Issues the deletes of a chat's record and messages (not awaited: the transaction commits
/// them with the rest).
pub(super) fn delete_chat_in(
    chats: &IdbObjectStore,
    messages: &IdbObjectStore,
    request_id: &RequestId,
    operation: &'static str,
) -> Result<(), StoreError> {
    chats
        .delete(&JsValue::from_str(request_id.as_str()))
        .map_err(|e| store_error(operation, &e))?;
    messages
        .delete(&message_range(request_id, 0, MAX_SEQ, operation)?)
        .map_err(|e| store_error(operation, &e))?;
    Ok(())
}

/// The bytes of every chat but `except`, from the chat records (which carry their bytes).
fn chat_bytes_except(
    chats: &IdbObjectStore,
    except: &RequestId,
    operation: &'static str,
) -> impl Future<Output = Result<u64, StoreError>> {
    let all = get_all_unbounded(chats, false, operation);
    let except = except.clone();
    async move {
        let mut total = 0;
        for value in all?.await?.iter() {
            if let Ok(record) = decode::<ChatRecord>(value) {
                if record.request_id != except {
                    total += record.bytes;
                }
            }
        }
        Ok(total)
    }
}

fn outbox_bytes(
    outbox: &IdbObjectStore,
    operation: &'static str,
) -> impl Future<Output = Result<u64, StoreError>> {
    let all = get_all_unbounded(outbox, false, operation);
    async move {
        Ok(all?
            .await?
            .iter()
            .filter_map(|v| decode::<OutboxEntry>(v).ok())
            .map(|e| e.approx_bytes())
            .sum())
    }
}
