//! `subscribe_push` without a push service and without a server: the call settles within its
//! timeout with a typed outcome. A service worker has no `navigator.serviceWorker` (and no
//! `Notification`): `Unsupported`. A window in headless Chrome and Firefox under WebDriver is
//! refused the notification permission: `Denied`, before any request to the server.

use chat_sync_idb::platform;
use chat_sync_idb::push_subscription::{subscribe_push, PushSubscribeOutcome};

/// The outcome is `expected` and arrives well within the timeout.
pub async fn subscribe_push_ends_with(expected: PushSubscribeOutcome) {
    let started = platform::precise_now();
    let outcome = subscribe_push("", 500).await;
    let took = platform::precise_now() - started;
    web_sys::console::log_1(&format!("subscribe_push: {outcome:?} after {took:.0} ms").into());
    assert_eq!(outcome, expected);
    assert!(
        took < 1_500.0,
        "took {took} ms with a 500 ms timeout per wait"
    );
}
