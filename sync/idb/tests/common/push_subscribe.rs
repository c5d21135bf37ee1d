//! `subscribe_push` without a push service and without a server: the call settles within its
//! timeout with a typed outcome. A service worker has no `navigator.serviceWorker` (and no
//! `Notification`): `Unsupported`. A window in headless Chrome and Firefox under WebDriver is
//! refused the notification permission: `Denied`, before any request to the server.

use chat_sync_idb::platform;
use chat_sync_idb::push_subscription::{subscribe_push, PushSubscribeOutcome};

/// The outcome is `expected` and arrives well within the timeout.
pub async fn subscribe_push_ends_with(expected: PushSubscribeOutcome) {
    let started = platform::precise_now();
    let outcome = subscribe_push(500).await;
    let took = platform::precise_now() - started;
    web_sys::console::log_1(&format!("subscribe_push: {outcome:?} after {took:.0} ms").into());
    assert_eq!(outcome, expected);
    assert!(
        took < 1_500.0,
        "took {took} ms with a 500 ms timeout per wait"
    );
}

/// The service worker answers a page's subscription request with
/// [`PushSubscribeOutcome::to_reply`], which the page reads back with
/// [`PushSubscribeOutcome::from_reply`]: every outcome, a failure's reason included, comes
/// through, and an answer the page does not know is a failure quoting it.
pub fn every_outcome_survives_the_workers_answer() {
    for outcome in [
        PushSubscribeOutcome::Subscribed,
        PushSubscribeOutcome::Unsupported,
        PushSubscribeOutcome::Denied,
        PushSubscribeOutcome::TimedOut,
        PushSubscribeOutcome::Failed("fetch the VAPID key: 503".to_owned()),
        PushSubscribeOutcome::Failed("subscribed".to_owned()),
    ] {
        assert_eq!(
            PushSubscribeOutcome::from_reply(&outcome.to_reply()),
            outcome
        );
    }
    assert_eq!(
        PushSubscribeOutcome::from_reply("???"),
        PushSubscribeOutcome::Failed("???".to_owned())
    );
}

/// The worker reads the browser's `PushSubscription` through `toJSON()`
/// ([`chat_sync_idb::push_subscription::subscription_of`]): the endpoint and both keys come
/// through; a subscription without `toJSON`, without keys, or with a key that is not text
/// or is empty is refused with the reason.
pub fn a_browser_subscription_is_read_and_a_broken_one_refused() {
    use chat_sync::protocol::{PushKeys, PushSubscription};
    use chat_sync_idb::push_subscription::subscription_of;
    let subscription = |json: &str| {
        js_sys::Function::new_with_args("json", "return { toJSON() { return JSON.parse(json); } };")
            .call1(&wasm_bindgen::JsValue::NULL, &json.into())
            .expect("a fake subscription")
    };
    assert_eq!(
        subscription_of(&subscription(
            r#"{"endpoint":"https://push.example/abc","expirationTime":null,"keys":{"p256dh":"BPk","auth":"c2Vj"}}"#
        )),
        Ok(PushSubscription {
            endpoint: "https://push.example/abc".to_owned(),
            keys: PushKeys {
                p256dh: "BPk".to_owned(),
                auth: "c2Vj".to_owned(),
            },
        })
    );
    for (json, reason) in [
        (
            r#"{"endpoint":"https://push.example/abc"}"#,
            "no keys object",
        ),
        (
            r#"{"keys":{"p256dh":"BPk","auth":"c2Vj"}}"#,
            "no endpoint text",
        ),
        (
            r#"{"endpoint":"https://push.example/abc","keys":{"p256dh":7,"auth":"c2Vj"}}"#,
            "no p256dh text",
        ),
        (
            r#"{"endpoint":"https://push.example/abc","keys":{"p256dh":"BPk","auth":""}}"#,
            "no auth text",
        ),
    ] {
        assert_eq!(
            subscription_of(&subscription(json)),
            Err(reason.to_owned()),
            "{json}"
        );
    }
    assert_eq!(
        subscription_of(&js_sys::Object::new().into()),
        Err("no toJSON()".to_owned())
    );
}
