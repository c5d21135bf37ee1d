//! Hostile server replies: history pages and chat lists, each a good reply with one
//! hostile part, and the verdict of [`crate::decode::page`] and [`crate::decode::chat_list`].

use serde_json::{json, Value};

use super::build::{to_value, too_many_attachments, with, with_raw, with_value};
use super::json::{deep_arrays, lone_surrogates, malformed, seq_literals};
use super::text::{body_over_limit, markup};
use super::Case;
use crate::protocol::{ChatList, MessagesPage, MAX_SEQ};
use crate::types::{ChatSummary, Message, Person, RequestId, Seq};

/// History replies to a request for `from ..= to`, built from `good` (valid messages of one
/// chat inside that range, ascending, at least one).
pub fn page_replies(good: &[Message], from: Seq, to: Seq) -> Vec<Case> {
    let Some(first) = good.first() else {
        return Vec::new();
    };
    let request_id = first.request_id.clone();
    let max = good.last().map_or(0, |m| m.seq);
    let page = to_value(&MessagesPage {
        request_id: request_id.clone(),
        messages: good.to_vec(),
        last_seq: max,
        page_limit: 100,
    });
    let mut cases = vec![
        Case::accepted("the good page", page.to_string()),
        Case::accepted("no messages", with(&page, "/messages", json!([]))),
        Case::refused(
            "another chat's page",
            with(&page, "/request_id", json!("OTHER-1")),
        ),
        Case::refused(
            "a message of another chat",
            with(&page, "/messages/0/request_id", json!("OTHER-1")),
        ),
        Case::refused(
            "last_seq below a returned seq",
            with(&page, "/last_seq", json!(max - 1)),
        ),
        Case::refused("messages null", with(&page, "/messages", Value::Null)),
        Case::refused(
            "messages an object",
            with(&page, "/messages", json!({"0": first})),
        ),
        Case::refused(
            "messages missing",
            json!({ "request_id": request_id, "last_seq": max, "page_limit": 100 }).to_string(),
        ),
        Case::refused(
            "body over the limit",
            with(&page, "/messages/0/body", json!(body_over_limit())),
        ),
        Case::refused(
            "too many attachments",
            with(
                &page,
                "/messages/0/attachments",
                too_many_attachments(&page["messages"][0]),
            ),
        ),
        Case::refused(
            "deep nesting in a body",
            with_raw(&page, "/messages/0/body", &deep_arrays(1_000)),
        ),
    ];
    let mut twice = good.to_vec();
    twice.push(good[good.len() - 1].clone());
    cases.push(Case::refused(
        "a duplicate seq",
        with(&page, "/messages", to_value(&twice)),
    ));
    if good.len() > 1 {
        let reversed: Vec<&Message> = good.iter().rev().collect();
        cases.push(Case::refused(
            "descending",
            with(&page, "/messages", to_value(&reversed)),
        ));
    }
    if to < MAX_SEQ {
        let mut beyond = first.clone();
        beyond.seq = to + 1;
        let json = with(
            &with_value(&page, "/last_seq", json!(to + 1)),
            "/messages",
            json!([beyond]),
        );
        cases.push(Case::refused("a seq after the asked range", json));
    }
    if from > 1 {
        let mut before = first.clone();
        before.seq = from - 1;
        cases.push(Case::refused(
            "a seq before the asked range",
            with(&page, "/messages", json!([before])),
        ));
    }
    for literal in seq_literals() {
        cases.push(Case {
            name: format!("last_seq {}", literal.name),
            json: with_raw(&page, "/last_seq", literal.json),
            accepted: literal.as_u64().is_some_and(|s| s >= max && s <= MAX_SEQ),
        });
        let single = with_value(
            &with_value(&page, "/messages", json!([first])),
            "/last_seq",
            json!(MAX_SEQ),
        );
        cases.push(Case {
            name: format!("message seq {}", literal.name),
            json: with_raw(&single, "/messages/0/seq", literal.json),
            accepted: literal.is_valid_seq()
                && literal.as_u64().is_some_and(|s| (from..=to).contains(&s)),
        });
    }
    for (name, raw, accepted) in [
        ("page_limit -1", "-1", false),
        ("page_limit 0", "0", true),
        ("page_limit u64::MAX", "18446744073709551615", true),
        ("page_limit a string", "\"100\"", false),
    ] {
        cases.push(Case {
            name: name.into(),
            json: with_raw(&page, "/page_limit", raw),
            accepted,
        });
    }
    for literal in lone_surrogates() {
        for pointer in ["/messages/0/body", "/messages/0/sender/name", "/request_id"] {
            cases.push(Case::refused(
                format!("{} in {pointer}", literal.name),
                with_raw(&page, pointer, &literal.text),
            ));
        }
    }
    for doc in malformed() {
        cases.push(Case::refused(format!("malformed: {}", doc.name), doc.text));
    }
    let texts = markup();
    let hostile: Vec<Message> = good
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut m = m.clone();
            m.body = texts[i % texts.len()].text.clone();
            m.sender.name = texts[(i + 1) % texts.len()].text.clone();
            m
        })
        .collect();
    cases.push(Case::accepted(
        "markup in bodies and names",
        with(&page, "/messages", to_value(&hostile)),
    ));
    cases
}

/// A chat list of two chats, as a base for cases.
pub fn sample_chat_list() -> ChatList {
    let summary = |id: &str, last_seq| ChatSummary {
        request_id: RequestId::from(id),
        title: format!("Request {id}"),
        requester: Person {
            id: "requester-1".into(),
            name: "Requester One".into(),
        },
        last_seq,
        last_message: Some("latest".into()),
        updated_at: 1_700_000_000_000,
        change_version: 0,
        closed: false,
    };
    ChatList {
        requests: vec![summary("REQ-1", 3), summary("REQ-2", 0)],
    }
}

/// Chat lists built from `good` (a valid list with at least one chat): hostile titles,
/// names and previews are accepted as data; a `last_seq` beyond [`MAX_SEQ`] or not a `u64`,
/// a bad request id, a chat listed twice, or a wrong shape refuses the whole list.
pub fn chat_list_replies(good: &ChatList) -> Vec<Case> {
    let list = to_value(good);
    let texts = markup();
    let mut hostile = good.clone();
    for (i, summary) in hostile.requests.iter_mut().enumerate() {
        summary.title = texts[i % texts.len()].text.clone();
        summary.requester.name = texts[(i + 2) % texts.len()].text.clone();
        summary.last_message = Some(texts[(i + 4) % texts.len()].text.clone());
    }
    let mut twice = good.clone();
    if let Some(first) = good.requests.first() {
        twice.requests.push(first.clone());
    }
    let mut cases = vec![
        Case::accepted("the good list", list.to_string()),
        Case::accepted("an empty list", r#"{"requests":[]}"#),
        Case::accepted(
            "markup in titles, names and previews",
            to_value(&hostile).to_string(),
        ),
        Case::refused("a chat listed twice", to_value(&twice).to_string()),
        Case::refused("requests missing", "{}"),
        Case::refused("requests null", r#"{"requests":null}"#),
        Case::refused("requests an object", r#"{"requests":{}}"#),
        Case::refused(
            "updated_at a string",
            with(&list, "/requests/0/updated_at", json!("now")),
        ),
        Case::refused(
            "requester null",
            with(&list, "/requests/0/requester", Value::Null),
        ),
    ];
    for literal in seq_literals() {
        cases.push(Case {
            name: format!("last_seq {}", literal.name),
            json: with_raw(&list, "/requests/0/last_seq", literal.json),
            accepted: literal.as_u64().is_some_and(|s| s <= MAX_SEQ),
        });
    }
    for (name, id) in [
        ("empty", json!("")),
        ("129 bytes", json!("R".repeat(129))),
        ("with NUL", json!("REQ\u{0}1")),
        ("with a tab", json!("REQ\t1")),
    ] {
        cases.push(Case::refused(
            format!("request id {name}"),
            with(&list, "/requests/0/request_id", id),
        ));
    }
    for literal in lone_surrogates() {
        for pointer in ["/requests/0/title", "/requests/0/request_id"] {
            cases.push(Case::refused(
                format!("{} in {pointer}", literal.name),
                with_raw(&list, pointer, &literal.text),
            ));
        }
    }
    cases.push(Case::refused(
        "deep nesting in a title",
        with_raw(&list, "/requests/0/title", &deep_arrays(1_000)),
    ));
    for doc in malformed() {
        cases.push(Case::refused(format!("malformed: {}", doc.name), doc.text));
    }
    cases
}
