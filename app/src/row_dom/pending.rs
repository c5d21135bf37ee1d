//! The row of a message the agent wrote that the server has not stored yet: its text, local
//! previews of its images, its state, and the retry and delete actions of a refused one.

use chat_sync::outbox::{OutboxEntry, OutboxState};
use web_sys::{Document, HtmlElement};

use super::{append, element, set};
use crate::format;

/// An unsent message; `previews` holds, per attachment, an object URL of the local copy of
/// an image (empty for other files), so a picked image shows at once, before any upload.
pub(super) fn build_pending(
    document: &Document,
    entry: &OutboxEntry,
    previews: &[String],
) -> HtmlElement {
    let failed = match &entry.state {
        OutboxState::Failed { reason } => Some(reason.clone()),
        OutboxState::Queued | OutboxState::Sending => None,
    };
    let el = element(
        document,
        "div",
        if failed.is_some() {
            "row msg msg--own msg--failed"
        } else {
            "row msg msg--own msg--pending"
        },
    );
    set(&el, "data-testid", "message");
    set(
        &el,
        "data-state",
        if failed.is_some() {
            "failed"
        } else {
            "pending"
        },
    );
    set(&el, "data-client-temp-id", &entry.client_temp_id);
    set(&el, "role", "article");
    set(
        &el,
        "aria-label",
        if failed.is_some() {
            "Your message, not sent"
        } else {
            "Your message, sending"
        },
    );
    let body = element(document, "div", "msg__body");
    body.set_text_content(Some(&entry.body));
    append(&el, &body);
    if !entry.attachments.is_empty() {
        let list = element(document, "div", "msg__attachments");
        for (i, attachment) in entry.attachments.iter().enumerate() {
            if let Some(url) = previews.get(i).filter(|u| !u.is_empty()) {
                let img = element(document, "img", "attachment__thumb");
                set(&img, "src", url);
                set(&img, "alt", &attachment.name);
                append(&list, &img);
                continue;
            }
            let chip = element(document, "span", "attachment attachment--file");
            chip.set_text_content(Some(&format!(
                "📎 {} · {}",
                attachment.name,
                format::bytes(attachment.size)
            )));
            append(&list, &chip);
        }
        append(&el, &list);
    }
    let status = element(document, "div", "msg__status");
    match failed {
        None => status.set_text_content(Some("Sending…")),
        Some(reason) => {
            let text = element(document, "span", "msg__failure");
            text.set_text_content(Some(&format!("Not sent: {reason}")));
            append(&status, &text);
            for (label, action) in [("Retry", "retry"), ("Delete", "delete")] {
                let button = element(document, "button", "msg__action");
                set(&button, "type", "button");
                set(&button, "data-action", action);
                set(&button, "data-client-temp-id", &entry.client_temp_id);
                button.set_text_content(Some(label));
                append(&status, &button);
            }
        }
    }
    append(&el, &status);
    el
}
