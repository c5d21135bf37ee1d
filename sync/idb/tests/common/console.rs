//! The console log's line format and levels.

use chat_sync_idb::console::{line, Level};

pub async fn a_log_line_names_its_level_and_target_then_the_message_and_fields() {
    let chat = "r-1";
    let range = 3..5;
    let text = line(
        Level::Warn,
        "chat_sync_idb::runtime",
        format_args!("history fetch failed"),
        &[
            ("chat", format_args!("{chat}")),
            ("range", format_args!("{range:?}")),
        ],
    );
    assert_eq!(
        text,
        "WARN chat_sync_idb::runtime: history fetch failed chat=r-1 range=3..5"
    );
    let text = line(
        Level::Error,
        "worker",
        format_args!(""),
        &[("message", format_args!("install failed"))],
    );
    assert_eq!(text, "ERROR worker: install failed");
}

pub async fn release_builds_log_warnings_and_errors_only() {
    assert!(Level::Error.compiled_in());
    assert!(Level::Warn.compiled_in());
    assert_eq!(Level::Info.compiled_in(), cfg!(debug_assertions));
    assert_eq!(Level::Debug.compiled_in(), cfg!(debug_assertions));
    // The suites log up to `Info` (`common::init`).
    assert!(chat_sync_idb::console::enabled(Level::Info));
    assert!(!chat_sync_idb::console::enabled(Level::Debug));
}
