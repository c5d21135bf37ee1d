//! The sign-in page: user name, password, and a plain sentence when it fails.

use chat_sync::protocol::CurrentUser;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::session;

/// The sign-in form; `on_signed_in` receives the agent once the server accepts them.
#[component]
pub fn SignIn(
    /// Why the page is shown (empty when simply signed out).
    reason: String,
    /// Called with the signed-in agent.
    on_signed_in: Callback<CurrentUser>,
) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new((!reason.is_empty()).then_some(reason));
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.try_set(true);
        error.try_set(None);
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match session::sign_in(user.trim(), &pass).await {
                Ok(user) => on_signed_in.run(user),
                Err(message) => {
                    error.try_set(Some(message));
                    busy.try_set(false);
                }
            }
        });
    };
    view! {
        <main class="sign-in">
            <form class="sign-in__form" on:submit=submit aria-labelledby="sign-in-title">
                <h1 id="sign-in-title">"Support desk"</h1>
                <p class="sign-in__hint">"Sign in to see your requests."</p>
                <label>
                    "User name"
                    <input
                        type="text"
                        name="username"
                        autocomplete="username"
                        required
                        data-testid="login-username"
                        prop:value=username
                        on:input=move |ev| username.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        data-testid="login-password"
                        prop:value=password
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                {move || error.get().map(|message| view! { <p class="sign-in__error" role="alert">{message}</p> })}
                <button type="submit" data-testid="login-submit" prop:disabled=busy>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
