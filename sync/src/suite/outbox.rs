//! The shared store suite's checks of the outbox: an echo removes the entry it confirms, and
//! the outbox keeps writing order, a capacity and unique keys.

use super::{closed_chat_ctx, message, outbox_entry};
use crate::outbox::{OutboxError, OutboxState, OUTBOX_CAPACITY};
use crate::store::{Store, StoreError};
use crate::types::{Millis, RequestId};

/// A server echo (the agent's own message) removes the outbox entry it confirms, in the same
/// transaction; someone else's message carrying the id of an unsent entry removes nothing.
pub async fn echo_confirms_the_outbox_entry<S: Store>(store: S) {
    let chat = RequestId::from("c1");
    store
        .outbox_enqueue(outbox_entry("tmp-1", "c1", 1))
        .await
        .expect("enqueue");
    store
        .outbox_enqueue(outbox_entry("tmp-2", "c1", 2))
        .await
        .expect("enqueue");
    let ctx = closed_chat_ctx();
    // The requester, who may write any `client_temp_id`, names the agent's unsent entry.
    let mut forged = message("c1", 1, "not the agent's");
    forged.client_temp_id = Some("tmp-2".into());
    let report = store
        .ingest(&chat, vec![forged], &ctx)
        .await
        .expect("ingest");
    assert!(report.confirmed_outbox.is_empty(), "{report:?}");
    let mut echo = message("c1", 2, "draft tmp-1");
    echo.client_temp_id = Some("tmp-1".into());
    echo.sender.id = ctx.own_user_id.clone().expect("the agent");
    echo.sender.role = crate::types::SenderRole::Agent;
    let report = store.ingest(&chat, vec![echo], &ctx).await.expect("ingest");
    assert_eq!(report.confirmed_outbox, vec!["tmp-1".to_owned()]);
    let left: Vec<String> = store
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .map(|e| e.client_temp_id)
        .collect();
    assert_eq!(left, vec!["tmp-2".to_owned()]);
}

/// The outbox keeps writing order, refuses the 101st entry and duplicate keys.
pub async fn outbox_capacity_order_and_updates<S: Store>(store: S) {
    for i in 0..OUTBOX_CAPACITY as Millis {
        let entry = store
            .outbox_enqueue(outbox_entry(&format!("t{i:03}"), "c1", i))
            .await
            .expect("room");
        assert_eq!(entry.state, OutboxState::Queued);
        assert_eq!(entry.created_at, i);
    }
    let full = store.outbox_enqueue(outbox_entry("t100", "c1", 100)).await;
    assert_eq!(
        full,
        Err(StoreError::Outbox(OutboxError::Full {
            capacity: OUTBOX_CAPACITY
        }))
    );
    let entries = store.outbox().await.expect("outbox");
    assert_eq!(entries.len(), OUTBOX_CAPACITY);
    assert!(
        entries.windows(2).all(|w| w[0].order < w[1].order),
        "writing order"
    );
    let mut first = entries[0].clone();
    first.state = OutboxState::Failed {
        reason: "403 forbidden".into(),
    };
    store.outbox_update(&first).await.expect("update");
    assert_eq!(store.outbox().await.expect("outbox")[0].state, first.state);
    store
        .outbox_remove(&first.client_temp_id)
        .await
        .expect("remove");
    store
        .outbox_enqueue(outbox_entry("t100", "c1", 100))
        .await
        .expect("room again");
    let duplicate = store.outbox_enqueue(outbox_entry("t100", "c1", 101)).await;
    assert!(matches!(
        duplicate,
        Err(StoreError::Outbox(OutboxError::Duplicate(_)))
    ));
}
