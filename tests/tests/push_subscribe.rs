//! Subscribing to push from the app's "Enable notifications" button
//! (`chat_sync_idb::push_subscription::subscribe_push`: the page asks the permission, the
//! service worker subscribes and registers), in real headless Chromium against the real
//! server. There is no push service here: with the permission granted,
//! `pushManager.subscribe` never settles, so the call must time out (the app waits 8 s) and
//! say so; with the permission refused it must say so at once, before asking the server for
//! anything. Requests are counted by the server's `/metrics`.

use std::time::{Duration, Instant};

use chat_sync::hostile_corpus::Case;
use e2e::browser::Page;
use e2e::http;
use e2e::intercept::Interceptor;
use e2e::rig::Rig;
use e2e::{wait_until, HarnessError};
use serde_json::json;

const VAPID: &str = "http_requests_total{route=\"/api/push/vapid-public-key\",status=\"200\"}";
/// Every status of the subscriptions route (POST and DELETE), summed by [`requests`].
const SUBSCRIPTIONS: &str = "http_requests_total{route=\"/api/push/subscriptions\",";

const BUTTON: &str = "document.querySelector('[data-testid=enable-push]')";
const STATUS: &str = "document.querySelector('[data-testid=push-status]')?.textContent";

/// Requests counted in every series starting with `prefix`, whatever the status.
async fn requests(rig: &Rig, prefix: &str) -> e2e::Result<f64> {
    let metrics = http::get(&rig.server.addr, "/metrics").await?.body;
    Ok(metrics
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Clicks the button once the desk shows it, and returns the status text and how long it
/// took to appear.
async fn enable_push(page: &Page<'_>) -> e2e::Result<(String, Duration)> {
    page.wait_for(&format!("{BUTTON} !== null"), Duration::from_secs(20))
        .await?;
    let started = Instant::now();
    page.evaluate(&format!("{BUTTON}.click(), true")).await?;
    let text = page.wait_for(STATUS, Duration::from_secs(20)).await?;
    Ok((
        text.as_str().unwrap_or_default().to_owned(),
        started.elapsed(),
    ))
}

#[tokio::test]
async fn enabling_push_without_a_push_service_times_out_and_says_so() -> e2e::Result<()> {
    let rig = Rig::start("push-subscribe-timeout").await?;
    rig.grant_notifications().await?;
    let page = rig.browser.new_page(&rig.server.url("/")).await?;
    // With the permission already granted, the desk binds a subscription to the agent as it
    // starts (one VAPID key fetch); wait for it, so the click's own fetch is counted alone.
    wait_until(
        "the desk's own subscription attempt",
        Duration::from_secs(20),
        || async { Ok((rig.metric(VAPID).await? >= 1.0).then_some(())) },
    )
    .await?;
    let before = rig.metric(VAPID).await?;
    let (text, took) = enable_push(&page).await?;
    println!("enable push, permission granted: {text:?} after {took:?}");
    assert_eq!(text, "Push unavailable here: live updates only");
    // The VAPID key was fetched and `subscribe` was waited on for the app's 8 s timeout (a
    // quick failure would be another outcome with the same text).
    assert!(took >= Duration::from_millis(7_500), "{took:?}");
    assert_eq!(rig.metric(VAPID).await? - before, 1.0);
    assert_eq!(
        requests(&rig, SUBSCRIPTIONS).await?,
        0.0,
        "nothing to register"
    );
    page.close().await?;
    rig.stop().await;
    Ok(())
}

#[tokio::test]
async fn enabling_push_with_the_permission_refused_says_so_at_once() -> e2e::Result<()> {
    let rig = Rig::start("push-subscribe-denied").await?;
    let page = rig.browser.new_page(&rig.server.url("/")).await?;
    let (text, took) = enable_push(&page).await?;
    println!("enable push, permission refused: {text:?} after {took:?}");
    assert_eq!(text, "Notifications blocked: live updates only");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(rig.metric(VAPID).await?, 0.0, "the server was not asked");
    assert_eq!(requests(&rig, SUBSCRIPTIONS).await?, 0.0);
    page.close().await?;
    rig.stop().await;
    Ok(())
}

/// The worker hands the server's VAPID key to `pushManager.subscribe` as the base64url text
/// it was served, and the browser decodes it: a key that is not base64url is refused by the
/// browser at once (not waited on for the app's 8 s, as a valid key is above), the page hears
/// so from the worker, and nothing is registered. The key is served by CDP interception on
/// the service worker's own target (the worker fetches it), as a broken server would serve it.
#[tokio::test]
async fn a_malformed_vapid_key_is_refused_by_the_browser_at_once() -> e2e::Result<()> {
    let rig = Rig::start("push-subscribe-bad-key").await?;
    rig.grant_notifications().await?;
    let interceptor = Interceptor::new();
    interceptor.add(
        "/api/push/vapid-public-key",
        vec![Case::refused(
            "a key that is not base64url",
            r#"{"public_key":"*** not base64url ***"}"#,
        )],
        true,
    );
    let page = rig.browser.new_page(&rig.server.url("/")).await?;
    // The desk's own subscription attempt at start (the permission is granted) fetches the
    // real key; wait for it, so the key the click's attempt gets is the intercepted one.
    wait_until(
        "the desk's own subscription attempt",
        Duration::from_secs(20),
        || async { Ok((rig.metric(VAPID).await? >= 1.0).then_some(())) },
    )
    .await?;
    let worker = rig
        .browser
        .service_worker_session(&rig.server.url("/sw.js"))
        .await?;
    let events = rig.browser.cdp.events();
    rig.browser
        .cdp
        .call(
            "Fetch.enable",
            json!({ "patterns": [
                { "urlPattern": "*/api/push/vapid-public-key*", "requestStage": "Request" },
            ] }),
            Some(&worker),
        )
        .await?;
    let steps = async {
        let (text, took) = enable_push(&page).await?;
        println!("enable push, malformed VAPID key: {text:?} after {took:?}");
        assert_eq!(text, "Push unavailable here: live updates only");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(
            !interceptor.served("/api/push/vapid-public-key").is_empty(),
            "the malformed key was served"
        );
        assert_eq!(
            requests(&rig, SUBSCRIPTIONS).await?,
            0.0,
            "nothing to register"
        );
        e2e::Result::Ok(())
    };
    let result = tokio::select! {
        result = steps => result,
        () = interceptor.run_in(&rig.browser.cdp, &worker, events) => {
            Err(HarnessError::Setup("the devtools connection closed".into()))
        }
    };
    result?;
    page.close().await?;
    rig.stop().await;
    Ok(())
}
