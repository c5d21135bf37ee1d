//! The composer: what the agent writes goes to the outbox in IndexedDB first (shown at once
//! as `pending`), then out. The draft is kept in `localStorage` while typing, so a reload or a
//! crash loses nothing; a full outbox is said plainly and the text stays.

use std::rc::Rc;

use chat_sync::outbox::OutboxError;
use chat_sync::RequestId;
use chat_sync_idb::drafts;
use chat_sync_idb::outbox_sender::{self, LocalAttachment};
use chat_sync_idb::SyncError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::cache::AppCache;
use crate::outbox;

/// The composer of one chat.
#[component]
pub fn Composer(
    /// The agent's cache.
    cache: StoredValue<Rc<AppCache>, LocalStorage>,
    /// The chat.
    request_id: RequestId,
    /// Called when a send finds the session ended.
    on_signed_out: Callback<String>,
) -> impl IntoView {
    let draft_key = cache.with_value(|c| drafts::key(&c.user.id, request_id.as_str()));
    let text = RwSignal::new(drafts::load(&draft_key));
    let files = RwSignal::new_local(Vec::<LocalAttachment>::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let key = draft_key.clone();
    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
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
    let id = request_id.clone();
    let key = draft_key.clone();
    let send = move || {
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
                    outbox::kick(cache_rc, on_signed_out);
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
            <div class="composer__row">
                <label class="composer__attach" title="Attach files">
                    "📎"
                    <input type="file" multiple class="visually-hidden" aria-label="Attach files" on:change=on_files />
                </label>
                <textarea
                    data-testid="composer"
                    rows="2"
                    placeholder="Write a reply"
                    aria-label="Reply"
                    prop:value=text
                    on:input=on_input
                    on:keydown=send_on_enter
                    on:paste=on_paste
                ></textarea>
                <button type="submit" data-testid="send" prop:disabled=busy>"Send"</button>
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
