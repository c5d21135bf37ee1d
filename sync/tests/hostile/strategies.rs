//! Generators for the hostile properties: raw bytes and mutations of every corpus document,
//! arbitrary JSON alone and grafted into good documents, valid messages with hostile
//! strings, and merge scenarios.

use std::sync::OnceLock;

use chat_sync::hostile_corpus::build::{to_value, with_raw, with_value};
use chat_sync::hostile_corpus::json::{lone_surrogates, malformed, seq_literals};
use chat_sync::hostile_corpus::{push, replies, sends, text};
use chat_sync::memory_store::MemoryStore;
use chat_sync::protocol::{MAX_ATTACHMENTS, MAX_BODY_LEN, MAX_REQUEST_ID_LEN, MAX_SEQ};
use chat_sync::store::Store;
use chat_sync::{Attachment, Message, RequestId, Sender, SenderRole, Seq};
use futures::executor::block_on;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::Value;

use super::checks::{Op, Scenario, CHAT};

/// Every document of the corpus (push payloads, pages, chat lists, send requests,
/// malformed documents) and a cached chat record, as bytes to mutate; the first tuple part
/// holds the accepted ones (mutated most, so that many mutants still pass the parser and
/// reach validation), the second all of them.
fn corpus_documents() -> &'static (Vec<String>, Vec<String>) {
    static DOCS: OnceLock<(Vec<String>, Vec<String>)> = OnceLock::new();
    DOCS.get_or_init(|| {
        let good = push::sample_message(CHAT, 4);
        let page: Vec<Message> = (4..=6).map(|s| push::sample_message(CHAT, s)).collect();
        let cases: Vec<_> = push::push_payloads(&good, "usr_agent")
            .into_iter()
            .chain(replies::page_replies(&page, 3, 8))
            .chain(replies::chat_list_replies(&replies::sample_chat_list()))
            // Keep mutation cheap: the 64 KiB bodies are covered by the corpus tests.
            .filter(|c| c.json.len() <= 16 * 1024)
            .collect();
        let mut accepted: Vec<String> = cases
            .iter()
            .filter(|c| c.accepted)
            .map(|c| c.json.clone())
            .collect();
        accepted.push(record_json());
        accepted.push(serde_json::to_string(&good).unwrap_or_default());
        let mut all: Vec<String> = cases.into_iter().map(|c| c.json).collect();
        all.extend(
            sends::send_requests(CHAT)
                .into_iter()
                .map(|c| c.json)
                .filter(|d| d.len() <= 16 * 1024),
        );
        all.extend(malformed().into_iter().map(|h| h.text));
        all.extend(accepted.iter().cloned());
        (accepted, all)
    })
}

/// A cached chat record (what IndexedDB holds per chat) with a few held ranges.
fn record_json() -> String {
    let store = MemoryStore::new();
    let chat = RequestId::from(CHAT);
    let messages = [1, 2, 3, 7, 9]
        .into_iter()
        .map(|s| push::sample_message(CHAT, s))
        .collect();
    let ctx = chat_sync::suite::closed_chat_ctx();
    let _ = block_on(store.ingest(&chat, messages, &ctx));
    block_on(store.chat(&chat))
        .ok()
        .flatten()
        .and_then(|r| serde_json::to_string(&r).ok())
        .unwrap_or_default()
}

/// Tokens a mutation splices in: the pieces that break decoders.
const TOKENS: &[&str] = &[
    "\\ud800",
    "\\udc00",
    "9007199254740992",
    "18446744073709551616",
    "-1",
    "1e400",
    "null",
    "{",
    "}",
    "[",
    "\"",
    "\\",
    ",",
    ":",
    "\u{0}",
    "\u{FEFF}",
    "<script>",
];

/// Raw bytes: random, any string, and corpus documents with a few mutations each (byte
/// flips, inserts, deletes, truncation, spliced tokens).
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let (accepted, all) = corpus_documents();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        1 => any::<String>().prop_map(String::into_bytes),
        4 => mutated(accepted, 3),
        3 => mutated(all, 6),
    ]
}

/// A document of `docs` with up to `edits - 1` mutations.
fn mutated(docs: &'static [String], edits: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        select(docs),
        proptest::collection::vec((any::<Index>(), any::<u8>(), 0u8..5), 0..edits),
    )
        .prop_map(|(doc, edits)| {
            let mut bytes = doc.into_bytes();
            for (at, byte, kind) in edits {
                let len = bytes.len();
                let i = if len == 0 { 0 } else { at.index(len) };
                match kind {
                    0 if len > 0 => bytes[i] ^= byte | 1,
                    1 => bytes.insert(i, byte),
                    2 if len > 0 => {
                        bytes.remove(i);
                    }
                    3 => bytes.truncate(i),
                    _ => {
                        let token = TOKENS[byte as usize % TOKENS.len()].as_bytes();
                        bytes.splice(i..i, token.iter().copied());
                    }
                }
            }
            bytes
        })
}

/// Field names of the contract, so random objects often have the expected keys.
const KEYS: &[&str] = &[
    "kind",
    "message",
    "hint",
    "request_id",
    "seq",
    "id",
    "client_temp_id",
    "sender",
    "name",
    "role",
    "body",
    "attachments",
    "media_id",
    "mime",
    "size",
    "created_at",
    "deleted",
    "messages",
    "last_seq",
    "page_limit",
    "requests",
    "title",
    "requester",
    "last_message",
    "updated_at",
    "held",
    "corrupt",
    "sync_state",
    "__proto__",
];

fn hostile_string() -> impl Strategy<Value = String> {
    let corpus: Vec<String> = text::markup()
        .into_iter()
        .chain(text::unicode())
        .chain(text::blank())
        .chain(text::control())
        .chain(text::attachment_names())
        .map(|h| h.text)
        .filter(|t| t.len() <= 4_096)
        .collect();
    prop_oneof![
        3 => select(corpus.clone()),
        2 => any::<String>(),
        1 => (select(corpus), any::<String>()).prop_map(|(a, b)| format!("{a}{b}")),
        1 => select(vec!["message".to_owned(), "hint".to_owned(), "agent".to_owned(), "requester".to_owned(), CHAT.to_owned()]),
    ]
}

/// A JSON number: any `u64`, `i64` or finite `f64`, small seqs, and the edges of the seqs.
fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (1..20u64).prop_map(Value::from),
        select(vec![0u64, 1, MAX_SEQ, MAX_SEQ + 1, u64::MAX]).prop_map(Value::from),
    ]
}

/// Any JSON value, with hostile strings and numbers at the leaves and the contract's field
/// names as most keys.
fn json_value() -> impl Strategy<Value = Value> {
    let number = hostile_number();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number,
        hostile_string().prop_map(Value::String),
    ];
    let key = prop_oneof![
        4 => select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..7)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Good documents as JSON values with every JSON pointer inside them.
fn good_documents() -> &'static [(Value, Vec<String>)] {
    static GOOD: OnceLock<Vec<(Value, Vec<String>)>> = OnceLock::new();
    GOOD.get_or_init(|| {
        let message = push::sample_message(CHAT, 4);
        let docs = [
            serde_json::json!({ "kind": "message", "message": to_value(&message) }),
            serde_json::json!({ "kind": "hint", "request_id": CHAT, "seq": 4 }),
            to_value(&chat_sync::protocol::MessagesPage {
                request_id: RequestId::from(CHAT),
                messages: (4..=6).map(|s| push::sample_message(CHAT, s)).collect(),
                last_seq: 6,
                page_limit: 100,
            }),
            to_value(&replies::sample_chat_list()),
            to_value(&message),
            serde_json::from_str(&record_json()).unwrap_or(Value::Null),
        ];
        docs.into_iter()
            .map(|doc| {
                let mut pointers = Vec::new();
                collect_pointers(&doc, String::new(), &mut pointers);
                (doc, pointers)
            })
            .collect()
    })
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                collect_pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

/// JSON documents: any value, a good document with any value grafted at any place, or with a
/// hostile raw literal (a seq no `u64` holds, a lone surrogate) there.
pub fn json_documents() -> impl Strategy<Value = String> {
    let graft = (select(good_documents()), any::<Index>(), json_value()).prop_map(
        |((doc, pointers), at, value)| {
            let pointer = &pointers[at.index(pointers.len())];
            with_value(&doc, pointer, value).to_string()
        },
    );
    // The same kind of value as the one replaced (a string for a string, a number for a
    // number): most of these pass the parser and test validation, or are data to keep.
    let like = (
        select(good_documents()),
        proptest::collection::vec((any::<Index>(), hostile_string(), hostile_number()), 1..4),
    )
        .prop_map(|((doc, pointers), edits)| {
            let mut doc = doc.clone();
            for (at, text, number) in edits {
                let pointer = &pointers[at.index(pointers.len())];
                let new = match doc.pointer(pointer) {
                    Some(Value::String(_)) => Value::String(text),
                    Some(Value::Number(_)) => number,
                    _ => continue,
                };
                doc = with_value(&doc, pointer, new);
            }
            doc.to_string()
        });
    let raw_literals: Vec<String> = seq_literals()
        .into_iter()
        .map(|l| l.json.to_owned())
        .chain(lone_surrogates().into_iter().map(|h| h.text))
        .collect();
    let raw = (
        select(good_documents()),
        any::<Index>(),
        select(raw_literals),
    )
        .prop_map(|((doc, pointers), at, literal)| {
            let pointer = &pointers[at.index(pointers.len())];
            with_raw(&doc, pointer, &literal)
        });
    prop_oneof![
        1 => json_value().prop_map(|v| v.to_string()),
        2 => graft,
        2 => raw,
        3 => like,
    ]
}

fn valid_request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        3 => Just(RequestId::from(CHAT)),
        1 => hostile_string()
            .prop_map(|s| s.chars().filter(|c| !c.is_control()).take(40).collect::<String>())
            .prop_filter("a request id", |s| !s.is_empty() && s.len() <= MAX_REQUEST_ID_LEN)
            .prop_map(RequestId),
    ]
}

fn seq() -> impl Strategy<Value = Seq> {
    prop_oneof![Just(1), Just(MAX_SEQ), 1..=MAX_SEQ, 1..1_000u64]
}

/// Valid messages whose every string is hostile (bodies up to the size limit).
pub fn messages() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        8 => hostile_string(),
        1 => Just(text::body_at_limit()),
    ];
    let attachment = (
        hostile_string(),
        hostile_string(),
        hostile_string(),
        any::<u64>(),
    )
        .prop_map(|(media_id, name, mime, size)| Attachment {
            media_id,
            name,
            mime,
            size,
        });
    (
        (
            valid_request_id(),
            seq(),
            hostile_string(),
            proptest::option::of(hostile_string()),
        ),
        (hostile_string(), hostile_string(), any::<bool>()),
        (
            body,
            proptest::collection::vec(attachment, 0..=MAX_ATTACHMENTS),
        ),
        (any::<i64>(), any::<bool>()),
    )
        .prop_map(
            |(
                (request_id, seq, id, client_temp_id),
                (sender_id, name, agent),
                (body, attachments),
                (created_at, deleted),
            )| Message {
                request_id,
                seq,
                id,
                client_temp_id,
                sender: Sender {
                    id: sender_id,
                    name,
                    role: if agent {
                        SenderRole::Agent
                    } else {
                        SenderRole::Requester
                    },
                },
                body,
                attachments,
                created_at,
                deleted,
                version: 0,
                edited_at: None,
            },
        )
        .prop_filter("a body within the limit", |m| m.body.len() <= MAX_BODY_LEN)
}

fn op(last: Seq) -> impl Strategy<Value = Op> {
    let seq = 1..=last;
    prop_oneof![
        4 => seq.clone().prop_map(Op::Push),
        3 => (seq.clone(), 0..60u64).prop_map(|(from, len)| Op::Page { from, len }),
        2 => seq.clone().prop_map(Op::Live),
        1 => Just(Op::ChatList),
        2 => any::<usize>().prop_map(Op::HostilePush),
        2 => any::<usize>().prop_map(Op::HostilePage),
        1 => any::<usize>().prop_map(Op::HostileList),
        2 => (any::<u8>(), seq).prop_map(|(kind, seq)| Op::RawInvalid { kind, seq }),
    ]
}

/// A chat of up to 150 messages and up to 40 arrivals.
pub fn scenarios() -> impl Strategy<Value = Scenario> {
    (1u64..150, any::<usize>()).prop_flat_map(|(last, salt)| {
        proptest::collection::vec(op(last), 1..40).prop_map(move |ops| Scenario { last, salt, ops })
    })
}
