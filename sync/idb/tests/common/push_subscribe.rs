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
