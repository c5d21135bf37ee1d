//! The `EventSource` connection: opens the stream with credentials, forwards its open, error
//! and event callbacks (`message` and the named events) as [`Signal`]s tagged with the
//! stream's generation, and closes it and removes its listeners when dropped.

use futures::channel::mpsc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, EventSourceInit, MessageEvent};

use crate::error::SyncError;

/// What the stream's callbacks report, tagged with the stream's generation so a late event
/// of a stream already replaced is ignored.
pub(super) enum Signal {
    Open(u32),
    /// An event of the stream: its generation, its SSE event name and its data.
    Message(u32, &'static str, String),
    Error(u32, bool),
    ReconnectDue,
    SessionEnded,
}

/// An open `EventSource` with its callbacks; dropping it closes the stream.
pub(super) struct Stream {
    source: EventSource,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Listeners of the named events (`change`, `revoked`, `chat`), which `onmessage` never
    /// sees.
    named: Vec<(&'static str, EventListener)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

/// A listener of stream events.
type EventListener = Closure<dyn FnMut(MessageEvent)>;

/// The named SSE events of the contract besides `message` (see `chat_sync::change_wire`).
const NAMED_EVENTS: [&str; 3] = ["change", "revoked", "chat"];

/// A listener that forwards an event's text data as a [`Signal::Message`] named `kind`.
fn forward(
    kind: &'static str,
    generation: u32,
    signals: &mpsc::UnboundedSender<Signal>,
) -> EventListener {
    let tx = signals.clone();
    Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match event.data().as_string() {
            Some(data) => {
                let _ = tx.unbounded_send(Signal::Message(generation, kind, data));
            }
            None => crate::log_warn!(kind, "dropped a live event without text data"),
        }
    })
}

impl Stream {
    /// Opens the stream at `url` (with credentials); its callbacks send signals tagged
    /// `generation`.
    pub(super) fn open(
        url: &str,
        generation: u32,
        signals: &mpsc::UnboundedSender<Signal>,
    ) -> Result<Self, SyncError> {
        let init = EventSourceInit::new();
        init.set_with_credentials(true);
        let source = EventSource::new_with_event_source_init_dict(url, &init)
            .map_err(|e| SyncError::platform("new EventSource", &e))?;
        let tx = signals.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
            let _ = tx.unbounded_send(Signal::Open(generation));
        });
        let on_message = forward("message", generation, signals);
        let mut named = Vec::with_capacity(NAMED_EVENTS.len());
        for kind in NAMED_EVENTS {
            let listener = forward(kind, generation, signals);
            source
                .add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())
                .map_err(|e| SyncError::platform("EventSource.addEventListener", &e))?;
            named.push((kind, listener));
        }
        let tx = signals.clone();
        let reader = source.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_event: Event| {
            let closed = reader.ready_state() == EventSource::CLOSED;
            let _ = tx.unbounded_send(Signal::Error(generation, closed));
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            source,
            _on_open: on_open,
            _on_message: on_message,
            named,
            _on_error: on_error,
        })
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.set_onopen(None);
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        for (kind, listener) in &self.named {
            let _ = self
                .source
                .remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
        self.source.close();
    }
}
