//! Rendering the list: one synchronous pass mounts the rows the model says are in view,
//! unmounts the others, measures the new ones, places every row and puts the scroll position
//! where the model says the reader's row stays, all before the browser paints.

use std::rc::Rc;

use chat_sync::list_model::ListKey;
use chat_sync::vec_map::VecMap;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::{content, MessageList, Mounted};
use crate::format;
use crate::row_dom::{self, RowContent};

impl MessageList {
    /// One synchronous pass: mount the rows in view, unmount the others, measure the new
    /// ones, keep the reader's position, repeat until the rows in view stop changing.
    pub fn render(&self) {
        self.note_reader_scroll();
        for _ in 0..4 {
            let stable = self.render_pass();
            if stable {
                break;
            }
        }
        let top = f64::from(self.scroller.scroll_top());
        self.state.borrow_mut().model.rendered_at(top);
        self.after_render();
    }

    /// A render can run (after a read or a merge) before the scroll event's frame: the model
    /// notes whether the reader moved since the last render.
    pub(super) fn note_reader_scroll(&self) {
        let viewport = self.viewport();
        self.state.borrow_mut().model.note_reader_scroll(viewport);
    }

    /// Coalesces scroll events into one render per animation frame.
    pub(super) fn schedule_frame(self: &Rc<Self>) {
        if self.frame_pending.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let callback = Closure::once_into_js(move || {
            if let Some(list) = weak.upgrade() {
                list.frame_pending.set(false);
                list.on_scrolled();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }
    }

    fn on_scrolled(self: &Rc<Self>) {
        let viewport = self.viewport();
        let stuck = self.state.borrow_mut().model.note_scroll(viewport);
        if stuck {
            (self.events.on_new_below)(false);
        }
        self.render();
    }

    /// One pass; whether it was stable (no row changed height, so nothing moved).
    fn render_pass(&self) -> bool {
        self.set_canvas_height();
        let stuck = {
            let state = self.state.borrow();
            state
                .model
                .stuck_top(f64::from(self.scroller.client_height()))
        };
        if let Some(top) = stuck {
            self.scroller.set_scroll_top(top as i32);
        }
        let viewport = self.viewport();
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let range = state.model.visible_indices(viewport, self.lean.get());
        // The rows mounted before this pass with their content are the ones the reader
        // already saw; the model keeps the topmost on screen in place.
        let seen = state
            .mounted
            .iter()
            .filter(|(_, m)| !matches!(m.content, RowContent::Reading(_)))
            .map(|(key, _)| key);
        let anchor = state.model.anchor(viewport, seen);

        let mut wanted: Vec<(usize, ListKey, RowContent)> = Vec::with_capacity(range.len());
        for index in range {
            let Some(content) =
                content::row_content(&state.model, &state.previews, &self.viewer, index)
            else {
                continue;
            };
            wanted.push((index, state.model.key_at(index), content));
        }
        // The rows wanted come in index order, which is not key order: sorted for the search.
        let mut keep: Vec<&ListKey> = wanted.iter().map(|w| &w.1).collect();
        chat_sync::sort::sort(&mut keep);
        state.mounted.retain(|key, mounted| {
            let kept = keep.binary_search(&key).is_ok();
            if !kept {
                mounted.el.remove();
            }
            kept
        });
        let mut fresh: Vec<(usize, ListKey)> = Vec::new();
        for (index, key, content) in wanted {
            let rebuild = state.mounted.get(&key).is_none_or(|m| m.content != content);
            if rebuild {
                // Inserted into the canvas below, once, in list order ([`keep_dom_order`]).
                let el = row_dom::build(&self.document, &content);
                if let Some(old) = state.mounted.remove(&key) {
                    old.el.remove();
                }
                state.mounted.insert(
                    key.clone(),
                    Mounted {
                        el,
                        index,
                        top: -1.0,
                        content,
                    },
                );
                fresh.push((index, key));
            } else if let Some(mounted) = state.mounted.get_mut(&key) {
                mounted.index = index;
            }
        }
        self.keep_dom_order(&state.mounted, &mut fresh);
        // Measure the new rows (one layout for all of them); the model corrects its heights.
        let mut changed = false;
        for (index, key) in &fresh {
            let Some(mounted) = state.mounted.get(key) else {
                continue;
            };
            let height = f64::from(mounted.el.offset_height());
            // A placeholder's height is not the row's: used for now, not remembered.
            let remember = !matches!(mounted.content, RowContent::Reading(_));
            if state.model.measured(*index, key, height, remember) {
                changed = true;
            }
        }
        // Place every mounted row at its offset.
        for mounted in state.mounted.values_mut() {
            let top = state.model.heights().offset(mounted.index);
            if (mounted.top - top).abs() > 0.25 {
                mounted.top = top;
                let _ = mounted
                    .el
                    .style()
                    .set_property("transform", &format!("translateY({})", format::css_px(top)));
            }
        }
        let correction = state.model.anchor_correction(anchor, viewport.top);
        drop(guard);
        if changed {
            self.set_canvas_height();
            if let Some(top) = correction {
                self.scroller.set_scroll_top(top.round() as i32);
            }
        }
        !changed
    }

    /// After the rows are placed: read missing messages, ask for older history when its row
    /// is on screen, report what the reader has seen (the model says which, once each).
    fn after_render(&self) {
        let viewport = self.viewport();
        let found = {
            let mut state = self.state.borrow_mut();
            let overscanned = state.model.visible_indices(viewport, self.lean.get());
            state.model.after_render(viewport, overscanned)
        };
        if !found.read.is_empty() {
            self.schedule_read(found.read);
        }
        if found.ask_older {
            (self.events.on_older)();
        }
        if let Some(seq) = found.newly_seen {
            (self.events.on_read)(seq);
        }
        if let Some(shown) = found.shown_changed {
            (self.events.on_viewport)(shown);
        }
    }

    /// Screen readers (the canvas is an ARIA feed), find-in-page and copying follow the DOM,
    /// not the transforms that place the rows: the mounted rows stay in the DOM in list
    /// order. Each new row (not in the DOM yet) goes in before the first mounted row after
    /// it, the last first, so that row is already in place; the rows kept were already in
    /// order, and should they not be (a key whose place changed), all are put back in order.
    /// Each new row is inserted once: every insertion is a DOM mutation the browser handles.
    fn keep_dom_order(&self, mounted: &VecMap<ListKey, Mounted>, fresh: &mut [(usize, ListKey)]) {
        chat_sync::sort::sort_by_key(fresh, |(index, _)| std::cmp::Reverse(*index));
        for (index, key) in fresh.iter() {
            let Some(row) = mounted.get(key) else {
                continue;
            };
            let next = mounted
                .values()
                .filter(|m| m.index > *index)
                .min_by_key(|m| m.index)
                .map(|m| m.el.clone());
            let next: Option<&web_sys::Node> = next.as_ref().map(|el| el.as_ref());
            let _ = self.canvas.insert_before(&row.el, next);
        }
        let mut rows: Vec<&Mounted> = mounted.values().collect();
        chat_sync::sort::sort_by_key(&mut rows, |m| m.index);
        let in_order = rows
            .windows(2)
            .all(|pair| pair[0].el.next_element_sibling().as_ref() == Some(pair[1].el.as_ref()));
        if !in_order {
            for row in rows {
                let _ = self.canvas.append_child(&row.el);
            }
        }
    }

    /// Sizes the canvas to the rows' total height, so the scrollbar spans the whole chat.
    pub(super) fn set_canvas_height(&self) {
        let mut state = self.state.borrow_mut();
        let total = state.model.heights().total();
        if (total - state.canvas_height).abs() > 0.5 {
            state.canvas_height = total;
            let _ = self
                .canvas
                .style()
                .set_property("height", &format::css_px(total));
        }
    }
}
