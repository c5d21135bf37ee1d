//! Property tests of edits and redactions through the one ingest path: whatever order the
//! copies of messages and their changes arrive in (from a fetch, a push, the live stream or
//! the changes catch-up, duplicated or stale), the cache converges to the server's current
//! state of every message, no redacted body is left anywhere in it, and the change cursor
//! ends at the server's version.
#![cfg(not(target_arch = "wasm32"))]

use chat_sync::ingest::{ChangeFacts, IngestContext, Source};
use chat_sync::memory_store::MemoryStore;
use chat_sync::store::Store;
use chat_sync::suite::message;
use chat_sync::{Message, RequestId, Seq, SeqRange};
use futures::executor::block_on;
use proptest::prelude::*;

const CHAT: &str = "chat";

/// One change at the server: an edit (a new body) or a redaction of `seq`.
#[derive(Clone, Debug)]
enum Op {
    Edit(Seq),
    Redact(Seq),
}

/// How a copy reaches the cache.
#[derive(Clone, Copy, Debug)]
enum Path {
    Fetch,
    Push,
    Live,
}

#[derive(Clone, Debug)]
struct Scenario {
    last: Seq,
    ops: Vec<Op>,
    /// Which copies are delivered, in which order, and by which path: indexes into the list
    /// of every copy the server ever had (the originals, then one per change), each
    /// delivered at least once.
    order: Vec<(usize, Path)>,
    /// Where in the order the final state of every message arrives (a fetch), if it does:
    /// every copy is delivered anyway, so the cache must converge without it too.
    final_at: Option<usize>,
}

/// Every copy the server had, in version order: the originals (version 0) and the message
/// state after each change; and the final state of each message.
fn history(last: Seq, ops: &[Op]) -> (Vec<Message>, Vec<Message>) {
    let mut current: Vec<Message> = (1..=last)
        .map(|s| message(CHAT, s, &format!("original {s}")))
        .collect();
    let mut copies = current.clone();
    let mut version = 0;
    for op in ops {
        version += 1;
        let seq = match op {
            Op::Edit(s) | Op::Redact(s) => (*s - 1) % last + 1,
        };
        let state = &mut current[(seq - 1) as usize];
        if state.deleted {
            // The server refuses to change a tombstone: the version is used by no message
            // (like a close or a reassignment).
            continue;
        }
        match op {
            Op::Edit(_) => {
                state.body = format!("edit {version} of {seq}");
                state.edited_at = Some(version as i64);
            }
            Op::Redact(_) => {
                state.body = String::new();
                state.attachments.clear();
                state.deleted = true;
            }
        }
        state.version = version;
        copies.push(state.clone());
    }
    (copies, current)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1u64..=12)
        .prop_flat_map(|last| {
            let op = prop_oneof![
                (1..=last).prop_map(Op::Edit),
                (1..=last).prop_map(Op::Redact)
            ];
            (Just(last), proptest::collection::vec(op, 0..16))
        })
        .prop_flat_map(|(last, ops)| {
            let copies = history(last, &ops).0.len();
            let path = prop_oneof![Just(Path::Fetch), Just(Path::Push), Just(Path::Live)];
            let extra = proptest::collection::vec((0..copies, path.clone()), 0..copies);
            let each = proptest::collection::vec(path, copies);
            (
                Just(last),
                Just(ops),
                each,
                extra,
                proptest::option::of(any::<prop::sample::Index>()),
            )
        })
        .prop_flat_map(|(last, ops, each, extra, final_at)| {
            let mut order: Vec<(usize, Path)> = each.into_iter().enumerate().collect();
            order.extend(extra);
            let len = order.len();
            (
                Just(last),
                Just(ops),
                Just(order).prop_shuffle(),
                Just(final_at.map(|at| at.index(len + 1))),
            )
        })
        .prop_map(|(last, ops, order, final_at)| Scenario {
            last,
            ops,
            order,
            final_at,
        })
}

fn context(copy: &Message, path: Path) -> IngestContext {
    let source = if copy.version > 0 {
        // A changed copy travels as a change, whatever carried it.
        Source::Change(ChangeFacts {
            through: None,
            backend_version: copy.version,
            closed: None,
        })
    } else {
        match path {
            Path::Fetch => Source::Fetch,
            Path::Push => Source::Push,
            Path::Live => Source::Live,
        }
    };
    IngestContext {
        now: 1,
        chat_open: false,
        own_user_id: None,
        source,
        backend_last: None,
    }
}

fn run(scenario: &Scenario) -> Result<(), TestCaseError> {
    let (copies, current) = history(scenario.last, &scenario.ops);
    let server_version = scenario.ops.len() as u64;
    let chat = RequestId::from(CHAT);
    let store = MemoryStore::new();
    let deliver_final = |store: &MemoryStore| {
        block_on(store.ingest(
            &chat,
            current.clone(),
            &IngestContext {
                now: 1,
                chat_open: false,
                own_user_id: None,
                source: Source::Fetch,
                backend_last: None,
            },
        ))
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(e.to_string()))
    };
    for (at, (index, path)) in scenario.order.iter().enumerate() {
        if scenario.final_at == Some(at) {
            deliver_final(&store)?;
        }
        let copy = &copies[*index];
        block_on(store.ingest(&chat, vec![copy.clone()], &context(copy, *path)))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    if scenario.final_at == Some(scenario.order.len()) {
        deliver_final(&store)?;
    }
    // The changes catch-up: every change since the cursor, in their current state.
    let record = block_on(store.chat(&chat))
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .expect("the chat exists");
    let since = record.change_version;
    let changes: Vec<Message> = current
        .iter()
        .filter(|m| m.version > since)
        .cloned()
        .collect();
    block_on(store.ingest(
        &chat,
        changes,
        &IngestContext {
            now: 1,
            chat_open: false,
            own_user_id: None,
            source: Source::Change(ChangeFacts {
                through: Some(server_version),
                backend_version: server_version,
                closed: None,
            }),
            backend_last: None,
        },
    ))
    .map_err(|e| TestCaseError::fail(e.to_string()))?;

    let cached = block_on(store.range(&chat, SeqRange::new(1, scenario.last)))
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .messages;
    prop_assert_eq!(
        &cached,
        &current,
        "the cache equals the server's current state"
    );
    let record = block_on(store.chat(&chat))
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .expect("the chat exists");
    prop_assert!(record.pending_changes.is_empty());
    prop_assert_eq!(record.change_version, server_version);
    prop_assert_eq!(chat_sync::changes::changes_since(&record), None);
    for message in cached.iter().filter(|m| m.deleted) {
        prop_assert!(message.body.is_empty() && message.attachments.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_order_of_messages_edits_and_redactions_converges(scenario in scenario()) {
        run(&scenario)?;
    }
}
