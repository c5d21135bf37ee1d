//! The row of missing messages: older history, or an interior or trailing gap, with a few
//! skeleton bars and the repair's progress.

use chat_sync::timeline::Row;
use chat_sync::SeqRange;
use web_sys::{Document, HtmlElement};

use super::{append, element, set, MAX_SKELETON_BARS};

/// The element of a row of missing messages, with the repair's progress while it runs.
pub(super) fn build_skeleton(
    document: &Document,
    row: &Row,
    progress: Option<(u64, u64)>,
) -> HtmlElement {
    let (range, older) = match row {
        Row::Older(range) => (*range, true),
        Row::Gap(range) => (*range, false),
        Row::Message(seq) => (SeqRange::new(*seq, *seq), false),
    };
    let el = element(
        document,
        "div",
        if older {
            "row gap gap--older"
        } else {
            "row gap"
        },
    );
    set(&el, "data-testid", "gap-skeleton");
    set(&el, "data-from", &range.start.to_string());
    set(&el, "data-to", &range.end.to_string());
    set(&el, "role", "status");
    let count = range.len();
    let noun = if count == 1 { "message" } else { "messages" };
    let label = match (older, progress) {
        (true, _) => format!("{count} older {noun}"),
        (false, Some((done, total))) if total > 0 => {
            format!("Loading {count} missing {noun}… {done} / {total}")
        }
        (false, _) => format!("{count} missing {noun}"),
    };
    set(&el, "aria-label", &label);
    for _ in 0..count.clamp(1, MAX_SKELETON_BARS) {
        let bar = element(document, "div", "gap__bar");
        set(&bar, "aria-hidden", "true");
        append(&el, &bar);
    }
    let caption = element(document, "div", "gap__label");
    caption.set_text_content(Some(&label));
    append(&el, &caption);
    el
}
