//! The media cache's rules: a byte budget over immutable files, least recently used evicted
//! first, hits and misses counted.
//!
//! The service worker keeps the bytes in Cache Storage and one [`MediaEntry`] per file in
//! IndexedDB; this module only decides. After a file is stored, [`plan_eviction`] names the
//! entries to delete so the total fits the budget again, oldest use first, never the file
//! just stored. A file larger than the whole budget is served but not kept ([`fits`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::types::Millis;

/// The default media budget: 100 MB.
pub const DEFAULT_MEDIA_BUDGET: u64 = 100 * 1024 * 1024;
/// The smallest budget the agent may set: 1 MB (below that the cache is useless).
pub const MIN_MEDIA_BUDGET: u64 = 1024 * 1024;
/// The largest budget the agent may set: 10 GB (beyond any browser quota we expect).
pub const MAX_MEDIA_BUDGET: u64 = 10 * 1024 * 1024 * 1024;

/// One cached file in the LRU index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MediaEntry {
    /// The media id (`GET /api/media/{id}`).
    pub media_id: String,
    /// Size of the stored body.
    pub bytes: u64,
    /// Last time it was served (or stored).
    pub last_used: Millis,
}

/// Hit and miss counters and what the cache holds, for the settings panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct MediaStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that went to the network.
    pub misses: u64,
    /// Files cached.
    pub entries: u64,
    /// Bytes cached.
    pub bytes: u64,
    /// The budget in bytes.
    pub budget: u64,
}

impl MediaStats {
    /// Hits over all requests, `None` before the first request.
    pub fn hit_rate(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

/// A budget the agent asked for that is out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("a media budget of {asked} bytes is outside {MIN_MEDIA_BUDGET}..={MAX_MEDIA_BUDGET}")]
pub struct BudgetOutOfRange {
    /// What was asked.
    pub asked: u64,
}

/// Whether a media reply may be kept and served again from the cache: only one the server
/// marked inert, with `X-Content-Type-Options: nosniff` and a `Content-Security-Policy` that
/// sandboxes it. A reply without them (an older server, a proxy that stripped them) is still
/// passed to the page once, but never replayed from the cache for a year, since cached
/// media is served without asking the server again.
pub fn safe_to_cache(nosniff: Option<&str>, content_security_policy: Option<&str>) -> bool {
    let nosniff = nosniff.is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff"));
    let sandboxed = content_security_policy.is_some_and(|policy| {
        policy
            .split(';')
            .any(|directive| directive.trim().eq_ignore_ascii_case("sandbox"))
    });
    nosniff && sandboxed
}

/// Checks a budget the agent set.
pub fn validate_budget(bytes: u64) -> Result<u64, BudgetOutOfRange> {
    if (MIN_MEDIA_BUDGET..=MAX_MEDIA_BUDGET).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(BudgetOutOfRange { asked: bytes })
    }
}

/// Whether a file of `bytes` may be kept at all under `budget`.
pub fn fits(bytes: u64, budget: u64) -> bool {
    bytes <= budget
}

/// The ids to evict so the entries fit `budget`: least recently used first (ties by id, so
/// every context decides the same), never `keep` (the file just stored).
pub fn plan_eviction(entries: &[MediaEntry], budget: u64, keep: Option<&str>) -> Vec<String> {
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    if total <= budget {
        return Vec::new();
    }
    let mut candidates: Vec<&MediaEntry> = entries
        .iter()
        .filter(|e| Some(e.media_id.as_str()) != keep)
        .collect();
    crate::sort::sort_by(&mut candidates, |a, b| {
        a.last_used
            .cmp(&b.last_used)
            .then_with(|| a.media_id.cmp(&b.media_id))
    });
    let mut doomed = Vec::new();
    for entry in candidates {
        if total <= budget {
            break;
        }
        total -= entry.bytes;
        doomed.push(entry.media_id.clone());
    }
    doomed
}

/// The media index as a store keeps it: one entry per cached file, the hit and miss
/// counters and the budget (unset: [`DEFAULT_MEDIA_BUDGET`]). Every store applies the same
/// rules through it, inside one transaction per operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaIndex {
    /// The cached files.
    pub entries: Vec<MediaEntry>,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that went to the network.
    pub misses: u64,
    /// The budget the agent set, if any.
    pub budget: Option<u64>,
}

impl MediaIndex {
    /// The budget in force.
    pub fn budget(&self) -> u64 {
        self.budget.unwrap_or(DEFAULT_MEDIA_BUDGET)
    }

    /// Counters, files, bytes and budget.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            hits: self.hits,
            misses: self.misses,
            entries: self.entries.len() as u64,
            bytes: self.entries.iter().map(|e| e.bytes).sum(),
            budget: self.budget(),
        }
    }

    /// A file was served from the cache at `now`: one more hit, and the file's entry marked
    /// used ([`hit_entry`]).
    pub fn hit(&mut self, media_id: &str, bytes: u64, now: Millis) {
        self.hits += 1;
        let existing = self.take(media_id);
        self.entries
            .push(hit_entry(existing.as_ref(), media_id, bytes, now));
    }

    /// A file went to the network and was not kept: one more miss.
    pub fn miss(&mut self) {
        self.misses += 1;
    }

    /// A file went to the network and was stored at `now`: one more miss, the file indexed,
    /// and the least recently used others evicted until the total fits the budget; returns
    /// the evicted ids (their bytes are the caller's to delete).
    pub fn stored(&mut self, media_id: &str, bytes: u64, now: Millis) -> Vec<String> {
        self.misses += 1;
        self.take(media_id);
        self.entries.push(MediaEntry {
            media_id: media_id.to_owned(),
            bytes,
            last_used: now,
        });
        let doomed = plan_eviction(&self.entries, self.budget(), Some(media_id));
        self.forget(&doomed);
        doomed
    }

    /// Sets a validated budget and evicts what no longer fits; returns the evicted ids.
    pub fn set_budget(&mut self, budget: u64) -> Vec<String> {
        self.budget = Some(budget);
        let doomed = plan_eviction(&self.entries, budget, None);
        self.forget(&doomed);
        doomed
    }

    /// Drops the entries of `ids`.
    pub fn forget(&mut self, ids: &[String]) {
        self.entries.retain(|e| !ids.contains(&e.media_id));
    }

    /// Drops every entry; the counters and the budget stay.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn take(&mut self, media_id: &str) -> Option<MediaEntry> {
        let at = self.entries.iter().position(|e| e.media_id == media_id)?;
        Some(self.entries.remove(at))
    }
}

/// A served file's entry after a hit at `now`: its indexed size, or `bytes` when the index
/// lost it (so it is counted again).
pub fn hit_entry(
    existing: Option<&MediaEntry>,
    media_id: &str,
    bytes: u64,
    now: Millis,
) -> MediaEntry {
    MediaEntry {
        media_id: media_id.to_owned(),
        bytes: existing.map_or(bytes, |e| e.bytes),
        last_used: now,
    }
}

crate::object_only_serde!(MediaEntry, MediaStats);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, bytes: u64, last_used: Millis) -> MediaEntry {
        MediaEntry {
            media_id: id.into(),
            bytes,
            last_used,
        }
    }

    #[test]
    fn nothing_is_evicted_within_budget() {
        let entries = [entry("a", 40, 1), entry("b", 60, 2)];
        assert!(plan_eviction(&entries, 100, None).is_empty());
    }

    #[test]
    fn least_recently_used_go_first_until_it_fits() {
        let entries = [
            entry("new", 50, 9),
            entry("old", 30, 1),
            entry("mid", 30, 5),
            entry("older", 10, 0),
        ];
        // 120 bytes over a budget of 70: drop "older" (110), "old" (80), "mid" (50).
        assert_eq!(
            plan_eviction(&entries, 70, Some("new")),
            vec!["older", "old", "mid"]
        );
        assert_eq!(
            plan_eviction(&entries, 100, Some("new")),
            vec!["older", "old"]
        );
    }

    #[test]
    fn the_file_just_stored_is_kept_and_ties_break_by_id() {
        let entries = [entry("b", 10, 1), entry("a", 10, 1), entry("kept", 10, 0)];
        assert_eq!(plan_eviction(&entries, 20, Some("kept")), vec!["a"]);
    }

    #[test]
    fn budgets_are_bounded_and_rates_computed() {
        assert_eq!(
            validate_budget(DEFAULT_MEDIA_BUDGET),
            Ok(DEFAULT_MEDIA_BUDGET)
        );
        assert_eq!(validate_budget(10), Err(BudgetOutOfRange { asked: 10 }));
        assert!(validate_budget(MAX_MEDIA_BUDGET + 1).is_err());
        assert!(fits(5, 5) && !fits(6, 5));
        let stats = MediaStats {
            hits: 9,
            misses: 1,
            ..MediaStats::default()
        };
        assert_eq!(stats.hit_rate(), Some(0.9));
        assert_eq!(MediaStats::default().hit_rate(), None);
    }

    #[test]
    fn only_inert_replies_are_cached() {
        let csp = Some("sandbox; default-src 'none'");
        assert!(safe_to_cache(Some("nosniff"), csp));
        assert!(safe_to_cache(
            Some(" NoSniff "),
            Some("default-src 'none'; SANDBOX")
        ));
        assert!(!safe_to_cache(None, csp), "sniffable");
        assert!(!safe_to_cache(Some("nosniff"), None), "not sandboxed");
        assert!(!safe_to_cache(Some("nosniff"), Some("default-src 'none'")));
        assert!(
            !safe_to_cache(Some("nosniff"), Some("sandbox allow-scripts")),
            "a sandbox that lets scripts run is not inert"
        );
        assert!(!safe_to_cache(Some("sniff"), csp));
    }
}
