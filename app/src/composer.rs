//! The composer: what the agent writes goes to the outbox in IndexedDB first (shown at once
//! as `pending`), then out. The draft is kept in `localStorage` while typing, so a reload or a
//! crash loses nothing; a full outbox is said plainly and the text stays.

use std::rc::Rc;

use chat_sync::outbox::OutboxError;
use chat_sync::{RequestId, Seq};
use chat_sync_idb::drafts;
use chat_sync_idb::outbox_sender::{self, LocalAttachment};
use chat_sync_idb::SyncError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::cache::AppCache;
use crate::effect::effect;
use crate::outbox;

/// The composer of one chat.
#[component]
pub fn Composer(
    /// The agent's cache.
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    /// The chat.
    request_id: RequestId,
    /// The message being edited (its seq and text), set by the list's "Edit".
    editing: RwSignal<Option<(Seq, String)>>,
    /// Whether the request is closed (or was taken from the agent): nothing can be sent.
    #[prop(into)]
    closed: Signal<bool>,
) -> impl IntoView {
    let draft_key = cache.with_value(|c| drafts::key(&c.user.id, request_id.as_str()));
    let text = RwSignal::new(drafts::load(&draft_key));
    let files = RwSignal::new_local(Vec::<LocalAttachment>::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Editing: the message's text replaces the draft in the box until saved or cancelled
    // (the draft itself stays saved and comes back after).
    let edit_text = RwSignal::new(String::new());
    let key = draft_key.clone();
    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        if editing.with_untracked(Option::is_some) {
            edit_text.try_set(value);
            return;
        }
        drafts::save(&key, &value);
        text.try_set(value);
    };
    let on_files = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(list) = input.files() {
            let picked: Vec<LocalAttachment> = (0..list.length())
                .filter_map(|i| list.get(i))
                .map(|file| LocalAttachment {
                    name: file.name(),
                    mime: non_empty(file.type_()),
                    blob: file.into(),
                })
                .collect();
            files.try_update(|f| f.extend(picked));
        }
        input.set_value("");
    };
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        let Some(data) = ev.clipboard_data() else {
            return;
        };
        let Some(list) = data.files() else {
            return;
        };
        if list.length() == 0 {
            return;
        }
        let pasted: Vec<LocalAttachment> = (0..list.length())
            .filter_map(|i| list.get(i))
            .map(|file| LocalAttachment {
                name: non_empty_name(file.name()),
                mime: non_empty(file.type_()),
                blob: file.into(),
            })
            .collect();
        files.try_update(|f| f.extend(pasted));
    };
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    effect(move || {
        if let Some((_, body)) = editing.get() {
            edit_text.try_set(body);
            problem.try_set(None);
            if let Some(area) = textarea.get_untracked() {
                let _ = area.focus();
            }
        }
    });
    let cancel_edit = move || {
        editing.try_set(None);
        problem.try_set(None);
    };
    let id = request_id.clone();
    let save_edit = move || {
        let Some((seq, _)) = editing.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        let Some(cache_rc) = cache.try_get_value() else {
            return;
        };
        // The tab's live worker sends it and merges the server's answer.
        let edited = cache_rc.edit(&id, seq, &edit_text.get_untracked());
        busy.try_set(true);
        spawn_local(async move {
            match edited.await {
                Ok(()) => {
                    editing.try_set(None);
                    problem.try_set(None);
                }
                Err(sentence) => {
                    problem.try_set(Some(sentence));
                }
            }
            busy.try_set(false);
        });
    };
    let id = request_id.clone();
    let key = draft_key.clone();
    let send = move || {
        if editing.with_untracked(Option::is_some) {
            save_edit();
            return;
        }
        if closed.get_untracked() {
            return;
        }
        let body = text.get_untracked();
        let attachments = files.get_untracked();
        if busy.get_untracked() || (body.trim().is_empty() && attachments.is_empty()) {
            return;
        }
        busy.try_set(true);
        problem.try_set(None);
        let (id, key) = (id.clone(), key.clone());
        let Some(cache_rc) = cache.try_get_value() else {
            return;
        };
        spawn_local(async move {
            match outbox_sender::enqueue(&cache_rc.runtime, &id, body, attachments).await {
                Ok(_) => {
                    text.try_set(String::new());
                    files.try_set(Vec::new());
                    drafts::save(&key, "");
                    outbox::request_background_sync();
                    cache_rc.send_outbox(false);
                }
                Err(error) => {
                    problem.try_set(Some(describe(&error)));
                }
            }
            busy.try_set(false);
        });
    };
    let send_on_enter = {
        let send = send.clone();
        move |ev: leptos::ev::KeyboardEvent| {
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                send();
            } else if ev.key() == "Escape" && editing.with_untracked(Option::is_some) {
                // Esc leaves the edit, not the chat.
                ev.prevent_default();
                ev.stop_propagation();
                cancel_edit();
            }
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    view! {
        <form class="composer" on:submit=submit>
            {move || problem.get().map(|message| view! {
                <p class="composer__problem" role="alert" data-testid="composer-problem">{message}</p>
            })}
            {move || {
                let names: Vec<String> = files.with(|f| f.iter().map(|a| a.name.clone()).collect());
                (!names.is_empty()).then(|| view! {
                    <ul class="composer__files" aria-label="Attachments to send">
                        {names.into_iter().map(|n| view! { <li>{format!("📎 {n}")}</li> }).collect_view()}
                    </ul>
                })
            }}
            {move || editing.get().map(|_| view! {
                <p class="composer__editing" data-testid="composer-editing">
                    "Editing your message · Enter saves, Esc cancels "
                    <button type="button" on:click=move |_| cancel_edit()>"Cancel"</button>
                </p>
            })}
            {move || (closed.get() && editing.with(Option::is_none)).then(|| view! {
                <p class="composer__closed" data-testid="composer-closed">
                    "This request is closed: no more replies can be sent."
                </p>
            })}
            <div class="composer__row">
                <label class="composer__attach" title="Attach files">
                    "📎"
                    <input type="file" multiple class="visually-hidden" aria-label="Attach files" on:change=on_files />
                </label>
                <textarea
                    data-testid="composer"
                    node_ref=textarea
                    rows="2"
                    placeholder=move || if closed.get() { "This request is closed" } else { "Write a reply" }
                    aria-label=move || if editing.with(Option::is_some) { "Edit your message" } else { "Reply" }
                    prop:disabled=move || closed.get() && editing.with(Option::is_none)
                    prop:value=move || if editing.with(Option::is_some) { edit_text.get() } else { text.get() }
                    on:input=on_input
                    on:keydown=send_on_enter
                    on:paste=on_paste
                ></textarea>
                <button
                    type="submit"
                    data-testid="send"
                    prop:disabled=move || busy.get() || (closed.get() && editing.with(Option::is_none))
                >
                    {move || if editing.with(Option::is_some) { "Save" } else { "Send" }}
                </button>
            </div>
        </form>
    }
}

fn describe(error: &SyncError) -> String {
    match error.outbox_error() {
        Some(OutboxError::Full { capacity }) => format!(
            "The outbox is full: {capacity} messages are waiting to be sent. Your text is kept; \
             send it once some have gone out."
        ),
        _ => match error {
            SyncError::Invalid { detail, .. } => format!("This message cannot be sent: {detail}"),
            other => format!("The message could not be queued: {other}"),
        },
    }
}

fn non_empty(mime: String) -> String {
    if mime.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        mime
    }
}

fn non_empty_name(name: String) -> String {
    if name.is_empty() {
        "pasted-image.png".to_owned()
    } else {
        name
    }
}
