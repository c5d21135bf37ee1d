//! When an attachment upload counts as failed: not after a fixed total time (a 10 MiB file
//! on a slow link takes minutes, and a total limit would fail it and retry it for ever) but
//! when it stops making progress.
//!
//! [`UploadWatch`] is fed the bytes sent and the time, and says whether the upload has
//! stalled: no new byte for [`UPLOAD_STALL_MS`] while sending, or no answer for
//! [`UPLOAD_ANSWER_MS`] once every byte is out (the server is storing it). Where the browser
//! reports no progress (`fetch` in a service worker), [`upload_deadline_ms`] scales a total
//! limit with the size at a slow but working rate instead.

use crate::types::Millis;

/// No new byte sent for this long: the upload has stalled.
pub const UPLOAD_STALL_MS: Millis = 30_000;

/// Every byte sent and no answer for this long: the server is not answering.
pub const UPLOAD_ANSWER_MS: Millis = 30_000;

/// The slowest link an upload without progress events is given time for (bytes per second).
pub const SLOWEST_UPLOAD_BYTES_PER_SEC: u64 = 16 * 1024;

/// The progress of one upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadWatch {
    total: u64,
    sent: u64,
    last_progress: Millis,
}

impl UploadWatch {
    /// An upload of `total` bytes starting at `now`.
    pub fn start(total: u64, now: Millis) -> Self {
        Self {
            total,
            sent: 0,
            last_progress: now,
        }
    }

    /// The browser reports `sent` bytes out at `now`; only new bytes count as progress.
    pub fn progress(&mut self, sent: u64, now: Millis) {
        if sent > self.sent {
            self.sent = sent;
            self.last_progress = now;
        }
    }

    /// Bytes sent so far and the total.
    pub fn sent(&self) -> (u64, u64) {
        (self.sent, self.total)
    }

    /// Whether the upload has stalled at `now` (see the module docs).
    pub fn stalled(&self, now: Millis) -> bool {
        let quiet = now.saturating_sub(self.last_progress);
        if self.total > 0 && self.sent >= self.total {
            quiet >= UPLOAD_ANSWER_MS
        } else {
            quiet >= UPLOAD_STALL_MS
        }
    }
}

/// A total time limit for an upload of `bytes` where no progress can be observed: the answer
/// time plus the file at [`SLOWEST_UPLOAD_BYTES_PER_SEC`].
pub fn upload_deadline_ms(bytes: u64) -> Millis {
    let transfer = bytes.saturating_mul(1000) / SLOWEST_UPLOAD_BYTES_PER_SEC;
    UPLOAD_ANSWER_MS.saturating_add(Millis::try_from(transfer).unwrap_or(Millis::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_upload_that_moves_never_stalls() {
        let ten_mib = 10 * 1024 * 1024;
        let mut watch = UploadWatch::start(ten_mib, 0);
        // 20 KiB/s: 512 s, far past any total limit, but always moving.
        for second in 1..=512u64 {
            let now = (second * 1000) as Millis;
            watch.progress(second * 20 * 1024, now);
            assert!(!watch.stalled(now), "second {second}");
        }
        assert_eq!(watch.sent(), (ten_mib, ten_mib));
    }

    #[test]
    fn no_progress_or_no_answer_is_a_stall() {
        let mut watch = UploadWatch::start(1000, 0);
        watch.progress(400, 1_000);
        assert!(!watch.stalled(1_000 + UPLOAD_STALL_MS - 1));
        assert!(watch.stalled(1_000 + UPLOAD_STALL_MS));
        watch.progress(400, 40_000);
        assert!(watch.stalled(40_000), "the same count again is no progress");
        watch.progress(1000, 50_000);
        assert_eq!(watch.sent(), (1000, 1000));
        assert!(!watch.stalled(50_000 + UPLOAD_ANSWER_MS - 1));
        assert!(
            watch.stalled(50_000 + UPLOAD_ANSWER_MS),
            "every byte out, no answer"
        );
    }

    #[test]
    fn deadlines_without_progress_grow_with_the_size() {
        assert_eq!(upload_deadline_ms(0), UPLOAD_ANSWER_MS);
        assert_eq!(upload_deadline_ms(16 * 1024), UPLOAD_ANSWER_MS + 1000);
        assert!(upload_deadline_ms(10 * 1024 * 1024) > 600_000);
        assert!(upload_deadline_ms(u64::MAX) > 0);
    }
}
