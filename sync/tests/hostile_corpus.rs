//! The hostile corpus against the core's decoders and the one ingest path, case by case:
//! every push payload, history page and chat list of `chat_sync::hostile_corpus` gets the
//! verdict it names (accepted, or refused with an error that names what was being decoded),
//! accepted values keep every string byte-exact through encode, decode and a store, and a
//! refused input writes nothing.
#![cfg(not(target_arch = "wasm32"))]

use chat_sync::decode;
use chat_sync::hostile_corpus::{push, replies, sizes, text};
use chat_sync::ingest::{IngestContext, Source};
use chat_sync::memory_store::MemoryStore;
use chat_sync::protocol::{InvalidInput, PushPayload};
use chat_sync::store::Store;
use chat_sync::{Message, RequestId, SeqRange};
use futures::executor::block_on;

fn ctx() -> IngestContext {
    IngestContext {
        now: 1,
        chat_open: false,
        own_user_id: Some("agent-1".into()),
        source: Source::Push,
        backend_last: None,
    }
}

/// Asserts a refusal names what was decoded, so a log line says which input was bad.
fn assert_names(error: &InvalidInput, what: &str, case: &str) {
    let text = error.to_string();
    let named = match error {
        InvalidInput::Malformed { what: w, .. } | InvalidInput::TooLarge { what: w, .. } => {
            *w == what || w.starts_with("message") || w.starts_with("attachment")
        }
        InvalidInput::TooMany { .. }
        | InvalidInput::BadRequestId(_)
        | InvalidInput::BadSeq(_)
        | InvalidInput::Mismatch(_) => true,
    };
    assert!(named && !text.is_empty(), "{case}: unclear error {text:?}");
}

#[test]
fn the_corpus_sizes_are_reported() {
    let mut total = 0;
    for (part, count) in sizes() {
        println!("hostile corpus: {count:>4} {part}");
        total += count;
    }
    println!("hostile corpus: {total:>4} entries in all");
    assert!(total > 300, "the corpus shrank to {total}");
}

#[test]
fn every_push_payload_gets_its_verdict() {
    let good = push::sample_message("REQ-1", 7);
    let cases = push::push_payloads(&good, "usr_a");
    for case in &cases {
        match (decode::push(case.json.as_bytes()), case.accepted) {
            (Ok(payload), true) => {
                // What was accepted encodes and decodes to itself.
                let again = serde_json::to_vec(&payload).expect("encode");
                assert_eq!(decode::push(&again).as_ref(), Ok(&payload), "{}", case.name);
            }
            (Err(error), false) => assert_names(&error, "push payload", &case.name),
            (Ok(payload), false) => panic!("{}: accepted {payload:?}", case.name),
            (Err(error), true) => panic!("{}: refused: {error}", case.name),
        }
    }
    println!("push payloads: {} cases", cases.len());
}

#[test]
fn every_history_page_gets_its_verdict() {
    let chat = RequestId::from("REQ-1");
    let good: Vec<Message> = (4..=6).map(|s| push::sample_message("REQ-1", s)).collect();
    let cases = replies::page_replies(&good, 3, 8);
    for case in &cases {
        match (
            decode::page(case.json.as_bytes(), &chat, 3, 8),
            case.accepted,
        ) {
            (Ok(_), true) => {}
            (Err(error), false) => assert_names(&error, "messages page", &case.name),
            (Ok(page), false) => panic!("{}: accepted {page:?}", case.name),
            (Err(error), true) => panic!("{}: refused: {error}", case.name),
        }
    }
    println!("history pages: {} cases", cases.len());
}

#[test]
fn every_chat_list_gets_its_verdict() {
    let cases = replies::chat_list_replies(&replies::sample_chat_list());
    for case in &cases {
        match (decode::chat_list(case.json.as_bytes()), case.accepted) {
            (Ok(_), true) => {}
            (Err(error), false) => assert_names(&error, "chat list", &case.name),
            (Ok(list), false) => panic!("{}: accepted {list:?}", case.name),
            (Err(error), true) => panic!("{}: refused: {error}", case.name),
        }
    }
    println!("chat lists: {} cases", cases.len());
}

#[test]
fn hostile_text_is_kept_byte_exact_through_a_push_and_the_store() {
    let store = MemoryStore::new();
    let chat = RequestId::from("REQ-1");
    let mut texts = text::stored_bodies();
    texts.extend(text::control());
    texts.extend(text::attachment_names());
    let mut sent = Vec::new();
    for (i, hostile) in texts.iter().enumerate() {
        let mut message = push::sample_message("REQ-1", i as u64 + 1);
        message.body = hostile.text.clone();
        message.sender.name = hostile.text.chars().take(200).collect();
        message.attachments[0].name = hostile.text.chars().take(255).collect();
        message.id = hostile.text.chars().take(100).collect();
        // Large bodies go as hints; the page that fetches them carries the same JSON.
        let json = serde_json::to_vec(&message).expect("encode");
        let decoded = decode::message(&json, "live event").expect(hostile.name);
        assert_eq!(decoded, message, "{}", hostile.name);
        if let pushed @ PushPayload::Message { .. } = PushPayload::for_message(&message, "usr_a") {
            let bytes = serde_json::to_vec(&pushed).expect("encode");
            match decode::push(&bytes).expect(hostile.name) {
                PushPayload::Message { message: back, to } => {
                    assert_eq!(back, message);
                    assert_eq!(to, "usr_a");
                }
                hint => panic!("{}: decoded a hint {hint:?}", hostile.name),
            }
        }
        sent.push(decoded);
    }
    let report = block_on(store.ingest(&chat, sent.clone(), &ctx())).expect("ingest");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let last = sent.len() as u64;
    let mut read = Vec::new();
    let mut from = 1;
    while from <= last {
        let to = (from + 999).min(last);
        read.extend(
            block_on(store.range(&chat, SeqRange::new(from, to)))
                .expect("read")
                .messages,
        );
        from = to + 1;
    }
    assert_eq!(read, sent, "the store changed a hostile string");
    println!("{} hostile texts kept byte-exact", texts.len());
}

#[test]
fn a_refused_push_writes_nothing_and_a_good_one_after_it_is_stored() {
    let store = MemoryStore::new();
    let good = push::sample_message("REQ-1", 7);
    let mut refused = 0;
    for case in push::push_payloads(&good, "usr_a")
        .iter()
        .filter(|c| !c.accepted)
    {
        // The worker's order: decode first, ingest only what decoded.
        if let Ok(PushPayload::Message { message, .. }) = decode::push(case.json.as_bytes()) {
            panic!("{}: decoded {message:?}", case.name);
        }
        refused += 1;
    }
    assert!(block_on(store.chats()).expect("read").is_empty());
    // Even a refused message that reaches the store (a live event the glue decoded without
    // validating) writes nothing.
    let mut zero = good.clone();
    zero.seq = 0;
    block_on(store.ingest(&good.request_id, vec![zero], &ctx())).expect("ingest");
    assert!(block_on(store.chats()).expect("read").is_empty());
    let payload = serde_json::to_vec(&PushPayload::for_message(&good, "usr_a")).expect("encode");
    let Ok(PushPayload::Message { message, .. }) = decode::push(&payload) else {
        panic!("the good push did not decode");
    };
    block_on(store.ingest(&good.request_id, vec![message], &ctx())).expect("ingest");
    let record = block_on(store.chat(&good.request_id))
        .expect("read")
        .expect("the good push made the chat");
    assert_eq!(record.held.ranges(), &[SeqRange::new(7, 7)]);
    println!("{refused} refused pushes wrote nothing");
}
