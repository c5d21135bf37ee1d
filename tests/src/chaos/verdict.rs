//! What must hold after a schedule settles, judged from plain data (so the rules are tested
//! without a browser):
//!
//! - every played chat in IndexedDB equals the server's messages exactly (seqs, ids, bodies),
//!   with no message twice;
//! - every message the agent sent is at the server exactly once, in its chat, and the outbox
//!   is empty;
//! - no message was sent to the agent twice by history replies (no range fetched twice, no
//!   full reload), except right after the first reply was lost with its context (a closed or
//!   reloaded tab, a stopped worker, a killed server, a network cut), which is counted;
//! - the served log agrees with the server's own counters (so an empty log cannot pass);
//! - no panic and no uncaught exception in any page or worker.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde_json::Value;

use crate::{HarnessError, Result};

/// A cached or served message as the verdict compares it: (seq, id, body).
pub type Row = (u64, String, String);

/// One history reply to the agent, from the server's served log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The chat.
    pub request_id: String,
    /// `range` or `cursor`.
    pub kind: String,
    /// The seqs sent.
    pub seqs: Vec<u64>,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
}

/// Everything the verdict looks at.
#[derive(Debug, Default)]
pub struct Observed {
    /// (chat, body) of every message the agent sent.
    pub sent: Vec<(String, String)>,
    /// When an action may have lost a reply in flight (Unix milliseconds).
    pub disruptions: Vec<u64>,
    /// The agent's history replies.
    pub served_log: Vec<Served>,
    /// Messages served according to the server's `/metrics` counters, summed over restarts
    /// (read before the log, so the log holds at least as many).
    pub served_metric: f64,
    /// The server's messages per chat.
    pub server: BTreeMap<String, Vec<Value>>,
    /// The cached messages per chat: (seq, id, body).
    pub cache: BTreeMap<String, Vec<Row>>,
    /// Entries left in the outbox.
    pub outbox_left: u64,
    /// Panics and uncaught exceptions seen.
    pub errors: Vec<String>,
    /// Chats handed to another agent: nothing of them may stay in the cache.
    pub revoked: Vec<String>,
    /// The chat records in the cache.
    pub records: Vec<String>,
    /// Bodies the requesters deleted.
    pub redacted: Vec<String>,
    /// Where a deleted body was still found (IndexedDB or Cache Storage), if anywhere.
    pub redacted_found: Vec<String>,
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub rule: &'static str,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// The verdict and its counts.
#[derive(Debug, Default)]
pub struct Judged {
    /// Messages sent in history replies.
    pub served: usize,
    /// Messages sent twice right after a lost reply.
    pub refetched_after_loss: usize,
    /// Messages cached over the played chats.
    pub cached: usize,
    /// Broken invariants.
    pub violations: Vec<Violation>,
}

/// How long before a reply a disruption may come and still have lost it (the server logs a
/// reply when its handler ends, which can be after a slow request's tab is gone).
const LOST_BEFORE_MS: u64 = 2_000;
/// How long after a reply a disruption may come and still have lost it (the reply is not in
/// IndexedDB until it is received, decoded and committed).
const LOST_AFTER_MS: u64 = 3_000;

/// The agent's replies in a served log (one JSON line each; other users' lines skipped).
pub fn parse_served_log(log: &str, user_id: &str) -> Result<Vec<Served>> {
    let mut served = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line)
            .map_err(|e| HarnessError::Setup(format!("served log line {line:?}: {e}")))?;
        if entry["user"] != user_id {
            continue;
        }
        served.push(Served {
            request_id: entry["request_id"].as_str().unwrap_or_default().to_owned(),
            kind: entry["kind"].as_str().unwrap_or_default().to_owned(),
            seqs: entry["seqs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .collect(),
            at_ms: entry["at_ms"].as_u64().unwrap_or(0),
        });
    }
    Ok(served)
}

/// The cache as `cache_js` returns it (`{chats: {id: [[seq, id, body]]}}`).
pub fn parse_cache(value: &Value) -> Result<BTreeMap<String, Vec<Row>>> {
    let chats = value["chats"]
        .as_object()
        .ok_or_else(|| HarnessError::Setup(format!("cache read returned {value}")))?;
    let mut cache = BTreeMap::new();
    for (chat, rows) in chats {
        let mut messages: Vec<Row> = rows
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                (
                    row[0].as_u64().unwrap_or(0),
                    row[1].as_str().unwrap_or_default().to_owned(),
                    row[2].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        messages.sort();
        cache.insert(chat.clone(), messages);
    }
    Ok(cache)
}

/// Judges `observed` over the played `chats` (a reassigned chat is judged gone instead).
pub fn judge(observed: &Observed, chats: &[&str]) -> Judged {
    let mut violations = Vec::new();
    let mut violate = |rule: &'static str, detail: String| {
        violations.push(Violation { rule, detail });
    };
    let mut refetched_after_loss = 0;
    let mut cached = 0;
    for chat in &observed.revoked {
        let left = observed.cache.get(chat).map_or(0, Vec::len);
        if left > 0 || observed.records.contains(chat) {
            violate(
                "a reassigned chat leaves the cache",
                format!(
                    "{chat}: {left} messages left, record kept: {}",
                    observed.records.contains(chat)
                ),
            );
        }
    }
    for found in &observed.redacted_found {
        violate("no deleted body anywhere", found.clone());
    }
    for chat in chats
        .iter()
        .filter(|c| !observed.revoked.iter().any(|r| r == *c))
    {
        let server: Vec<Row> = observed
            .server
            .get(*chat)
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["seq"].as_u64().unwrap_or(0),
                    m["id"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let local = observed.cache.get(*chat).cloned().unwrap_or_default();
        cached += local.len();
        if local != server {
            let server_seqs: HashSet<u64> = server.iter().map(|m| m.0).collect();
            let local_seqs: HashSet<u64> = local.iter().map(|m| m.0).collect();
            let mut missing: Vec<u64> = server_seqs.difference(&local_seqs).copied().collect();
            let mut extra: Vec<u64> = local_seqs.difference(&server_seqs).copied().collect();
            missing.sort_unstable();
            extra.sort_unstable();
            let differing: Vec<u64> = local
                .iter()
                .filter(|m| server.iter().any(|s| s.0 == m.0 && *s != **m))
                .map(|m| m.0)
                .collect();
            violate(
                "cache equals the server",
                format!("{chat}: missing {missing:?}, not at the server {extra:?}, different {differing:?}"),
            );
        }
        let mut ids = HashSet::new();
        for (seq, id, _) in &local {
            if !ids.insert(id.as_str()) {
                violate(
                    "no duplicates",
                    format!("{chat}: message {id} cached twice (again at {seq})"),
                );
            }
        }
        // Every message the agent sent is at the server once, in its chat.
        for (sent_chat, body) in observed.sent.iter().filter(|(c, _)| c == chat) {
            let copies = server.iter().filter(|m| &m.2 == body).count();
            if copies != 1 {
                violate(
                    "outbox delivers exactly once",
                    format!("{sent_chat}: {body:?} is at the server {copies} times"),
                );
            }
        }
    }
    if observed.outbox_left != 0 {
        violate(
            "outbox delivers exactly once",
            format!("{} entries are still in the outbox", observed.outbox_left),
        );
    }

    // History replies: no message twice, unless its first reply was lost with its context.
    let mut first: HashMap<(&str, u64), u64> = HashMap::new();
    let mut served = 0;
    for reply in &observed.served_log {
        served += reply.seqs.len();
        for seq in &reply.seqs {
            match first.get(&(reply.request_id.as_str(), *seq)) {
                None => {
                    first.insert((reply.request_id.as_str(), *seq), reply.at_ms);
                }
                Some(&at) if lost(at, reply.at_ms, &observed.disruptions) => {
                    refetched_after_loss += 1;
                    first.insert((reply.request_id.as_str(), *seq), reply.at_ms);
                }
                Some(&at) => violate(
                    "no range fetched twice",
                    format!(
                        "{} seq {seq} sent again by a {} reply {} ms after the first, with no lost reply between",
                        reply.request_id,
                        reply.kind,
                        reply.at_ms.saturating_sub(at)
                    ),
                ),
            }
        }
    }
    if (served as f64) < observed.served_metric {
        violate(
            "the served log is complete",
            format!(
                "the log holds {served} messages, the server's counters {}",
                observed.served_metric
            ),
        );
    }
    for error in &observed.errors {
        violate("no panic, no uncaught exception", error.clone());
    }
    Judged {
        served,
        refetched_after_loss,
        cached,
        violations,
    }
}

/// Whether a reply made at `first` can have been lost by a disruption before `again`.
fn lost(first: u64, again: u64, disruptions: &[u64]) -> bool {
    disruptions
        .iter()
        .any(|&d| d + LOST_BEFORE_MS >= first && d <= first + LOST_AFTER_MS && d <= again)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn server_chat(bodies: &[&str]) -> Vec<Value> {
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| json!({ "seq": i + 1, "id": format!("m{}", i + 1), "body": b }))
            .collect()
    }

    fn cached(bodies: &[&str]) -> Vec<Row> {
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u64 + 1, format!("m{}", i + 1), (*b).to_owned()))
            .collect()
    }

    fn served(seqs: &[u64], at_ms: u64) -> Served {
        Served {
            request_id: "A".into(),
            kind: "range".into(),
            seqs: seqs.to_vec(),
            at_ms,
        }
    }

    fn healthy() -> Observed {
        Observed {
            sent: vec![("A".into(), "hi".into())],
            served_log: vec![served(&[1, 2], 1_000)],
            served_metric: 2.0,
            server: BTreeMap::from([("A".into(), server_chat(&["x", "y", "hi"]))]),
            cache: BTreeMap::from([("A".into(), cached(&["x", "y", "hi"]))]),
            ..Observed::default()
        }
    }

    fn rules(observed: &Observed) -> Vec<&'static str> {
        judge(observed, &["A"])
            .violations
            .iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_reassigned_chat_left_behind_or_a_deleted_body_found_fails() {
        let mut observed = healthy();
        observed.revoked = vec!["B".into()];
        observed
            .sent
            .push(("B".into(), "discarded with the chat".into()));
        assert!(rules(&observed).is_empty(), "{:?}", rules(&observed));
        observed.records = vec!["B".into()];
        assert_eq!(rules(&observed), vec!["a reassigned chat leaves the cache"]);
        observed.records.clear();
        observed.cache.insert("B".into(), cached(&["left"]));
        assert_eq!(rules(&observed), vec!["a reassigned chat leaves the cache"]);
        observed.cache.remove("B");
        observed.redacted_found = vec!["[\"messages\",\"secret\"]".into()];
        assert_eq!(rules(&observed), vec!["no deleted body anywhere"]);
    }

    #[test]
    fn a_settled_run_passes() {
        let judged = judge(&healthy(), &["A"]);
        assert!(judged.violations.is_empty(), "{:?}", judged.violations);
        assert_eq!((judged.served, judged.cached), (2, 3));
    }

    #[test]
    fn a_missing_or_changed_message_fails() {
        let mut observed = healthy();
        observed.cache.insert("A".into(), cached(&["x", "hi"]));
        assert_eq!(rules(&observed), ["cache equals the server"]);
        let mut observed = healthy();
        observed.cache.insert("A".into(), cached(&["x", "Y", "hi"]));
        assert_eq!(rules(&observed), ["cache equals the server"]);
    }

    #[test]
    fn a_lost_or_doubled_send_fails() {
        let mut observed = healthy();
        observed
            .server
            .insert("A".into(), server_chat(&["x", "y", "hi", "hi"]));
        observed
            .cache
            .insert("A".into(), cached(&["x", "y", "hi", "hi"]));
        assert_eq!(rules(&observed), ["outbox delivers exactly once"]);
        let mut observed = healthy();
        observed.outbox_left = 1;
        assert_eq!(rules(&observed), ["outbox delivers exactly once"]);
    }

    #[test]
    fn a_message_served_twice_fails_unless_its_first_reply_was_lost() {
        let mut observed = healthy();
        observed.served_log.push(served(&[2], 9_000));
        observed.served_metric = 3.0;
        assert_eq!(rules(&observed), ["no range fetched twice"]);
        // A tab closed half a second after the first reply: the reply may never have
        // reached the cache, so fetching it again is right.
        observed.disruptions.push(1_500);
        let judged = judge(&observed, &["A"]);
        assert!(judged.violations.is_empty(), "{:?}", judged.violations);
        assert_eq!(judged.refetched_after_loss, 1);
    }

    #[test]
    fn an_incomplete_log_panics_and_leftovers_fail() {
        let mut observed = healthy();
        observed.served_metric = 5.0;
        assert_eq!(rules(&observed), ["the served log is complete"]);
        let mut observed = healthy();
        observed.errors.push("panicked at src/lib.rs".into());
        assert_eq!(rules(&observed), ["no panic, no uncaught exception"]);
    }

    #[test]
    fn the_log_keeps_only_the_agents_replies() {
        let log = "{\"user\":\"u_alice\",\"request_id\":\"A\",\"kind\":\"cursor\",\"seqs\":[4,5],\"at_ms\":7}\n\
                   {\"user\":\"u_bob\",\"request_id\":\"B\",\"kind\":\"range\",\"seqs\":[1],\"at_ms\":8}\n";
        let parsed = parse_served_log(log, "u_alice").unwrap();
        assert_eq!(
            parsed,
            [Served {
                request_id: "A".into(),
                kind: "cursor".into(),
                seqs: vec![4, 5],
                at_ms: 7
            }]
        );
        assert!(parse_served_log("{not json", "u_alice").is_err());
    }
}
