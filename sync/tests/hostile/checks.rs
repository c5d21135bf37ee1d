//! The properties, as plain functions returning what broke: what every decoder must do with
//! any input, what a valid message with hostile strings must survive, and what merging any
//! interleaving of good and hostile inputs must keep.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chat_sync::decode;
use chat_sync::hostile_corpus::{push, replies, text, Case};
use chat_sync::ingest::{IngestContext, Source};
use chat_sync::linkify::{pieces, Piece};
use chat_sync::memory_store::MemoryStore;
use chat_sync::protocol::{
    validate_message, validate_request_id, validate_seq, ChatList, InvalidInput, MessagesPage,
    PushPayload, MAX_PUSH_PAYLOAD_LEN, MAX_SEQ,
};
use chat_sync::store::Store;
use chat_sync::timeline::{local_day, starts_group, Timeline};
use chat_sync::{ChatRecord, ChatSummary, Message, Person, RequestId, Seq, SeqRange, SeqRanges};
use futures::executor::block_on;

/// The chat every property works in.
pub const CHAT: &str = "REQ-1";

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}

fn refusal(error: &InvalidInput) -> Result<(), String> {
    ensure(!error.to_string().trim().is_empty(), || {
        format!("an error without a message: {error:?}")
    })
}

/// Which decoders accepted an input, to report how deep the generated inputs get.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accepted {
    /// A push payload.
    pub push: bool,
    /// A page for `1..=MAX_SEQ` or `3..=8`.
    pub page: bool,
    /// A chat list.
    pub list: bool,
    /// A single message.
    pub message: bool,
    /// A cached chat record.
    pub record: bool,
}

/// Every decoder on `bytes`: never a panic; an accepted value satisfies the contract, a
/// refusal says why. Cached chat records and held ranges (what a damaged IndexedDB record
/// holds) are decoded too, and everything derived from them is computed.
pub fn decode_everything(bytes: &[u8]) -> Result<Accepted, String> {
    let chat = RequestId::from(CHAT);
    let mut accepted = Accepted::default();
    match decode::push(bytes) {
        Ok(payload) => {
            accepted.push = true;
            ensure(bytes.len() <= MAX_PUSH_PAYLOAD_LEN, || {
                format!("accepted a {}-byte push", bytes.len())
            })?;
            match &payload {
                PushPayload::Message { message, .. } => validate_message(message),
                PushPayload::Change { message, .. } => validate_message(message).and_then(|()| {
                    validate_seq(message.version).map_err(|_| {
                        chat_sync::protocol::InvalidInput::Mismatch("change of version 0".into())
                    })
                }),
                PushPayload::Hint {
                    request_id, seq, ..
                } => validate_request_id(request_id).and_then(|()| validate_seq(*seq)),
                PushPayload::Changes {
                    request_id,
                    version,
                    ..
                } => validate_request_id(request_id).and_then(|()| validate_seq(*version)),
                PushPayload::Revoked { request_id, .. } => validate_request_id(request_id),
            }
            .map_err(|e| format!("accepted an invalid push {payload:?}: {e}"))?;
        }
        Err(error) => refusal(&error)?,
    }
    for (from, to) in [(1, MAX_SEQ), (3, 8)] {
        match decode::page(bytes, &chat, from, to) {
            Ok(page) => {
                accepted.page = true;
                check_page(&page, &chat, from, to)?;
            }
            Err(error) => refusal(&error)?,
        }
    }
    match decode::chat_list(bytes) {
        Ok(list) => {
            accepted.list = true;
            check_list(&list)?;
        }
        Err(error) => refusal(&error)?,
    }
    match decode::message(bytes, "live event") {
        Ok(message) => {
            accepted.message = true;
            validate_message(&message).map_err(|e| format!("accepted {e}"))?;
        }
        Err(error) => refusal(&error)?,
    }
    if let Ok(record) = serde_json::from_slice::<ChatRecord>(bytes) {
        accepted.record = true;
        check_held(&record.held)?;
        check_held(&record.corrupt)?;
        let gaps = record.held.gaps(record.backend_last_seq);
        let _ = (gaps.repair_count(), gaps.repair_set().count());
        let _ = record.held.is_partial(record.backend_last_seq);
        let timeline = Timeline::new(&record.held, Some(record.backend_last_seq));
        let _ = (
            timeline.len(),
            timeline.row(0),
            timeline.skeletons().count(),
        );
    }
    if let Ok(held) = serde_json::from_slice::<SeqRanges>(bytes) {
        check_held(&held)?;
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        check_links(text)?;
    }
    Ok(accepted)
}

fn check_page(page: &MessagesPage, chat: &RequestId, from: Seq, to: Seq) -> Result<(), String> {
    ensure(&page.request_id == chat, || {
        format!("accepted a page of {}", page.request_id)
    })?;
    let mut previous = 0;
    for message in &page.messages {
        validate_message(message).map_err(|e| format!("accepted a page with {e}"))?;
        ensure(
            &message.request_id == chat
                && (from..=to).contains(&message.seq)
                && message.seq > previous,
            || {
                format!(
                    "accepted seq {} after {previous} in {from}..={to}",
                    message.seq
                )
            },
        )?;
        previous = message.seq;
    }
    ensure(
        page.last_seq >= previous && page.last_seq <= MAX_SEQ,
        || format!("accepted last_seq {}", page.last_seq),
    )
}

fn check_list(list: &ChatList) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for summary in &list.requests {
        validate_request_id(&summary.request_id).map_err(|e| format!("accepted {e}"))?;
        ensure(summary.last_seq <= MAX_SEQ, || {
            format!("accepted last_seq {}", summary.last_seq)
        })?;
        ensure(seen.insert(summary.request_id.clone()), || {
            format!("accepted {} twice", summary.request_id)
        })?;
    }
    Ok(())
}

fn check_held(held: &SeqRanges) -> Result<(), String> {
    let ranges = held.ranges();
    ensure(
        ranges
            .iter()
            .all(|r| 1 <= r.start && r.start <= r.end && r.end <= MAX_SEQ)
            && ranges.windows(2).all(|w| w[0].end + 1 < w[1].start),
        || format!("decoded held ranges that break the invariant: {ranges:?}"),
    )?;
    ensure(held.count() <= MAX_SEQ, || {
        format!("count {}", held.count())
    })
}

/// Links are only `http(s)` URLs with no markup or space in them, and the pieces put back
/// together are the text, byte for byte.
fn check_links(body: &str) -> Result<(), String> {
    let split = pieces(body);
    let mut joined = String::with_capacity(body.len());
    for piece in &split {
        match piece {
            Piece::Text(text) => joined.push_str(text),
            Piece::Link(url) => {
                ensure(
                    (url.starts_with("https://") || url.starts_with("http://"))
                        && !url.contains(|c: char| {
                            c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`')
                        }),
                    || format!("made a link of {url:?}"),
                )?;
                joined.push_str(url);
            }
        }
    }
    ensure(joined == body, || format!("links lost text of {body:?}"))
}

/// A valid message carrying hostile strings: every encoding the contract uses gives it back
/// byte-exact, the store keeps it byte-exact, and showing it (links, preview, grouping) never
/// panics.
pub fn round_trip(message: &Message) -> Result<(), String> {
    validate_message(message).map_err(|e| format!("the strategy made an invalid message: {e}"))?;
    let chat = message.request_id.clone();
    let json = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    let back = decode::message(&json, "live event").map_err(|e| e.to_string())?;
    ensure(&back == message, || {
        "a live event changed the message".into()
    })?;

    let payload = PushPayload::for_message(message, "usr_agent");
    let bytes = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
    match decode::push(&bytes).map_err(|e| e.to_string())? {
        PushPayload::Message {
            message: pushed, ..
        } => ensure(&pushed == message, || "a push changed the message".into())?,
        PushPayload::Hint {
            request_id, seq, ..
        } => ensure(
            request_id == chat && seq == message.seq && bytes.len() <= MAX_PUSH_PAYLOAD_LEN,
            || "a hint that does not name the message".into(),
        )?,
        other => return Err(format!("a message push decoded as {other:?}")),
    }

    let page = MessagesPage {
        request_id: chat.clone(),
        messages: vec![message.clone()],
        last_seq: message.seq,
        page_limit: 100,
    };
    let bytes = serde_json::to_vec(&page).map_err(|e| e.to_string())?;
    let decoded =
        decode::page(&bytes, &chat, message.seq, message.seq).map_err(|e| e.to_string())?;
    ensure(decoded == page, || "a page changed the message".into())?;

    let store = MemoryStore::new();
    let report =
        block_on(store.ingest(&chat, vec![message.clone()], &ctx())).map_err(|e| e.to_string())?;
    ensure(report.new_seqs == vec![message.seq], || {
        format!("{report:?}")
    })?;
    let stored = block_on(store.range(&chat, SeqRange::new(message.seq, message.seq)))
        .map_err(|e| e.to_string())?;
    // A tombstone is stored erased (issue 16): no body and no attachments, whatever it carried.
    let expected = chat_sync::changes::erase_if_deleted(message.clone());
    ensure(stored.messages == vec![expected], || {
        "the store changed the message".into()
    })?;

    check_links(&message.body)?;
    let preview = message.preview(120);
    ensure(preview.chars().count() <= 121, || {
        format!("preview {preview:?}")
    })?;
    let _ = starts_group(
        Some((&message.sender.id, message.created_at)),
        (&message.sender.name, message.created_at.wrapping_mul(3)),
        840,
    );
    let _ = local_day(message.created_at, -720);
    Ok(())
}

fn ctx() -> IngestContext {
    IngestContext {
        now: 1,
        chat_open: false,
        own_user_id: Some("agent-1".into()),
        source: Source::Push,
        backend_last: None,
    }
}

/// One step of a merge scenario.
#[derive(Clone, Debug)]
pub enum Op {
    /// The server pushes its message `seq` (whole, or a hint the worker fetches).
    Push(Seq),
    /// A history page `from ..= from + len` (at most 50 messages).
    Page {
        /// First seq asked.
        from: Seq,
        /// How many more.
        len: u64,
    },
    /// The live stream delivers message `seq` (again, perhaps).
    Live(Seq),
    /// The chat list, with hostile titles and the true last seq.
    ChatList,
    /// A refused push payload of the corpus.
    HostilePush(usize),
    /// A refused history reply of the corpus (to a request for `3..=8`).
    HostilePage(usize),
    /// A refused chat list of the corpus.
    HostileList(usize),
    /// An invalid message handed to the store directly (as a glue that decoded without
    /// validating would): seq 0, beyond `MAX_SEQ`, `u64::MAX`, another chat, an empty chat
    /// id, an oversized body.
    RawInvalid {
        /// Which kind of invalid.
        kind: u8,
        /// The seq it claims.
        seq: Seq,
    },
}

/// A server chat of `last` messages with hostile text, and what arrives, in order.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The server's last seq.
    pub last: Seq,
    /// Rotates which corpus texts go into which message.
    pub salt: usize,
    /// The arrivals.
    pub ops: Vec<Op>,
}

fn texts() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut all: Vec<String> = text::stored_bodies().into_iter().map(|h| h.text).collect();
        all.extend(text::control().into_iter().map(|h| h.text));
        all
    })
}

/// The server's message `seq`: hostile body, sender name and attachment name.
pub fn server_message(seq: Seq, salt: usize) -> Message {
    let texts = texts();
    let pick = |k: usize| texts[(seq as usize + salt + k) % texts.len()].clone();
    let mut message = push::sample_message(CHAT, seq);
    message.body = pick(0);
    message.sender.name = pick(1).chars().take(64).collect();
    message.attachments[0].name = pick(2).chars().take(255).collect();
    message
}

struct Refused {
    pushes: Vec<Case>,
    pages: Vec<Case>,
    lists: Vec<Case>,
}

fn refused() -> &'static Refused {
    static REFUSED: OnceLock<Refused> = OnceLock::new();
    REFUSED.get_or_init(|| Refused {
        pushes: push::push_payloads(&server_message(1, 0), "usr_agent")
            .into_iter()
            .filter(|c| !c.accepted)
            .collect(),
        pages: replies::page_replies(
            &(4..=6).map(|s| server_message(s, 0)).collect::<Vec<_>>(),
            3,
            8,
        )
        .into_iter()
        .filter(|c| !c.accepted)
        .collect(),
        lists: replies::chat_list_replies(&list(3))
            .into_iter()
            .filter(|c| !c.accepted)
            .collect(),
    })
}

fn list(last: Seq) -> ChatList {
    ChatList {
        requests: vec![ChatSummary {
            request_id: RequestId::from(CHAT),
            title: text::markup()[0].text.clone(),
            requester: Person {
                id: "requester-1".into(),
                name: text::markup()[1].text.clone(),
            },
            last_seq: last,
            last_message: Some(text::markup()[2].text.clone()),
            updated_at: 5,
            change_version: 0,
            closed: false,
        }],
    }
}

/// Merges the scenario's arrivals one by one, each through its decoder and the one ingest
/// path, and checks after every step that the store holds exactly the server's messages that
/// arrived, byte-exact, once each, with held ranges, count and last seq to match, and that no
/// refused input wrote anything.
pub fn merge(scenario: &Scenario) -> Result<(), String> {
    let chat = RequestId::from(CHAT);
    let store = MemoryStore::new();
    let last = scenario.last.max(1);
    let salt = scenario.salt;
    let clamp = |seq: Seq| seq.clamp(1, last);
    let server: Vec<Message> = (1..=last).map(|s| server_message(s, salt)).collect();
    let message = |seq: Seq| server[seq as usize - 1].clone();
    let mut model: BTreeSet<Seq> = BTreeSet::new();
    let ingest = |messages: Vec<Message>| {
        block_on(store.ingest(&chat, messages, &ctx())).map_err(|e| e.to_string())
    };
    let page_of = |from: Seq, to: Seq| MessagesPage {
        request_id: chat.clone(),
        messages: (from..=to).take(50).map(message).collect(),
        last_seq: last,
        page_limit: 50,
    };
    let fetch = |from: Seq, to: Seq, model: &mut BTreeSet<Seq>| -> Result<(), String> {
        let bytes = serde_json::to_vec(&page_of(from, to)).map_err(|e| e.to_string())?;
        let page = decode::page(&bytes, &chat, from, to).map_err(|e| format!("good page: {e}"))?;
        model.extend(page.messages.iter().map(|m| m.seq));
        ingest(page.messages)?;
        block_on(store.note_backend_last_seq(&chat, page.last_seq)).map_err(|e| e.to_string())
    };
    for (step, op) in scenario.ops.iter().enumerate() {
        match op {
            Op::Push(seq) => {
                let bytes = serde_json::to_vec(&PushPayload::for_message(
                    &message(clamp(*seq)),
                    "usr_agent",
                ))
                .map_err(|e| e.to_string())?;
                match decode::push(&bytes).map_err(|e| format!("good push: {e}"))? {
                    PushPayload::Message { message, .. } => {
                        model.insert(message.seq);
                        ingest(vec![message])?;
                    }
                    PushPayload::Hint { seq, .. } => fetch(seq, seq, &mut model)?,
                    other => return Err(format!("a message push decoded as {other:?}")),
                }
            }
            Op::Page { from, len } => {
                let from = clamp(*from);
                fetch(from, clamp(from.saturating_add(*len)), &mut model)?;
            }
            Op::Live(seq) => {
                let json = serde_json::to_vec(&message(clamp(*seq))).map_err(|e| e.to_string())?;
                let message = decode::message(&json, "live event").map_err(|e| e.to_string())?;
                model.insert(message.seq);
                ingest(vec![message])?;
            }
            Op::ChatList => {
                let bytes = serde_json::to_vec(&list(last)).map_err(|e| e.to_string())?;
                let list = decode::chat_list(&bytes).map_err(|e| format!("good list: {e}"))?;
                block_on(store.apply_summaries(&list.requests, 1)).map_err(|e| e.to_string())?;
            }
            Op::HostilePush(case) => {
                let cases = &refused().pushes;
                let case = &cases[case % cases.len()];
                if let Ok(payload) = decode::push(case.json.as_bytes()) {
                    return Err(format!("{}: accepted {payload:?}", case.name));
                }
            }
            Op::HostilePage(case) => {
                let cases = &refused().pages;
                let case = &cases[case % cases.len()];
                if let Ok(page) = decode::page(case.json.as_bytes(), &chat, 3, 8) {
                    return Err(format!("{}: accepted {page:?}", case.name));
                }
            }
            Op::HostileList(case) => {
                let cases = &refused().lists;
                let case = &cases[case % cases.len()];
                if let Ok(list) = decode::chat_list(case.json.as_bytes()) {
                    return Err(format!("{}: accepted {list:?}", case.name));
                }
            }
            Op::RawInvalid { kind, seq } => {
                let mut bad = message(clamp(*seq));
                let target = match kind % 6 {
                    0 => {
                        bad.seq = 0;
                        chat.clone()
                    }
                    1 => {
                        bad.seq = MAX_SEQ + 1 + seq % 1_000;
                        chat.clone()
                    }
                    2 => {
                        bad.seq = u64::MAX;
                        chat.clone()
                    }
                    3 => {
                        bad.request_id = RequestId::from("REQ-OTHER");
                        chat.clone()
                    }
                    4 => {
                        bad.request_id = RequestId::from("");
                        RequestId::from("")
                    }
                    _ => {
                        bad.body = text::body_over_limit();
                        chat.clone()
                    }
                };
                let report = block_on(store.ingest(&target, vec![bad], &ctx()))
                    .map_err(|e| e.to_string())?;
                ensure(
                    report.rejected.len() == 1 && report.new_seqs.is_empty(),
                    || format!("an invalid message was not refused: {report:?}"),
                )?;
                refusal(&report.rejected[0])?;
            }
        }
        check_store(&store, &model, &server)
            .map_err(|e| format!("after step {step} {op:?}: {e}"))?;
    }
    Ok(())
}

fn check_store(
    store: &MemoryStore,
    model: &BTreeSet<Seq>,
    server: &[Message],
) -> Result<(), String> {
    let last = server.len() as Seq;
    let chat = RequestId::from(CHAT);
    let chats = block_on(store.chats()).map_err(|e| e.to_string())?;
    ensure(chats.iter().all(|c| c.request_id == chat), || {
        format!(
            "a record for another chat: {:?}",
            chats.iter().map(|c| &c.request_id).collect::<Vec<_>>()
        )
    })?;
    let record = block_on(store.chat(&chat)).map_err(|e| e.to_string())?;
    let held = record.as_ref().map(|r| r.held.clone()).unwrap_or_default();
    let mut expected = SeqRanges::new();
    for seq in model {
        expected.insert(*seq);
    }
    ensure(held == expected, || {
        format!("held {held:?}, stored {expected:?}")
    })?;
    if let Some(record) = &record {
        ensure(record.message_count == model.len() as u64, || {
            format!(
                "count {} for {} messages",
                record.message_count,
                model.len()
            )
        })?;
        ensure(record.backend_last_seq <= last, || {
            format!(
                "backend last seq {} beyond the server's {last}",
                record.backend_last_seq
            )
        })?;
    }
    let stored = block_on(store.range(&chat, SeqRange::new(1, last))).map_err(|e| e.to_string())?;
    let seqs: Vec<Seq> = stored.messages.iter().map(|m| m.seq).collect();
    ensure(seqs == model.iter().copied().collect::<Vec<_>>(), || {
        format!("stored seqs {seqs:?}")
    })?;
    for message in &stored.messages {
        ensure(*message == server[message.seq as usize - 1], || {
            format!("message {} changed", message.seq)
        })?;
    }
    Ok(())
}
