//! Builds the DOM of one chat row (a message or a skeleton) with `createElement` and
//! `textContent` only: no HTML string is ever parsed, so nothing in a message body, a sender
//! name or an attachment name can become markup or script.
//!
//! This module holds what a row shows, the dispatch of its build and the element helpers;
//! each kind of row is built in its own child (`message`, `pending`, `skeleton`), and the
//! estimated heights are in `estimate`.

use chat_sync::outbox::OutboxEntry;
use chat_sync::timeline::Row;
use chat_sync::{Attachment, Message};
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement};

mod estimate;
mod message;
mod pending;
mod skeleton;

pub use estimate::{estimate, estimate_skeleton};
use message::build_message;
use pending::build_pending;
use skeleton::build_skeleton;

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

/// Whether an attachment is shown as an image (a type every browser displays).
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

/// A new element `tag` with the class names `class`.
fn element(document: &Document, tag: &str, class: &str) -> HtmlElement {
    let el: HtmlElement = document
        .create_element(tag)
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .unwrap_or_else(|| unreachable_element(document));
    el.set_class_name(class);
    el
}

/// `createElement` fails only for invalid tag names, which the rows' literal tags never are;
/// a plain `div` keeps the view working if a browser ever refuses one.
fn unreachable_element(document: &Document) -> HtmlElement {
    document
        .create_element("div")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .expect("a document can always create a div")
}

/// Sets an attribute (a failure only means an invalid name, which the constants never are).
fn set(el: &HtmlElement, name: &str, value: &str) {
    let _ = el.set_attribute(name, value);
}

/// Appends `child` to `parent`.
fn append(parent: &HtmlElement, child: &HtmlElement) {
    let _ = parent.append_child(child);
}
