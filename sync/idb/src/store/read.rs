//! The IndexedDB store's reads: a chat record, every record, the newest window of a chat
//! and a bounded range, each one key range read with one `getAll`. A record that fails to
//! decode is counted and skipped, and its seq marked unreadable in the chat record (the
//! runtime fetches it again); an unusable chat record drops the chat for a reload.

use chat_sync::eviction::cut_keeping_newest;
use chat_sync::protocol::MAX_SEQ;
use chat_sync::store::{check_read, StoreError, Window};
use chat_sync::{ChatRecord, Message, RequestId, Seq, SeqRange, SeqRanges};

use wasm_bindgen::JsValue;

use super::{decode_batch, decode_record, read_record, IdbStore, RecordRead};
use crate::codec::{decode, encode, message_range, raw_seq};
use crate::database::{Access, Database};
use crate::request::{
    commit, get, get_all, get_all_records_prev, get_all_unbounded, object_store, put,
};
use crate::schema::{CHATS, MESSAGES};

/// The keys and the values of every record in the chats store `chats`: both `getAll`s issued
/// at once (before anything is awaited), their pairs in key order.
pub(super) fn every_record(
    chats: &web_sys::IdbObjectStore,
    operation: &'static str,
) -> Result<
    impl std::future::Future<Output = Result<(js_sys::Array, js_sys::Array), StoreError>>,
    StoreError,
> {
    let keys = get_all_unbounded(chats, true, operation)?;
    let values = get_all_unbounded(chats, false, operation)?;
    Ok(async move { Ok((keys.await?, values.await?)) })
}

impl IdbStore {
    /// Marks held seqs whose records are unreadable: the runtime treats them as missing.
    async fn mark_corrupt(
        &self,
        request_id: &RequestId,
        seqs: &SeqRanges,
    ) -> Result<(), StoreError> {
        crate::log_warn!(chat = %request_id, ranges = ?seqs.ranges(), "marking unreadable messages for a fetch");
        self.db
            .run("mark_corrupt", async |db| {
                let tx = Database::transaction(&db, &[CHATS], Access::Write, "mark_corrupt")?;
                let chats = object_store(&tx, CHATS, "mark_corrupt")?;
                if let RecordRead::Found(mut record) =
                    read_record(&chats, request_id, "mark_corrupt").await?
                {
                    record.corrupt.insert_all(&seqs.intersection(&record.held));
                    put(&chats, &encode(&record, "mark_corrupt")?, "mark_corrupt")?;
                }
                commit(&tx, "mark_corrupt").await
            })
            .await
    }

    /// A read's window: the decoded messages, and the held seqs of `range` that could not be
    /// read, which are then marked corrupt in the chat record.
    async fn window(
        &self,
        request_id: &RequestId,
        record: &ChatRecord,
        range: SeqRange,
        messages: Vec<Message>,
    ) -> Result<Window, StoreError> {
        let mut unreadable = record.held.intersection(&SeqRanges::from_range(range));
        for message in &messages {
            unreadable.remove_range(SeqRange::new(message.seq, message.seq));
        }
        let corrupt: Vec<Seq> = unreadable
            .ranges()
            .iter()
            .flat_map(|r| r.start..=r.end)
            .collect();
        if !corrupt.is_empty() {
            self.mark_corrupt(request_id, &unreadable).await?;
        }
        Ok(Window { messages, corrupt })
    }

    /// Decodes message records, skipping (and counting) those that fail.
    pub(super) fn decode_messages(&self, records: js_sys::Array) -> Vec<Message> {
        // Fast path: one `JSON.stringify` of the whole batch and one parse in Rust cost two
        // boundary crossings instead of one per field of every message. Any failure (a
        // damaged record) falls back to decoding record by record to find the culprit.
        if let Some(messages) = decode_batch::<Message>(&records) {
            return messages;
        }
        let mut messages = Vec::with_capacity(records.length() as usize);
        for value in records.iter() {
            let seq = raw_seq(&value);
            match decode::<Message>(value) {
                Ok(message) => messages.push(message),
                Err(error) => self.note_corrupt(&format!("message seq {seq:?}"), &error),
            }
        }
        messages
    }

    pub(super) async fn read_chat(
        &self,
        request_id: &RequestId,
    ) -> Result<Option<ChatRecord>, StoreError> {
        let read = self
            .db
            .run("chat", async |db| {
                let tx = Database::transaction(&db, &[CHATS], Access::Read, "chat")?;
                read_record(&object_store(&tx, CHATS, "chat")?, request_id, "chat").await
            })
            .await?;
        match read {
            RecordRead::Missing => Ok(None),
            RecordRead::Found(record) => Ok(Some(record)),
            RecordRead::Corrupt(reason) => {
                self.note_corrupt(&format!("chat {request_id}"), &reason);
                self.drop_chat(request_id, reason).await?;
                Ok(None)
            }
        }
    }

    pub(super) async fn read_chats(&self) -> Result<Vec<ChatRecord>, StoreError> {
        let (keys, values) = self
            .db
            .run("chats", async |db| {
                let tx = Database::transaction(&db, &[CHATS], Access::Read, "chats")?;
                every_record(&object_store(&tx, CHATS, "chats")?, "chats")?.await
            })
            .await?;
        let (records, unusable) = self.decode_chat_records(&keys, &values);
        for (id, reason) in unusable {
            self.drop_chat(&id, reason).await?;
        }
        Ok(records)
    }

    /// Decodes every chat record read by [`every_record`]; the unusable ones are counted and
    /// returned, each with its chat and reason, for the caller to drop.
    pub(super) fn decode_chat_records(
        &self,
        keys: &js_sys::Array,
        values: &js_sys::Array,
    ) -> (Vec<ChatRecord>, Vec<(RequestId, String)>) {
        let mut records = Vec::with_capacity(values.length() as usize);
        let mut unusable = Vec::new();
        for (key, value) in keys.iter().zip(values.iter()) {
            match decode_record(value) {
                RecordRead::Found(record) => records.push(record),
                RecordRead::Missing => {}
                RecordRead::Corrupt(reason) => {
                    let id = RequestId::new(key.as_string().unwrap_or_default());
                    self.note_corrupt(&format!("chat {id}"), &reason);
                    unusable.push((id, reason));
                }
            }
        }
        (records, unusable)
    }

    pub(super) async fn read_newest(
        &self,
        request_id: &RequestId,
        limit: u64,
    ) -> Result<Window, StoreError> {
        check_read(limit)?;
        const OP: &str = "newest";
        let read = self
            .db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[CHATS, MESSAGES], Access::Read, OP)?;
                let chats = object_store(&tx, CHATS, OP)?;
                let message_store = object_store(&tx, MESSAGES, OP)?;
                if limit > 0 {
                    // Where the browser has `getAllRecords` (Chromium), the newest `limit`
                    // records come from one reverse bounded request, issued together with
                    // the record read: one round trip.
                    let whole = message_range(request_id, 0, MAX_SEQ, OP)?;
                    if let Some(newest) = get_all_records_prev(&message_store, &whole, limit, OP)? {
                        let record = get(&chats, &JsValue::from_str(request_id.as_str()), OP)?;
                        let rows = newest.await?;
                        let record = decode_record(record.await?);
                        let values = js_sys::Array::new();
                        for row in rows.iter().rev() {
                            values.push(
                                &js_sys::Reflect::get(&row, &JsValue::from_str("value"))
                                    .unwrap_or(JsValue::UNDEFINED),
                            );
                        }
                        let range = match &record {
                            RecordRead::Found(r) => SeqRange::new(
                                cut_keeping_newest(r, limit),
                                r.held.max().unwrap_or(1).max(1),
                            ),
                            _ => SeqRange::new(1, 1),
                        };
                        return Ok((record, range, values));
                    }
                }
                let record = match read_record(&chats, request_id, OP).await? {
                    RecordRead::Found(record) => record,
                    other => return Ok((other, SeqRange::new(1, 1), js_sys::Array::new())),
                };
                let (Some(high), true) = (record.held.max(), limit > 0) else {
                    return Ok((
                        RecordRead::Found(record),
                        SeqRange::new(1, 1),
                        js_sys::Array::new(),
                    ));
                };
                // The held ranges say where the newest `limit` messages start, so one bounded
                // getAll reads exactly them: no cursor, nothing older.
                let low = cut_keeping_newest(&record, limit);
                let range = SeqRange::new(low, high);
                let query = message_range(request_id, low, high, OP)?;
                let records = get_all(&object_store(&tx, MESSAGES, OP)?, &query, OP)?.await?;
                Ok((RecordRead::Found(record), range, records))
            })
            .await?;
        match read {
            (RecordRead::Missing, _, _) => Ok(Window::default()),
            (RecordRead::Corrupt(reason), _, _) => {
                self.note_corrupt(&format!("chat {request_id}"), &reason);
                self.drop_chat(request_id, reason).await?;
                Ok(Window::default())
            }
            (RecordRead::Found(record), range, records) => {
                if records.length() == 0 && record.held.is_empty() {
                    return Ok(Window::default());
                }
                let messages = self.decode_messages(records);
                self.window(request_id, &record, range, messages).await
            }
        }
    }

    pub(super) async fn read_range(
        &self,
        request_id: &RequestId,
        range: SeqRange,
    ) -> Result<Window, StoreError> {
        check_read(range.len())?;
        const OP: &str = "range";
        let (record, records) = self
            .db
            .run(OP, async |db| {
                let tx = Database::transaction(&db, &[CHATS, MESSAGES], Access::Read, OP)?;
                let record = get(
                    &object_store(&tx, CHATS, OP)?,
                    &JsValue::from_str(request_id.as_str()),
                    OP,
                )?;
                let query = message_range(request_id, range.start, range.end, OP)?;
                let records = get_all(&object_store(&tx, MESSAGES, OP)?, &query, OP)?;
                Ok((decode_record(record.await?), records.await?))
            })
            .await?;
        let messages = self.decode_messages(records);
        match record {
            RecordRead::Found(record) => self.window(request_id, &record, range, messages).await,
            RecordRead::Missing => Ok(Window {
                messages,
                corrupt: Vec::new(),
            }),
            RecordRead::Corrupt(reason) => {
                self.note_corrupt(&format!("chat {request_id}"), &reason);
                self.drop_chat(request_id, reason).await?;
                Ok(Window::default())
            }
        }
    }
}
