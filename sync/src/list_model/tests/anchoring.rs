//! Unit tests of the anchoring: which row stays in place when rows above it are measured,
//! prepended or filled, and when the reader follows the bottom.

use super::*;

#[test]
fn heights_changing_above_the_anchor_keep_the_reader_in_place() {
    let mut model = scrolled_up(&[(1, 100)], 100);
    let at = view(2_010.0, 500.0);
    model.note_reader_scroll(at);
    assert!(!model.stick_to_bottom());
    // Rows 41..=60 are mounted with their content; 61 onwards is off screen.
    let seen: Vec<ListKey> = (41..=60).map(key).collect();
    let anchor = model.anchor(at, &seen);
    assert_eq!(
        anchor,
        Anchor {
            index: 40,
            delta: 10.0
        }
    );
    // Rows above the anchor measure taller than their estimates: the list moves down by
    // exactly their growth.
    let mut changed = false;
    for index in 30..40 {
        changed |= model.measured(index, &key(index as Seq + 1), 80.0, true);
    }
    assert!(changed);
    assert_eq!(model.anchor_correction(anchor, at.top), Some(2_310.0));
    // A row below the anchor changes nothing above it.
    model.measured(70, &key(71), 90.0, true);
    assert_eq!(model.anchor_correction(anchor, 2_310.0), None);
}

#[test]
fn the_anchor_is_the_topmost_seen_row_on_screen() {
    let model = scrolled_up(&[(1, 100)], 100);
    let at = view(2_010.0, 500.0);
    // A seen row far above the screen is not the anchor; a row on screen not seen yet
    // (still a placeholder) is not either.
    let seen = [key(3), key(44), key(45)];
    assert_eq!(
        model.anchor(at, &seen),
        Anchor {
            index: 43,
            delta: 2_010.0 - 43.0 * MESSAGE
        }
    );
    assert_eq!(
        model.anchor(at, &[]),
        Anchor {
            index: 40,
            delta: 10.0
        },
        "without a seen row, the row at the top"
    );
}

#[test]
fn a_reader_at_the_bottom_is_not_anchored_but_stuck() {
    let mut model = ListModel::new();
    model.start_at(None);
    apply(&mut model, &[(1, 20)], 20, view(0.0, 300.0));
    let anchor = model.anchor(view(700.0, 300.0), &[key(20)]);
    model.measured(0, &key(1), 120.0, true);
    assert_eq!(model.anchor_correction(anchor, 700.0), None);
    assert_eq!(model.stuck_top(300.0), Some(770.0));
    assert_eq!(model.stuck_top(5_000.0), Some(0.0));
}

#[test]
fn prepending_older_history_keeps_the_readers_row_in_place() {
    let mut model = ListModel::new();
    model.start_at(Some(60));
    let first = apply(&mut model, &[(51, 100)], 100, view(0.0, 0.0));
    assert_eq!(
        first,
        Applied::default(),
        "nothing to keep in an empty list"
    );
    // Rows: Older(1..=50), 51..=100. Message 60 goes just below the top.
    assert_eq!(
        model.scroll_to_seq(60),
        Some(SKELETON + 9.0 * MESSAGE - 48.0)
    );
    assert!(!model.stick_to_bottom());
    // Message 59 was measured taller; the reader sees it 2 px below the top.
    assert!(model.measured(9, &key(59), 70.0, true));
    let at = view(SKELETON + 8.0 * MESSAGE + 2.0, 400.0);
    model.note_reader_scroll(at);
    model.rendered_at(at.top);
    // A page of older history arrives: 31..=50 are prepended.
    let applied = apply(&mut model, &[(31, 100)], 100, at);
    let index = model.timeline().index_of_seq(59).unwrap();
    assert_eq!(index, 29);
    assert_eq!(
        model.heights().height(29),
        70.0,
        "the measured height stays"
    );
    assert_eq!(
        applied,
        Applied {
            scroll_to: Some(SKELETON + 28.0 * MESSAGE + 2.0),
            new_below: false
        }
    );
}

#[test]
fn a_gap_filled_above_the_reader_keeps_their_row() {
    // Rows: 1..=10, Gap(11..=20), 21..=40; message 30 stands at 10 * 50 + 200 + 9 * 50.
    let mut model = scrolled_up(&[(1, 10), (21, 40)], 40);
    let at = view(1_156.0, 300.0);
    let applied = apply(&mut model, &[(1, 40)], 40, at);
    assert_eq!(applied.scroll_to, Some(29.0 * MESSAGE + 6.0));
    assert!(!applied.new_below);
}

#[test]
fn a_gap_partly_filled_on_screen_is_found_again_by_its_seqs() {
    let mut model = scrolled_up(&[(1, 10), (21, 40)], 40);
    // Only the gap is on screen, 10 px below its top.
    let at = view(510.0, 100.0);
    let applied = apply(&mut model, &[(1, 15), (21, 40)], 40, at);
    // Gap(16..=20) covers the gap's last seq: it stands after 15 messages.
    assert_eq!(applied.scroll_to, Some(15.0 * MESSAGE + 10.0));
}

#[test]
fn stuck_to_bottom_follows_new_messages() {
    let mut model = ListModel::new();
    model.start_at(None);
    apply(&mut model, &[(1, 20)], 20, view(0.0, 300.0));
    assert_eq!(model.stuck_top(300.0), Some(700.0));
    let applied = apply(&mut model, &[(1, 25)], 25, view(700.0, 300.0));
    assert_eq!(applied, Applied::default(), "no anchor, nothing new below");
    assert_eq!(model.stuck_top(300.0), Some(950.0));
    assert!(model.at_bottom(view(927.0, 300.0)), "within the slack");
    assert!(!model.at_bottom(view(925.0, 300.0)));
}

#[test]
fn a_reader_scrolled_up_is_told_of_new_messages_below() {
    let mut model = ListModel::new();
    model.start_at(None);
    apply(&mut model, &[(1, 20)], 20, view(0.0, 300.0));
    assert!(!model.note_scroll(view(100.0, 300.0)));
    let applied = apply(&mut model, &[(1, 30)], 30, view(100.0, 300.0));
    assert_eq!(
        applied,
        Applied {
            scroll_to: Some(100.0),
            new_below: true
        }
    );
    assert_eq!(model.stuck_top(300.0), None);
    assert!(
        model.note_scroll(view(1_200.0, 300.0)),
        "back at the bottom"
    );
    model.follow_bottom();
    assert_eq!(model.stuck_top(300.0), Some(1_200.0));
}

#[test]
fn sending_a_message_jumps_to_the_bottom_and_lists_it_after_the_timeline() {
    let mut model = scrolled_up(&[(1, 20)], 20);
    assert!(!model.stick_to_bottom());
    let pending = vec![unsent("t-1", 1)];
    apply_with(&mut model, &[(1, 20)], 20, pending, view(0.0, 300.0));
    assert!(model.stick_to_bottom());
    assert_eq!(model.len(), 21);
    assert_eq!(model.row_at(20), Some(ListRow::Pending(0)));
    assert_eq!(model.key_at(20), ListKey::Pending("t-1".into()));
    assert_eq!(
        model.index_of_key(&ListKey::Pending("t-1".into())),
        Some(20)
    );
    assert_eq!(model.heights().height(20), UNKNOWN_ROW_PX);
    assert_eq!(model.row_at(21), None);
    assert_eq!(model.key_at(21), ListKey::Pending(String::new()));
}

#[test]
fn an_unchanged_record_keeps_the_layout() {
    let mut model = scrolled_up(&[(1, 20)], 20);
    model.measured(3, &key(4), 77.0, true);
    let mut changed = record(&[(1, 20)], 20);
    changed.title = "Renamed".into();
    let held = changed.held.clone();
    let applied = model.apply_record(
        Some(changed),
        &held,
        Vec::new(),
        view(0.0, 300.0),
        |_, _| panic!("nothing is estimated again"),
    );
    assert_eq!(applied, Applied::default());
    assert_eq!(model.record().unwrap().title, "Renamed");
}

#[test]
fn only_measured_heights_of_real_content_outlive_a_new_layout() {
    let mut model = scrolled_up(&[(1, 5)], 5);
    assert!(
        !model.measured(2, &key(3), 0.0, true),
        "not laid out: the estimate stays"
    );
    assert!(
        !model.measured(3, &key(4), MESSAGE, true),
        "already that tall"
    );
    // A placeholder's height is not remembered: the next layout estimates the row again.
    assert!(model.measured(2, &key(3), 60.0, false));
    assert_eq!(model.heights().height(2), 60.0);
    apply(&mut model, &[(1, 6)], 6, view(0.0, 0.0));
    assert_eq!(model.heights().height(2), MESSAGE);
    // A message's height is, until a resize forgets every measurement.
    assert!(model.measured(2, &key(3), 70.0, true));
    apply(&mut model, &[(1, 7)], 7, view(0.0, 0.0));
    assert_eq!(model.heights().height(2), 70.0);
    model.forget_measurements();
    apply(&mut model, &[(1, 8)], 8, view(0.0, 0.0));
    assert_eq!(model.heights().height(2), MESSAGE);
}
