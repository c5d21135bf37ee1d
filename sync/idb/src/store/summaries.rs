//! Applying the backend's chat list to the chat records, in one transaction: every record
//! read with one `getAll` (not one awaited `get` per listed chat, which held the chats and
//! messages stores for tens of milliseconds after each reconnect, with every view's reads
//! queued behind it), the core's [`apply_summary`] on each, and only the records it changed
//! written back (and named to the caller, which announces them).

use chat_sync::changes::may_list;
use chat_sync::ingest::apply_summary;
use chat_sync::store::{records_by_id, StoreError};
use chat_sync::{ChatSummary, Millis, RequestId};
use web_sys::IdbDatabase;

use super::ingest::delete_chat_in;
use super::read::every_record;
use super::{revoked, IdbStore};
use crate::codec::encode;
use crate::database::{Access, Database};
use crate::request::{commit, object_store, put};
use crate::schema::{self, CHATS, MESSAGES};

impl IdbStore {
    pub(super) async fn apply_summaries_once(
        &self,
        db: IdbDatabase,
        summaries: &[ChatSummary],
        listed_at: Millis,
    ) -> Result<Vec<RequestId>, StoreError> {
        const OP: &str = "apply_summaries";
        let tx = Database::transaction(&db, &[CHATS, MESSAGES, schema::META], Access::Write, OP)?;
        let chats = object_store(&tx, CHATS, OP)?;
        let messages = object_store(&tx, MESSAGES, OP)?;
        let meta = object_store(&tx, schema::META, OP)?;
        let all = every_record(&chats, OP)?;
        let mut revoked = revoked::read_revoked(&meta, OP).await?;
        let (keys, values) = all.await?;
        let (found, unusable) = self.decode_chat_records(&keys, &values);
        for (id, reason) in unusable {
            // Dropped in this transaction, as every write does with an unusable record; a
            // listed chat gets a fresh one below.
            self.drop_reason(&id, reason);
            delete_chat_in(&chats, &messages, &id, OP)?;
        }
        let mut records = records_by_id(found);
        let revoked_before = revoked.len();
        let mut changed = Vec::new();
        for summary in summaries {
            if !may_list(&revoked, &summary.request_id, listed_at) {
                continue;
            }
            // Listed after it was revoked: handed back to the agent.
            revoked.remove(&summary.request_id);
            let record = records.remove(&summary.request_id);
            let applied = apply_summary(record.clone(), summary);
            if record.as_ref() != Some(&applied) {
                put(&chats, &encode(&applied, OP)?, OP)?;
                changed.push(summary.request_id.clone());
            }
        }
        if revoked.len() != revoked_before {
            revoked::write_revoked(&meta, &revoked, OP)?;
        }
        commit(&tx, OP).await?;
        Ok(changed)
    }
}
