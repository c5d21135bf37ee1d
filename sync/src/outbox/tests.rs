//! Unit tests of [`super`].

use super::*;

fn enqueue(outbox: &mut Outbox, id: &str, chat: &str) {
    outbox
        .enqueue(
            id.into(),
            RequestId::from(chat),
            format!("body {id}"),
            Vec::new(),
            0,
        )
        .expect("room in the outbox");
}

fn ids(entries: Vec<&OutboxEntry>) -> Vec<&str> {
    entries.iter().map(|e| e.client_temp_id.as_str()).collect()
}

#[test]
fn the_hundred_and_first_entry_is_refused_clearly() {
    let mut outbox = Outbox::default();
    for i in 0..OUTBOX_CAPACITY {
        enqueue(&mut outbox, &format!("t{i}"), "r1");
    }
    let err = outbox
        .enqueue(
            "t100".into(),
            RequestId::from("r1"),
            "x".into(),
            Vec::new(),
            0,
        )
        .unwrap_err();
    assert_eq!(err, OutboxError::Full { capacity: 100 });
    assert!(err.to_string().contains("outbox is full"));
    assert_eq!(outbox.len(), 100);
}

#[test]
fn one_send_per_chat_in_writing_order() {
    let mut outbox = Outbox::default();
    enqueue(&mut outbox, "a1", "A");
    enqueue(&mut outbox, "b1", "B");
    enqueue(&mut outbox, "a2", "A");
    assert_eq!(ids(outbox.due(0)), vec!["a1", "b1"]);
    outbox.mark_sending("a1").unwrap();
    assert_eq!(ids(outbox.due(0)), vec!["b1"], "a2 waits for a1");
    outbox.on_sent("a1");
    assert_eq!(ids(outbox.due(0)), vec!["b1", "a2"]);
}

#[test]
fn retryable_failures_back_off_and_rejections_park() {
    let mut outbox = Outbox::default();
    let policy = BackoffPolicy::default();
    let mut rng = SplitMix64::new(3);
    enqueue(&mut outbox, "a1", "A");
    enqueue(&mut outbox, "a2", "A");
    outbox.mark_sending("a1").unwrap();
    outbox
        .on_failure("a1", SendFailure::Retryable, 1_000, &policy, &mut rng)
        .unwrap();
    assert!(
        outbox.due(1_000).is_empty(),
        "a1 backs off and a2 keeps its place behind it"
    );
    let wake = outbox.next_wakeup().unwrap();
    assert_eq!(ids(outbox.due(wake)), vec!["a1"]);
    outbox.mark_sending("a1").unwrap();
    outbox
        .on_failure(
            "a1",
            SendFailure::Rejected("body too long".into()),
            wake,
            &policy,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        ids(outbox.due(wake)),
        vec!["a2"],
        "a parked entry does not block its chat"
    );
    outbox.retry("a1").unwrap();
    assert_eq!(ids(outbox.due(wake)), vec!["a1"]);
}

#[test]
fn send_replies_are_classified() {
    assert_eq!(classify_send(Some(201), ""), SendVerdict::Stored);
    assert_eq!(classify_send(Some(200), ""), SendVerdict::Stored);
    assert_eq!(classify_send(Some(401), "x"), SendVerdict::SignedOut);
    for retry in [None, Some(500), Some(503), Some(408), Some(429), Some(302)] {
        assert_eq!(
            classify_send(retry, "x"),
            SendVerdict::Retry(SendFailure::Retryable),
            "{retry:?}"
        );
    }
    assert_eq!(
        classify_send(Some(403), "forbidden: not your chat"),
        SendVerdict::Retry(SendFailure::Rejected(
            "403: forbidden: not your chat".into()
        ))
    );
    assert_eq!(
        classify_send(Some(413), ""),
        SendVerdict::Retry(SendFailure::Rejected(
            "refused by the server with 413".into()
        ))
    );
}

#[test]
fn entries_left_sending_by_a_dead_context_are_queued_again() {
    let mut outbox = Outbox::default();
    enqueue(&mut outbox, "a1", "A");
    outbox.mark_sending("a1").unwrap();
    let mut reloaded = Outbox::from_entries(outbox.entries().to_vec());
    reloaded.recover_after_restart();
    assert_eq!(ids(reloaded.due(0)), vec!["a1"]);
}
