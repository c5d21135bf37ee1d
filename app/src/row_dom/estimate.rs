//! The estimated height of a row before it is measured, from what it shows.

use chat_sync::timeline::Row;

use super::{is_image, MessageRow, RowContent, MAX_SKELETON_BARS};

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

/// The estimated height of a message row: its text, header, dividers and attachments.
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
