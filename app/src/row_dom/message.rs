//! The row of a cached message: the day and unread dividers, the sender and time, the body
//! with its links, the attachments, the edited mark and the message's actions.

use chat_sync::linkify::{pieces, Piece};
use chat_sync::Attachment;
use web_sys::{Document, HtmlElement};

use super::{append, element, is_image, set, MessageRow};
use crate::format;

/// The element of a cached message's row.
pub(super) fn build_message(document: &Document, row: &MessageRow) -> HtmlElement {
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
    let sent_at = format::full(message.created_at);
    set(
        &el,
        "aria-label",
        &format!("{} at {sent_at}", message.sender.name),
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
        set(&time, "title", &sent_at);
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
                Piece::Link(url) => match web_sys::Url::new(url) {
                    // Shown as the browser parses it, which is where it goes: the host in
                    // punycode (a look-alike Cyrillic host reads `xn--…`), the path encoded.
                    Ok(parsed) => {
                        let href = parsed.href();
                        let link = element(document, "a", "msg__link");
                        set(&link, "href", &href);
                        set(&link, "target", "_blank");
                        set(&link, "rel", "noopener noreferrer");
                        link.set_text_content(Some(&href));
                        append(&body, &link);
                    }
                    Err(_) => {
                        let node = document.create_text_node(url);
                        let _ = body.append_child(&node);
                    }
                },
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

/// One attachment, served through the media cache: an image as a lazy thumbnail linking to
/// the file, another file as a download chip with its size.
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
