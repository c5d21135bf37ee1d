//! Builds the DOM of one chat row (a message or a skeleton) with `createElement` and
//! `textContent` only: no HTML string is ever parsed, so nothing in a message body, a sender
//! name or an attachment name can become markup or script.

use chat_sync::linkify::{pieces, Piece};
use chat_sync::outbox::{OutboxEntry, OutboxState};
use chat_sync::timeline::Row;
use chat_sync::{Attachment, Message, SeqRange};
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement};

use crate::format;

/// The most skeleton bars a gap shows, whatever its size.
pub const MAX_SKELETON_BARS: u64 = 5;

/// What a row shows; a mounted row is rebuilt only when this changes.
#[derive(Clone, Debug, PartialEq)]
pub enum RowContent {
    /// A cached message.
    Message(MessageRow),
    /// A cached message not read from the store yet (a few milliseconds while scrolling fast).
    Reading(chat_sync::Seq),
    /// A message the agent wrote that the server has not stored yet (queued, sending, or
    /// refused and waiting for the agent).
    Pending(OutboxEntry, Vec<String>),
    /// Missing messages: older history, or an interior or trailing gap.
    Skeleton {
        /// The row (its range and kind).
        row: Row,
        /// The chat's repair progress, shown in the gap while a fetch runs.
        progress: Option<(u64, u64)>,
    },
}

/// A message row with how it joins its neighbours.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRow {
    /// The message.
    pub message: Message,
    /// Whether it starts a sender group (shows the sender and time).
    pub group_start: bool,
    /// The day divider shown above it, if it starts a day.
    pub day: Option<String>,
    /// Whether the "unread" divider stands above it.
    pub first_unread: bool,
    /// Whether the signed-in agent sent it.
    pub own: bool,
    /// Whether the row offers "Edit" (their own message, not deleted, request open).
    pub can_edit: bool,
    /// Whether the row offers "Delete" (not deleted yet, and theirs or in their chat).
    pub can_delete: bool,
}

/// The estimated height of a row before it is measured, in pixels.
pub fn estimate(content: &RowContent) -> f64 {
    match content {
        RowContent::Message(row) => estimate_message(row),
        RowContent::Reading(_) => 40.0,
        RowContent::Pending(entry, previews) => {
            32.0 + 20.0 * (entry.body.chars().count() / 70 + 1) as f64
                + 172.0 * previews.iter().filter(|p| !p.is_empty()).count() as f64
        }
        RowContent::Skeleton { row, .. } => estimate_skeleton(row),
    }
}

/// The estimated height of a skeleton row.
pub fn estimate_skeleton(row: &Row) -> f64 {
    24.0 + 36.0 * row.missing().clamp(1, MAX_SKELETON_BARS) as f64
}

fn estimate_message(row: &MessageRow) -> f64 {
    let lines = (row.message.body.chars().count() / 70 + 1) as f64;
    let mut height = 12.0 + 20.0 * lines;
    if row.can_edit || row.can_delete || row.message.edited_at.is_some() {
        height += 20.0;
    }
    if row.group_start {
        height += 22.0;
    }
    if row.day.is_some() {
        height += 32.0;
    }
    if row.first_unread {
        height += 28.0;
    }
    height
        + 172.0
            * row
                .message
                .attachments
                .iter()
                .filter(|a| is_image(a))
                .count() as f64
        + 32.0
            * row
                .message
                .attachments
                .iter()
                .filter(|a| !is_image(a))
                .count() as f64
}

fn is_image(attachment: &Attachment) -> bool {
    matches!(
        attachment.mime.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/avif"
    )
}

/// Builds the element of a row.
pub fn build(document: &Document, content: &RowContent) -> HtmlElement {
    match content {
        RowContent::Message(row) => build_message(document, row),
        RowContent::Reading(seq) => {
            let el = element(document, "div", "row row--reading");
            set(&el, "data-reading-seq", &seq.to_string());
            set(&el, "aria-hidden", "true");
            el
        }
        RowContent::Pending(entry, previews) => build_pending(document, entry, previews),
        RowContent::Skeleton { row, progress } => build_skeleton(document, row, *progress),
    }
}

/// An unsent message; `previews` holds, per attachment, an object URL of the local copy of
/// an image (empty for other files), so a picked image shows at once, before any upload.
fn build_pending(document: &Document, entry: &OutboxEntry, previews: &[String]) -> HtmlElement {
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

fn build_message(document: &Document, row: &MessageRow) -> HtmlElement {
    let message = &row.message;
    let mut class = String::from("row msg");
    if row.group_start {
        class.push_str(" msg--group-start");
    }
    if row.own {
        class.push_str(" msg--own");
    }
    let el = element(document, "div", &class);
    set(&el, "data-testid", "message");
    set(&el, "data-seq", &message.seq.to_string());
    set(&el, "data-state", "sent");
    set(&el, "role", "article");
    set(
        &el,
        "aria-label",
        &format!(
            "{} at {}",
            message.sender.name,
            format::full(message.created_at)
        ),
    );
    if let Some(day) = &row.day {
        let divider = element(document, "div", "divider divider--day");
        set(&divider, "role", "separator");
        divider.set_text_content(Some(day));
        append(&el, &divider);
    }
    if row.first_unread {
        let divider = element(document, "div", "divider divider--unread");
        set(&divider, "role", "separator");
        divider.set_text_content(Some("Unread messages"));
        append(&el, &divider);
    }
    if row.group_start {
        let meta = element(document, "div", "msg__meta");
        let sender = element(document, "span", "msg__sender");
        sender.set_text_content(Some(&message.sender.name));
        let time = element(document, "time", "msg__time");
        time.set_text_content(Some(&format::clock(message.created_at)));
        set(&time, "title", &format::full(message.created_at));
        append(&meta, &sender);
        append(&meta, &time);
        append(&el, &meta);
    }
    let body = element(document, "div", "msg__body");
    if message.deleted {
        // The tombstone stands where the message stood; its text is gone from the cache.
        set(&el, "data-deleted", "true");
        body.class_list().add_1("msg__body--deleted").ok();
        body.set_text_content(Some("Message deleted"));
    } else {
        for piece in pieces(&message.body) {
            match piece {
                Piece::Text(text) => {
                    let node = document.create_text_node(text);
                    let _ = body.append_child(&node);
                }
                Piece::Link(url) => {
                    let link = element(document, "a", "msg__link");
                    set(&link, "href", url);
                    set(&link, "target", "_blank");
                    set(&link, "rel", "noopener noreferrer");
                    link.set_text_content(Some(url));
                    append(&body, &link);
                }
            }
        }
    }
    append(&el, &body);
    if !message.deleted && !message.attachments.is_empty() {
        let list = element(document, "div", "msg__attachments");
        for attachment in &message.attachments {
            append(&list, &build_attachment(document, attachment));
        }
        append(&el, &list);
    }
    if message.edited_at.is_some() && !message.deleted {
        set(&el, "data-edited", "true");
        let mark = element(document, "span", "msg__edited");
        mark.set_text_content(Some("edited"));
        if let Some(at) = message.edited_at {
            set(&mark, "title", &format!("Edited {}", format::full(at)));
        }
        append(&el, &mark);
    }
    if row.can_edit || row.can_delete {
        let actions = element(document, "div", "msg__actions");
        let seq = message.seq.to_string();
        let offer = |action: &str, label: &str, aria: &str| {
            let button = element(document, "button", "msg__action");
            set(&button, "type", "button");
            set(&button, "data-action", action);
            set(&button, "data-seq", &seq);
            set(&button, "aria-label", aria);
            button.set_text_content(Some(label));
            append(&actions, &button);
        };
        if row.can_edit {
            offer("edit", "Edit", "Edit this message");
        }
        if row.can_delete {
            offer("redact", "Delete", "Delete this message for everyone");
        }
        append(&el, &actions);
    }
    el
}

fn build_attachment(document: &Document, attachment: &Attachment) -> HtmlElement {
    let url = format!(
        "/api/media/{}",
        String::from(js_sys::encode_uri_component(&attachment.media_id))
    );
    if is_image(attachment) {
        // The thumbnail loads lazily (only rows near the viewport exist at all), through the
        // service worker's media cache; its box is fixed so loading never moves the list.
        let link = element(document, "a", "attachment attachment--image");
        set(&link, "href", &url);
        set(&link, "target", "_blank");
        set(&link, "rel", "noopener noreferrer");
        let img = element(document, "img", "attachment__thumb");
        set(&img, "src", &url);
        set(&img, "alt", &attachment.name);
        set(&img, "loading", "lazy");
        set(&img, "decoding", "async");
        append(&link, &img);
        link
    } else {
        let chip = element(document, "a", "attachment attachment--file");
        set(&chip, "href", &url);
        set(&chip, "download", &attachment.name);
        set(&chip, "rel", "noopener noreferrer");
        chip.set_text_content(Some(&format!(
            "📎 {} · {}",
            attachment.name,
            format::bytes(attachment.size)
        )));
        chip
    }
}

fn build_skeleton(document: &Document, row: &Row, progress: Option<(u64, u64)>) -> HtmlElement {
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

fn element(document: &Document, tag: &str, class: &str) -> HtmlElement {
    let el: HtmlElement = document
        .create_element(tag)
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .unwrap_or_else(|| unreachable_element(document));
    el.set_class_name(class);
    el
}

/// `createElement` fails only for invalid tag names, which the constants above never are;
/// a plain `div` keeps the view working if a browser ever refuses one.
fn unreachable_element(document: &Document) -> HtmlElement {
    document
        .create_element("div")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .expect("a document can always create a div")
}

fn set(el: &HtmlElement, name: &str, value: &str) {
    let _ = el.set_attribute(name, value);
}

fn append(parent: &HtmlElement, child: &HtmlElement) {
    let _ = parent.append_child(child);
}
