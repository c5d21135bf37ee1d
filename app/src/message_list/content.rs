//! What a row shows, from the model's rows and facts plus what needs the browser: the local
//! time zone and day labels, and the object URLs of unsent images. Its estimate is the height
//! the row will have as built, so a new row placed before it is measured rarely moves.

use chat_sync::list_model::{ListModel, ListRow, Viewer, UNKNOWN_ROW_PX};
use chat_sync::timeline::Row;
use chat_sync::vec_map::VecMap;

use crate::format;
use crate::row_dom::{self, MessageRow, RowContent};

/// The estimated height of a timeline row before it is measured.
pub(super) fn estimate_row(model: &ListModel, viewer: &Viewer, row: &Row) -> f64 {
    match row {
        // The row as it will be built (its group header, day separator and actions), so a
        // run of new messages from one sender is not estimated a header each: estimates that
        // match let one render pass place the new bottom instead of several.
        Row::Message(seq) if model.message(*seq).is_some() => {
            row_dom::estimate(&content_of(model, viewer, row))
        }
        Row::Message(_) => UNKNOWN_ROW_PX,
        other => row_dom::estimate_skeleton(other),
    }
}

/// What the row at `index` shows, if there is one.
pub(super) fn row_content(
    model: &ListModel,
    previews: &VecMap<String, String>,
    viewer: &Viewer,
    index: usize,
) -> Option<RowContent> {
    Some(match model.row_at(index)? {
        ListRow::Timeline(row) => content_of(model, viewer, &row),
        ListRow::Pending(k) => {
            let entry = model.pending()[k].clone();
            let previews = entry
                .attachments
                .iter()
                .map(|a| previews.get(&a.media_id).cloned().unwrap_or_default())
                .collect();
            RowContent::Pending(entry, previews)
        }
    })
}

/// What a timeline row shows: a message read into memory (as the model's facts say it joins
/// its neighbours), a placeholder while it is read, or a skeleton.
fn content_of(model: &ListModel, viewer: &Viewer, row: &Row) -> RowContent {
    match *row {
        Row::Message(seq) => match model.message_facts(seq, viewer, format::utc_offset_minutes) {
            Some((message, facts)) => RowContent::Message(MessageRow {
                message: message.clone(),
                group_start: facts.group_start,
                day: facts
                    .new_day
                    .then(|| format::day(message.created_at, js_sys::Date::now() as i64)),
                first_unread: facts.first_unread,
                own: facts.own,
                can_edit: facts.can_edit,
                can_delete: facts.can_delete,
            }),
            None => RowContent::Reading(seq),
        },
        Row::Gap(_) => RowContent::Skeleton {
            row: *row,
            progress: model.progress(),
        },
        Row::Older(_) => RowContent::Skeleton {
            row: *row,
            progress: None,
        },
    }
}
