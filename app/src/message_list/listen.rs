//! The list's browser listeners (scroll, clicks on row actions, window resize), added when
//! the list opens and removed when it goes, with the object URLs of unsent images.

use std::rc::Rc;

use chat_sync::Seq;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::{MessageAction, MessageList};

impl MessageList {
    pub(super) fn listen(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let handler = Closure::<dyn FnMut()>::new(move || {
            if let Some(list) = weak.upgrade() {
                list.schedule_frame();
            }
        });
        let _ = self
            .scroller
            .add_event_listener_with_callback("scroll", handler.as_ref().unchecked_ref());
        *self.on_scroll.borrow_mut() = Some(handler);
        // Retry and delete on failed messages, edit and delete on stored ones: one listener
        // for every row.
        let weak = Rc::downgrade(self);
        let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(list) = weak.upgrade() else {
                return;
            };
            let Some(button) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|t| t.closest("[data-action]").ok().flatten())
            else {
                return;
            };
            let seq = button
                .get_attribute("data-seq")
                .and_then(|s| s.parse::<Seq>().ok());
            match (button.get_attribute("data-action").as_deref(), seq) {
                (Some("edit"), Some(seq)) => (list.events.on_message)(seq, MessageAction::Edit),
                (Some("redact"), Some(seq)) => (list.events.on_message)(seq, MessageAction::Delete),
                (Some(action @ ("retry" | "delete")), _) => {
                    let id = button
                        .get_attribute("data-client-temp-id")
                        .unwrap_or_default();
                    (list.events.on_outbox)(id, action == "retry");
                }
                _ => {}
            }
        });
        let _ = self
            .canvas
            .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        *self.on_click.borrow_mut() = Some(on_click);
        // Window resizes change the viewport height and the rows' wrapping: every measured
        // height is forgotten and measured again.
        let weak = Rc::downgrade(self);
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            if let Some(list) = weak.upgrade() {
                list.state.borrow_mut().model.forget_measurements();
                list.schedule_frame();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
        }
        *self.on_resize.borrow_mut() = Some(on_resize);
    }
}

impl Drop for MessageList {
    fn drop(&mut self) {
        for url in self.state.borrow().previews.values() {
            let _ = web_sys::Url::revoke_object_url(url);
        }
        if let Some(handler) = self.on_scroll.borrow_mut().take() {
            let _ = self
                .scroller
                .remove_event_listener_with_callback("scroll", handler.as_ref().unchecked_ref());
        }
        if let Some(handler) = self.on_click.borrow_mut().take() {
            let _ = self
                .canvas
                .remove_event_listener_with_callback("click", handler.as_ref().unchecked_ref());
        }
        // The window outlives every chat view: without this, each opened chat would leave a
        // listener (and its closure) behind.
        if let (Some(handler), Some(window)) =
            (self.on_resize.borrow_mut().take(), web_sys::window())
        {
            let _ = window
                .remove_event_listener_with_callback("resize", handler.as_ref().unchecked_ref());
        }
    }
}
