//! When an attachment upload counts as failed: not after a fixed total time (a 10 MiB file
//! on a slow link takes minutes, and a total limit would fail it and retry it for ever) but
//! when it stops making progress.
//!
//! [`UploadWatch`] is fed the bytes sent and the time, and says whether the upload has
//! stalled: no new byte for [`UPLOAD_STALL_MS`] while sending, or no answer for
//! [`UploadWatch::answer_window_ms`] once every byte is out. "Out" is what the browser
//! counts: bytes handed to the operating system, whose socket buffers hold megabytes (Linux
//! grows a socket's send buffer to 4 MiB). On a slow uplink those must still cross the link
//! after the last progress event, so the window is [`UPLOAD_ANSWER_MS`] for the server plus
//! the time the buffered bytes take at [`SLOWEST_UPLOAD_BYTES_PER_SEC`]. Measured
//! 2026-12-06 with the server reading at 160 KiB/s: Chromium reported 64 % of a 6 MiB file
//! out at once, and a 30 s window failed the upload (and every retry) while it drained. Where the browser
//! reports no progress (`fetch` in a service worker), [`upload_deadline_ms`] scales a total
//! limit with the size at a slow but working rate instead.

use crate::types::Millis;

/// No new byte sent for this long: the upload has stalled.
pub const UPLOAD_STALL_MS: Millis = 30_000;

/// Every byte sent and no answer for this long: the server is not answering.
pub const UPLOAD_ANSWER_MS: Millis = 30_000;

/// The slowest link an upload without progress events, or with bytes still in the operating
/// system's buffers, is given time for (bytes per second).
pub const SLOWEST_UPLOAD_BYTES_PER_SEC: u64 = 16 * 1024;

/// The most of an upload the operating system may still hold once the browser counts every
/// byte out (Linux's largest automatic send buffer, `tcp_wmem`).
pub const OS_SEND_BUFFER_BYTES: u64 = 4 * 1024 * 1024;

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

    /// How long an upload whose every byte is out may wait for its answer: the server's
    /// [`UPLOAD_ANSWER_MS`] plus what the operating system may still hold of it
    /// ([`OS_SEND_BUFFER_BYTES`] at most) crossing the link at
    /// [`SLOWEST_UPLOAD_BYTES_PER_SEC`].
    pub fn answer_window_ms(&self) -> Millis {
        upload_deadline_ms(self.total.min(OS_SEND_BUFFER_BYTES))
    }

    /// Whether the upload has stalled at `now` (see the module docs).
    pub fn stalled(&self, now: Millis) -> bool {
        let quiet = now.saturating_sub(self.last_progress);
        if self.total > 0 && self.sent >= self.total {
            quiet >= self.answer_window_ms()
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
        // 1,000 bytes at 16 KiB/s: 61 ms of draining on top of the server's answer time.
        let window = UPLOAD_ANSWER_MS + 61;
        assert_eq!(watch.answer_window_ms(), window);
        assert!(!watch.stalled(50_000 + window - 1));
        assert!(watch.stalled(50_000 + window), "every byte out, no answer");
    }

    #[test]
    fn bytes_the_system_still_buffers_get_time_to_cross_a_slow_link() {
        // 6 MiB, of which up to 4 MiB may sit in the socket's buffer when the browser counts
        // every byte out: 256 s at 16 KiB/s, then the server's answer time.
        let mut watch = UploadWatch::start(6 * 1024 * 1024, 0);
        watch.progress(6 * 1024 * 1024, 10_000);
        assert_eq!(watch.answer_window_ms(), UPLOAD_ANSWER_MS + 256_000);
        assert!(!watch.stalled(10_000 + UPLOAD_ANSWER_MS + 60_000));
        assert!(watch.stalled(10_000 + UPLOAD_ANSWER_MS + 256_000));
        // A small file: the whole of it may be buffered, no more.
        let small = UploadWatch::start(160 * 1024, 0);
        assert_eq!(small.answer_window_ms(), UPLOAD_ANSWER_MS + 10_000);
    }

    #[test]
    fn deadlines_without_progress_grow_with_the_size() {
        assert_eq!(upload_deadline_ms(0), UPLOAD_ANSWER_MS);
        assert_eq!(upload_deadline_ms(16 * 1024), UPLOAD_ANSWER_MS + 1000);
        assert!(upload_deadline_ms(10 * 1024 * 1024) > 600_000);
        assert!(upload_deadline_ms(u64::MAX) > 0);
    }
}
