//! The desk's notifications button: asks for push notifications on a click and says what
//! came of it.

use chat_sync_idb::push_subscription::{subscribe_push, PushSubscribeOutcome};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Push notifications, asked for on a click (browsers allow the prompt only on a gesture).
/// Where push cannot work (no push service, permission refused, no answer), it says so and
/// the app relies on the live channel and catch-up.
#[component]
pub(super) fn NotificationsButton() -> impl IntoView {
    let state = RwSignal::new(None::<PushSubscribeOutcome>);
    let busy = RwSignal::new(false);
    let enable = move |_| {
        busy.try_set(true);
        spawn_local(async move {
            let outcome = subscribe_push(PUSH_TIMEOUT_MS).await;
            if let PushSubscribeOutcome::Failed(reason) = &outcome {
                chat_sync_idb::log_warn!(%reason, "push subscription failed");
            }
            state.try_set(Some(outcome));
            busy.try_set(false);
        });
    };
    move || {
        match state.get() {
        None => view! {
            <button type="button" class="desk__notify" data-testid="enable-push" on:click=enable prop:disabled=busy>
                "Enable notifications"
            </button>
        }
        .into_any(),
        Some(outcome) => {
            let text = match outcome {
                PushSubscribeOutcome::Subscribed => "Notifications on",
                PushSubscribeOutcome::Denied => "Notifications blocked: live updates only",
                PushSubscribeOutcome::Unsupported
                | PushSubscribeOutcome::TimedOut
                | PushSubscribeOutcome::Failed(_) => "Push unavailable here: live updates only",
            };
            view! { <span class="desk__offline" role="status" data-testid="push-status">{text}</span> }
                .into_any()
        }
    }
    }
}

/// How long the browser may take to answer a push subscription (here, without a push
/// service, it never does).
pub(super) const PUSH_TIMEOUT_MS: i32 = 8_000;
