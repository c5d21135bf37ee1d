//! Subscribing to Web Push: the page asks the notification permission, and the service
//! worker fetches the server's VAPID key, subscribes with its registration's `pushManager`
//! and registers the subscription with the server (`POST /api/push/subscriptions`); the
//! worker also renews it when the browser replaces it (`pushsubscriptionchange`). The
//! subscription has one owner, the worker, and the page's wasm links none of it.
//!
//! Every step that waits on the browser is bounded by a timeout: without a push service
//! (headless browsers, some enterprise setups) `pushManager.subscribe` never settles, and a
//! permission prompt may never be answered. The outcome is a value, never an error, so the
//! app can say unobtrusively that it relies on the live channel and catch-up instead.

use std::cell::RefCell;

use chat_sync::notice::PageMessage;
use chat_sync::protocol::{PushKeys, PushSubscription, PushUnsubscribe, VapidPublicKey};
use futures::channel::oneshot;
use futures::future::{select, Either};
use js_sys::{Function, Object, Promise, Reflect};
use serde::de::IgnoredAny;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageChannel, MessageEvent};

use crate::error::DomError;
use crate::http::{get_json, send_json};
use crate::platform;

/// How a subscription attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushSubscribeOutcome {
    /// Subscribed and registered with the server.
    Subscribed,
    /// This browser (or context) has no service worker or no `PushManager`.
    Unsupported,
    /// The notification permission was refused or the prompt dismissed.
    Denied,
    /// The browser did not answer in time (without a push service, `subscribe` hangs).
    TimedOut,
    /// Any other failure, described.
    Failed(String),
}

impl PushSubscribeOutcome {
    /// The outcome as the worker's answer to a page's [`PageMessage::SubscribePush`].
    pub fn to_reply(&self) -> String {
        match self {
            Self::Subscribed => "subscribed".to_owned(),
            Self::Unsupported => "unsupported".to_owned(),
            Self::Denied => "denied".to_owned(),
            Self::TimedOut => "timed-out".to_owned(),
            Self::Failed(reason) => format!("failed: {reason}"),
        }
    }

    /// The outcome a worker's answer names; anything else is a failure quoting it.
    pub fn from_reply(reply: &str) -> Self {
        match reply {
            "subscribed" => Self::Subscribed,
            "unsupported" => Self::Unsupported,
            "denied" => Self::Denied,
            "timed-out" => Self::TimedOut,
            other => Self::Failed(other.strip_prefix("failed: ").unwrap_or(other).to_owned()),
        }
    }
}

/// Why a step stopped; turned into the outcome at the end.
type Step<T> = Result<T, PushSubscribeOutcome>;

/// On a user gesture in a window: asks the notification permission, then has the service
/// worker subscribe to push with the server's VAPID key and register the subscription with
/// the server ([`renew_push_subscription`] with no subscription handed over, asked by a
/// [`PageMessage::SubscribePush`] whose port carries the outcome back). The worker owns
/// the subscription (it renews it on `pushsubscriptionchange` too), so the page links none
/// of that. Each wait on the browser is bounded by `timeout_ms`, and the worker's answer by
/// its waits and a margin.
pub async fn subscribe_push(timeout_ms: i32) -> PushSubscribeOutcome {
    let run = async {
        let container = platform::navigator_property("serviceWorker")
            .ok_or(PushSubscribeOutcome::Unsupported)?;
        if platform::global_property("PushManager").is_none() {
            return Err(PushSubscribeOutcome::Unsupported);
        }
        request_permission(timeout_ms).await?;
        let ready = Reflect::get(&container, &JsValue::from_str("ready"))
            .ok()
            .and_then(|p| p.dyn_into::<Promise>().ok())
            .ok_or(PushSubscribeOutcome::Unsupported)?;
        let registration = settle(ready, timeout_ms, "navigator.serviceWorker.ready").await?;
        let worker = crate::service_worker::property(&registration, "active")
            .ok_or(PushSubscribeOutcome::Unsupported)?;
        ask_worker(&worker, timeout_ms).await
    };
    outcome(run.await)
}

/// Posts [`PageMessage::SubscribePush`] to `worker` with a port for the answer and waits
/// for it: the worker's own waits on the browser (the current subscription, `subscribe`,
/// the subscription again once registered) are each bounded by `timeout_ms`, so this
/// allows them, the key's fetch and the registration a margin before it calls the attempt
/// timed out.
async fn ask_worker(worker: &JsValue, timeout_ms: i32) -> Step<PushSubscribeOutcome> {
    let channel = MessageChannel::new().map_err(|e| js_failed("MessageChannel", &e))?;
    let (answered, answer) = oneshot::channel::<JsValue>();
    let answered = RefCell::new(Some(answered));
    let on_answer = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(answered) = answered.borrow_mut().take() {
            let _ = answered.send(event.data());
        }
    });
    let port = channel.port1();
    port.set_onmessage(Some(on_answer.as_ref().unchecked_ref()));
    let request = PageMessage::SubscribePush {
        timeout_ms: u32::try_from(timeout_ms).unwrap_or(0),
    };
    crate::service_worker::post_transferring(worker, &request, &[channel.port2().into()])
        .map_err(|e| failed("ask the service worker", e))?;
    let limit = Box::pin(platform::sleep(i64::from(timeout_ms) * 4 + 2_000));
    let reply = select(answer, limit).await;
    port.close();
    match reply {
        Either::Left((Ok(answer), _)) => Ok(PushSubscribeOutcome::from_reply(
            &answer.as_string().unwrap_or_default(),
        )),
        Either::Left((Err(_), _)) => Err(failed("service worker", "the answer was lost")),
        Either::Right(_) => {
            crate::log_warn!(timeout_ms, "no answer from the service worker in time");
            Err(PushSubscribeOutcome::TimedOut)
        }
    }
}

/// In the service worker, on `pushsubscriptionchange` and when a page asks for push
/// ([`PageMessage::SubscribePush`], with neither endpoint given): registers the browser's new
/// subscription (`new_subscription`, or a fresh one from `registration.pushManager` with
/// the server's VAPID key when the browser gave none) and deletes `old_endpoint` on the
/// server. The permission is not asked: a worker cannot, and it was granted before.
pub async fn renew_push_subscription(
    registration: &JsValue,
    base_url: &str,
    old_endpoint: Option<String>,
    new_subscription: Option<JsValue>,
    timeout_ms: i32,
) -> PushSubscribeOutcome {
    let base_url = base_url.trim_end_matches('/');
    let run = async {
        let new_endpoint = match new_subscription {
            Some(subscription) => {
                let parsed = parse_subscription(&subscription)?;
                register(base_url, &parsed).await?;
                parsed.endpoint
            }
            None => {
                subscribe_and_register(registration, base_url, timeout_ms).await?;
                current_endpoint(registration, timeout_ms).await?
            }
        };
        if let Some(old) = old_endpoint.filter(|old| *old != new_endpoint) {
            let body = chat_sync::json::to_string(&PushUnsubscribe { endpoint: old })
                .map_err(|e| failed("encode the unsubscription", e))?;
            // The old endpoint is dead either way; a failure to forget it only costs the
            // server one failed delivery (it deletes subscriptions answered with 404/410).
            let url = format!("{base_url}/api/push/subscriptions");
            let deleted: Result<IgnoredAny, _> =
                send_json(&url, "DELETE", Some(&body), "push unsubscription").await;
            if let Err(error) = deleted {
                crate::log_warn!(%error, "could not delete the old push subscription");
            }
        }
        Ok(PushSubscribeOutcome::Subscribed)
    };
    outcome(run.await)
}

/// At the desk's start: when the notification permission is already granted, registers this
/// browser's subscription with the server for the agent now signed in (subscribing again if
/// the worker dropped a stale one). This is what re-binds push after a sign-out, a session
/// change or a stale subscription the worker unsubscribed. Never prompts: `None` when the
/// permission is not granted (push stays off until the agent enables it).
pub async fn rebind_if_permitted(timeout_ms: i32) -> Option<PushSubscribeOutcome> {
    let notification = platform::global_property("Notification")?;
    let permission = Reflect::get(&notification, &JsValue::from_str("permission"))
        .ok()
        .and_then(|p| p.as_string());
    if permission.as_deref() != Some("granted") {
        return None;
    }
    Some(subscribe_push(timeout_ms).await)
}

/// Unsubscribes this browser's push subscription of `registration` without telling the
/// server: for a subscription that now belongs to nobody here (its owner signed out, or
/// pushes name another user than the one signed in). The push service then answers the
/// server's next delivery with 404/410 and the server forgets the endpoint. `Ok(false)` when
/// there was no subscription; each browser call is bounded by `timeout_ms`.
pub async fn unsubscribe_in_browser(
    registration: &JsValue,
    timeout_ms: i32,
) -> Result<bool, String> {
    let describe = |outcome: PushSubscribeOutcome| format!("{outcome:?}");
    let manager = push_manager(registration).map_err(describe)?;
    let current = settle(
        call_promise(&manager, "getSubscription", &[]).map_err(describe)?,
        timeout_ms,
        "pushManager.getSubscription",
    )
    .await
    .map_err(describe)?;
    if current.is_null() || current.is_undefined() {
        return Ok(false);
    }
    settle(
        call_promise(&current, "unsubscribe", &[]).map_err(describe)?,
        timeout_ms,
        "PushSubscription.unsubscribe",
    )
    .await
    .map_err(describe)?;
    Ok(true)
}

fn outcome(result: Step<PushSubscribeOutcome>) -> PushSubscribeOutcome {
    let outcome = result.unwrap_or_else(|outcome| outcome);
    crate::log_info!(?outcome, "push subscription");
    outcome
}

fn failed(what: &str, error: impl std::fmt::Display) -> PushSubscribeOutcome {
    PushSubscribeOutcome::Failed(format!("{what}: {error}"))
}

fn js_failed(what: &str, value: &JsValue) -> PushSubscribeOutcome {
    let error = DomError::from_js(value);
    PushSubscribeOutcome::Failed(format!("{what}: {}: {}", error.name, error.message))
}

/// Awaits `promise` for at most `timeout_ms`.
async fn settle(promise: Promise, timeout_ms: i32, what: &str) -> Step<JsValue> {
    let timer = Box::pin(platform::sleep(i64::from(timeout_ms)));
    match select(JsFuture::from(promise), timer).await {
        Either::Left((Ok(value), _)) => Ok(value),
        Either::Left((Err(error), _)) => Err(js_failed(what, &error)),
        Either::Right(_) => {
            crate::log_warn!(what, timeout_ms, "no answer from the browser in time");
            Err(PushSubscribeOutcome::TimedOut)
        }
    }
}

/// Calls `target.name(args…)` and expects a promise.
fn call_promise(target: &JsValue, name: &str, args: &[JsValue]) -> Step<Promise> {
    let function: Function = Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(PushSubscribeOutcome::Unsupported)?;
    let arguments: js_sys::Array = args.iter().collect();
    function
        .apply(target, &arguments)
        .map_err(|e| js_failed(name, &e))?
        .dyn_into::<Promise>()
        .map_err(|e| js_failed(name, &e))
}

/// `Notification.requestPermission()`, unless already granted.
async fn request_permission(timeout_ms: i32) -> Step<()> {
    let notification =
        platform::global_property("Notification").ok_or(PushSubscribeOutcome::Unsupported)?;
    let current = Reflect::get(&notification, &JsValue::from_str("permission"))
        .ok()
        .and_then(|p| p.as_string());
    if current.as_deref() == Some("granted") {
        return Ok(());
    }
    if current.as_deref() == Some("denied") {
        return Err(PushSubscribeOutcome::Denied);
    }
    let answer = settle(
        call_promise(&notification, "requestPermission", &[])?,
        timeout_ms,
        "Notification.requestPermission",
    )
    .await?;
    match answer.as_string().as_deref() {
        Some("granted") => Ok(()),
        _ => Err(PushSubscribeOutcome::Denied),
    }
}

fn push_manager(registration: &JsValue) -> Step<JsValue> {
    Reflect::get(registration, &JsValue::from_str("pushManager"))
        .ok()
        .filter(|m| !m.is_undefined() && !m.is_null())
        .ok_or(PushSubscribeOutcome::Unsupported)
}

/// Subscribes (or reuses the current subscription) and posts it to the server.
async fn subscribe_and_register(
    registration: &JsValue,
    base_url: &str,
    timeout_ms: i32,
) -> Step<PushSubscribeOutcome> {
    let manager = push_manager(registration)?;
    let existing = settle(
        call_promise(&manager, "getSubscription", &[])?,
        timeout_ms,
        "pushManager.getSubscription",
    )
    .await?;
    let subscription = if existing.is_null() || existing.is_undefined() {
        let key: VapidPublicKey = get_json(
            &format!("{base_url}/api/push/vapid-public-key"),
            "VAPID public key",
        )
        .await
        .map_err(|e| failed("fetch the VAPID key", e))?;
        // The key goes to the browser as the server gives it, base64url text (unpadded, as
        // the API wants it): the Push API decodes it and refuses a malformed one (`InvalidCharacterError`) or one that is
        // not a P-256 public key (`InvalidAccessError`), which `subscribe` then rejects with.
        let options = Object::new();
        let set = |k: &str, v: &JsValue| Reflect::set(&options, &JsValue::from_str(k), v);
        set("userVisibleOnly", &JsValue::TRUE).map_err(|e| js_failed("options", &e))?;
        set(
            "applicationServerKey",
            &JsValue::from_str(key.public_key.trim_end_matches('=')),
        )
        .map_err(|e| js_failed("options", &e))?;
        settle(
            call_promise(&manager, "subscribe", &[options.into()])?,
            timeout_ms,
            "pushManager.subscribe",
        )
        .await?
    } else {
        existing
    };
    let parsed = parse_subscription(&subscription)?;
    register(base_url, &parsed).await?;
    Ok(PushSubscribeOutcome::Subscribed)
}

async fn current_endpoint(registration: &JsValue, timeout_ms: i32) -> Step<String> {
    let manager = push_manager(registration)?;
    let current = settle(
        call_promise(&manager, "getSubscription", &[])?,
        timeout_ms,
        "pushManager.getSubscription",
    )
    .await?;
    Ok(parse_subscription(&current)?.endpoint)
}

/// A browser `PushSubscription` as the contract's JSON (`toJSON()`).
fn parse_subscription(subscription: &JsValue) -> Step<PushSubscription> {
    subscription_of(subscription).map_err(|e| failed("read the subscription", e))
}

/// Reads a browser `PushSubscription` through its `toJSON()`: the endpoint and the two keys,
/// each required as non-empty text (the server checks them again). Read field by field, not
/// through the serde decoder of JS values, which cost the service worker about 1 KB for these
/// three strings.
pub fn subscription_of(subscription: &JsValue) -> Result<PushSubscription, String> {
    let to_json: Function = Reflect::get(subscription, &JsValue::from_str("toJSON"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("no toJSON()")?;
    let json = to_json.call0(subscription).map_err(|e| {
        let error = DomError::from_js(&e);
        format!("toJSON(): {}: {}", error.name, error.message)
    })?;
    let text = |object: &JsValue, key: &str| {
        Reflect::get(object, &JsValue::from_str(key))
            .ok()
            .and_then(|value| value.as_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("no {key} text"))
    };
    let keys = Reflect::get(&json, &JsValue::from_str("keys"))
        .ok()
        .filter(|keys| keys.is_object())
        .ok_or("no keys object")?;
    Ok(PushSubscription {
        endpoint: text(&json, "endpoint")?,
        keys: PushKeys {
            p256dh: text(&keys, "p256dh")?,
            auth: text(&keys, "auth")?,
        },
    })
}

async fn register(base_url: &str, subscription: &PushSubscription) -> Step<()> {
    let body = chat_sync::json::to_string(subscription)
        .map_err(|e| failed("encode the subscription", e))?;
    let url = format!("{base_url}/api/push/subscriptions");
    send_json::<IgnoredAny>(&url, "POST", Some(&body), "push subscription")
        .await
        .map(|_| ())
        .map_err(|e| failed("register the subscription", e))
}
