//! Test-only record of every history fetch the server answered, one JSON line per reply, so an
//! end-to-end suite can prove that no message was ever sent to the same agent twice (no range
//! fetched twice, no full reload) across server restarts.
//!
//! Off unless `--test-served-log PATH` is given. The file is appended to, never truncated, so
//! a restarted server keeps adding to the record of the run before it.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chat_sync::types::Message;
use serde::Serialize;

/// One answered history fetch.
#[derive(Debug, Serialize)]
pub struct ServedEntry<'a> {
    /// The agent the messages were sent to.
    pub user: &'a str,
    /// The chat.
    pub request_id: &'a str,
    /// `range` or `cursor`.
    pub kind: &'a str,
    /// The seqs of the messages in the reply.
    pub seqs: Vec<u64>,
    /// When the reply was made, in Unix milliseconds (so a test can tell a reply lost with a
    /// closed tab or a killed process from a needless second fetch).
    pub at_ms: u64,
}

/// The open log file, or nothing when the log is off.
#[derive(Default)]
pub struct ServedLog {
    file: Option<Mutex<File>>,
}

impl ServedLog {
    /// A log appending to `path` (created when missing).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Some(Mutex::new(file)),
        })
    }

    /// Appends one reply. A failed write is logged and otherwise ignored: the record serves
    /// tests, and must never fail a fetch.
    pub fn record(&self, user: &str, request_id: &str, kind: &str, messages: &[Message]) {
        let Some(file) = &self.file else {
            return;
        };
        let entry = ServedEntry {
            user,
            request_id,
            kind,
            seqs: messages.iter().map(|m| m.seq).collect(),
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        let Ok(mut line) = serde_json::to_string(&entry) else {
            return;
        };
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        // One write call per line, so a reader never sees half a line from this process.
        if let Err(error) = file.write_all(line.as_bytes()) {
            tracing::warn!(%error, "writing the served log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> Message {
        chat_sync::suite::message("REQ-1", seq, "b")
    }

    #[test]
    fn every_reply_is_one_json_line_and_a_reopened_log_appends() {
        let dir = std::env::temp_dir().join(format!("served-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("served.jsonl");
        let _ = std::fs::remove_file(&path);
        ServedLog::open(&path)
            .unwrap()
            .record("u_a", "REQ-1", "range", &[message(3), message(4)]);
        ServedLog::open(&path)
            .unwrap()
            .record("u_a", "REQ-1", "cursor", &[message(1)]);
        ServedLog::default().record("u_a", "REQ-1", "range", &[message(9)]);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["seqs"], serde_json::json!([3, 4]));
        assert_eq!(lines[0]["kind"], "range");
        assert_eq!(lines[1]["seqs"], serde_json::json!([1]));
        assert!(lines[1]["at_ms"].as_u64().unwrap() > 1_700_000_000_000);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
