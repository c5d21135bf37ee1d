//! The shared store suite's checks for edits, redactions and revocation ([`crate::changes`]):
//! every store keeps the newer copy, stores a tombstone erased, keeps a change of older
//! history aside until its message arrives, and lets go of a revoked chat whole.

use super::{closed_chat_ctx, message, messages, outbox_entry};
use crate::ingest::{ChangeFacts, IngestContext, Source};
use crate::ranges::SeqRange;
use crate::store::Store;
use crate::types::{Attachment, ChatSummary, Message, Person, RequestId, Seq};

fn change_ctx(backend_version: u64) -> IngestContext {
    IngestContext {
        source: Source::Change(ChangeFacts {
            through: None,
            backend_version,
            closed: None,
        }),
        ..closed_chat_ctx()
    }
}

fn fetch_ctx() -> IngestContext {
    IngestContext {
        source: Source::Fetch,
        ..closed_chat_ctx()
    }
}

fn with_file(mut message: Message, media_id: &str) -> Message {
    message.attachments.push(Attachment {
        media_id: media_id.into(),
        name: "passwords.txt".into(),
        mime: "text/plain".into(),
        size: 9,
    });
    message
}

fn changed(chat: &str, seq: Seq, body: &str, version: u64, deleted: bool) -> Message {
    let mut message = message(chat, seq, body);
    message.version = version;
    message.deleted = deleted;
    message.edited_at = (!deleted).then_some(1_700_000_100_000);
    message
}

async fn cached<S: Store>(store: &S, chat: &str, seq: Seq) -> Option<Message> {
    store
        .range(&RequestId::from(chat), SeqRange::new(seq, seq))
        .await
        .expect("read")
        .messages
        .pop()
}

/// A newer version replaces the cached copy, an older one is stale, a redaction is stored
/// erased and is final.
pub async fn edits_and_redactions_follow_the_version_rule<S: Store>(store: S) {
    let chat = RequestId::from("e");
    let first = vec![
        message("e", 1, "hello"),
        with_file(message("e", 2, "password: hunter2"), "med-secret"),
        message("e", 3, "bye"),
    ];
    store
        .ingest(&chat, first, &fetch_ctx())
        .await
        .expect("ingest");

    let report = store
        .ingest(
            &chat,
            vec![changed("e", 3, "bye, edited", 1, false)],
            &change_ctx(1),
        )
        .await
        .expect("edit");
    assert_eq!(report.replaced, 1);
    assert_eq!(
        cached(&store, "e", 3).await.expect("held").body,
        "bye, edited"
    );
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert_eq!(record.last_message.as_deref(), Some("bye, edited"));
    assert_eq!(record.change_version, 1);

    let stale = store
        .ingest(&chat, vec![message("e", 3, "bye")], &fetch_ctx())
        .await
        .expect("stale copy");
    assert_eq!(stale.stale, 1);
    assert_eq!(
        cached(&store, "e", 3).await.expect("held").body,
        "bye, edited"
    );

    let redaction = with_file(changed("e", 2, "password: hunter2", 2, true), "med-secret");
    let report = store
        .ingest(&chat, vec![redaction], &change_ctx(2))
        .await
        .expect("redact");
    assert_eq!(report.redacted, vec![2]);
    assert_eq!(report.erased_media, vec!["med-secret".to_owned()]);
    let tombstone = cached(&store, "e", 2).await.expect("the seq stays held");
    assert!(tombstone.deleted && tombstone.body.is_empty() && tombstone.attachments.is_empty());

    let later = store
        .ingest(
            &chat,
            vec![changed("e", 2, "resurrected", 5, false)],
            &change_ctx(5),
        )
        .await
        .expect("a later edit");
    assert_eq!(later.stale, 1, "a redaction is final");
    assert!(cached(&store, "e", 2).await.expect("held").deleted);
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert_eq!(record.change_version, 2, "version 5 left a hole at 3 and 4");
    assert_eq!(later.changes_due, Some(2));
}

/// A change of a message older than anything cached waits aside (no gap opens), and the
/// message, when it arrives in its old state, is stored changed.
pub async fn a_change_of_older_history_waits_for_its_message<S: Store>(store: S) {
    let chat = RequestId::from("o");
    store
        .ingest(&chat, messages("o", 10, 12), &fetch_ctx())
        .await
        .expect("ingest");
    let report = store
        .ingest(&chat, vec![changed("o", 5, "", 1, true)], &change_ctx(1))
        .await
        .expect("redaction of an uncached message");
    assert_eq!(report.kept_aside, 1);
    assert!(report.new_seqs.is_empty());
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert_eq!(record.held.min(), Some(10), "no gap opened below the cache");
    assert_eq!(record.pending_changes.len(), 1);

    let page = store
        .ingest(&chat, messages("o", 4, 9), &fetch_ctx())
        .await
        .expect("older page, fetched before the redaction");
    assert_eq!(page.new_seqs.len(), 6);
    let five = cached(&store, "o", 5).await.expect("held");
    assert!(five.deleted && five.body.is_empty(), "{five:?}");
    let record = store.chat(&chat).await.expect("read").expect("record");
    assert!(record.pending_changes.is_empty());
}

/// Revoking a chat removes its messages, record and outbox entries, names its media, and
/// leaves other chats alone.
pub async fn revoking_a_chat_lets_go_of_all_of_it<S: Store>(store: S) {
    let gone = RequestId::from("gone");
    store
        .ingest(
            &gone,
            vec![
                with_file(message("gone", 1, "x"), "med-1"),
                message("gone", 2, "y"),
            ],
            &closed_chat_ctx(),
        )
        .await
        .expect("ingest");
    store
        .ingest(
            &RequestId::from("kept"),
            messages("kept", 1, 3),
            &closed_chat_ctx(),
        )
        .await
        .expect("ingest");
    store
        .outbox_enqueue(outbox_entry("t1", "gone", 1))
        .await
        .expect("outbox");
    store
        .outbox_enqueue(outbox_entry("t2", "kept", 2))
        .await
        .expect("outbox");

    let revocation = store.revoke_chat(&gone, 1).await.expect("revoke");
    assert!(revocation.held_anything);
    assert_eq!(revocation.media_ids, vec!["med-1".to_owned()]);
    assert_eq!(revocation.outbox_discarded.len(), 1);
    assert!(store.chat(&gone).await.expect("read").is_none());
    assert!(cached(&store, "gone", 1).await.is_none());
    let outbox = store.outbox().await.expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].client_temp_id, "t2");
    assert!(cached(&store, "kept", 3).await.is_some());

    let again = store.revoke_chat(&gone, 2).await.expect("revoke twice");
    assert!(!again.held_anything);

    // A chat list read before the revocation (a catch-up that raced it) does not bring the
    // chat back; one read after it (the chat handed back) does.
    let summary = ChatSummary {
        request_id: gone.clone(),
        title: "gone".into(),
        requester: Person {
            id: "q".into(),
            name: "Q".into(),
        },
        last_seq: 2,
        last_message: Some("y".into()),
        updated_at: 1,
        change_version: 1,
        closed: false,
    };
    store
        .apply_summaries(std::slice::from_ref(&summary), 1)
        .await
        .expect("stale list");
    assert!(
        store.chat(&gone).await.expect("read").is_none(),
        "a stale list"
    );
    let late = store
        .ingest(
            &gone,
            vec![message("gone", 3, "late push")],
            &closed_chat_ctx(),
        )
        .await
        .expect("a late push");
    assert!(
        late.new_seqs.is_empty() && late.rejected.len() == 1,
        "{late:?}"
    );
    assert!(
        store.chat(&gone).await.expect("read").is_none(),
        "a late push"
    );
    store
        .note_backend_last_seq(&gone, 9)
        .await
        .expect("a late fetch reply's last seq");
    assert!(
        store.chat(&gone).await.expect("read").is_none(),
        "a late fetch reply"
    );
    store
        .apply_summaries(std::slice::from_ref(&summary), 3)
        .await
        .expect("later list");
    assert!(
        store.chat(&gone).await.expect("read").is_some(),
        "handed back"
    );
    let back = store
        .ingest(
            &gone,
            vec![message("gone", 3, "welcome back")],
            &closed_chat_ctx(),
        )
        .await
        .expect("a message after it was handed back");
    assert_eq!(back.new_seqs, vec![3]);
}
