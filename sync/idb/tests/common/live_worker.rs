//! The page's end of the live worker (`chat_sync_idb::live_worker::LiveWorker`) against
//! stand-in workers written in JavaScript (blob URLs): what it posts, in which order, how it
//! reads what the worker says, and a worker whose script fails. The real worker, with the
//! real server, is tested end to end (`tests/tests/live.rs`, `tests/tests/pwa.rs`).

use std::cell::RefCell;
use std::rc::Rc;

use chat_sync::live::worker_wire::{
    CatchUpOutcome, ChatReport, FromLiveWorker, LIVE_WORKER_PROTOCOL,
};
use chat_sync::live::LiveStatus;
use chat_sync::RequestId;
use chat_sync_idb::live_worker::LiveWorker;
use chat_sync_idb::platform;
use wasm_bindgen::JsValue;

/// A blob URL of a worker script with `source`.
fn script(source: &str) -> String {
    js_sys::Function::new_with_args(
        "src",
        "return URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));",
    )
    .call1(&JsValue::NULL, &JsValue::from_str(source))
    .expect("a blob URL")
    .as_string()
    .expect("a blob URL")
}

/// What the page heard, collected.
fn collector() -> (
    Rc<RefCell<Vec<FromLiveWorker>>>,
    impl Fn(FromLiveWorker) + 'static,
) {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let sink = heard.clone();
    (heard, move |message| sink.borrow_mut().push(message))
}

/// Waits up to 5 s for `count` messages.
async fn wait_for(heard: &Rc<RefCell<Vec<FromLiveWorker>>>, count: usize) {
    for _ in 0..250 {
        if heard.borrow().len() >= count {
            return;
        }
        platform::sleep(20).await;
    }
    panic!("heard only {:?}", heard.borrow());
}

pub async fn the_worker_hears_the_start_then_the_chats_and_the_page_its_statuses() {
    // Answers once it has heard five messages: two statuses around a text that is not one
    // of the exchange's, two catch-up outcomes, the outbox's refused session, then
    // everything it heard, in order, as a failure's reason.
    let url = script(
        "const seen = [];
         onmessage = (e) => {
           seen.push(e.data);
           if (seen.length < 5) return;
           postMessage('status/connecting');
           postMessage('not a live worker message');
           postMessage('status/reconnecting/2');
           postMessage('caught-up/unreachable/the server answered 503');
           postMessage('caught-up/done');
           postMessage('outbox/signed-out');
           postMessage('failed/' + seen.join('|'));
         };",
    );
    let (heard, on_message) = collector();
    let worker = LiveWorker::start(&url, "alice", &[RequestId::new("REQ-1")], on_message)
        .expect("the worker starts");
    worker.tell_chat_open(&RequestId::new("REQ-2"), false);
    worker.tell_back_online();
    worker.tell_send_outbox(true);
    wait_for(&heard, 6).await;
    platform::sleep(50).await;
    assert_eq!(
        *heard.borrow(),
        vec![
            FromLiveWorker::Status(LiveStatus::Connecting),
            FromLiveWorker::Status(LiveStatus::Reconnecting { attempt: 2 }),
            FromLiveWorker::CaughtUp(CatchUpOutcome::Unreachable(
                "the server answered 503".to_owned()
            )),
            FromLiveWorker::CaughtUp(CatchUpOutcome::Done),
            FromLiveWorker::OutboxSignedOut,
            FromLiveWorker::Failed(format!(
                "start/{LIVE_WORKER_PROTOCOL}/alice|open/REQ-1|closed/REQ-2|online|send/wake"
            )),
        ],
        "the page heard the statuses and outcomes in order, the stray text dropped"
    );
    drop(worker);
    let _ = web_sys::Url::revoke_object_url(&url);
}

pub async fn answers_reach_their_asks_and_reports_the_page() {
    // Reports on a chat it is asked to sync; answers the first two asks by their tickets,
    // the second first, and the third never.
    let url = script(
        "const asks = [];
         onmessage = (e) => {
           if (e.data.startsWith('sync/')) {
             postMessage('chat/1/2/10/0/' + e.data.slice('sync/'.length));
             return;
           }
           if (!e.data.startsWith('edit/') && !e.data.startsWith('redact/')) return;
           asks.push(e.data.split('/')[1]);
           if (asks.length === 2) {
             postMessage('answer/' + asks[1] + '/failed/That message was already deleted.');
             postMessage('answer/' + asks[0] + '/ok');
             postMessage('answer/77/ok');
           }
         };",
    );
    let (heard, on_message) = collector();
    let worker = LiveWorker::start(&url, "alice", &[], on_message).expect("the worker starts");
    let chat = RequestId::new("REQ/1");
    worker.ask_sync(&chat, false);
    let edited = worker.edit(&chat, 4, "new text / with a slash");
    let redacted = worker.redact(&chat, 5);
    assert_eq!(edited.await, Ok(()));
    assert_eq!(
        redacted.await,
        Err("That message was already deleted.".to_owned())
    );
    let unanswered = worker.edit(&chat, 6, "never answered");
    platform::sleep(50).await;
    drop(worker);
    let gone = unanswered
        .await
        .expect_err("no answer once the worker is gone");
    assert!(gone.contains("stopped"), "{gone}");
    assert_eq!(
        *heard.borrow(),
        vec![FromLiveWorker::Chat {
            request_id: chat,
            report: ChatReport::Status {
                fetching: true,
                done: 2,
                total: 10,
                incomplete: false,
            },
        }],
        "the report reached the page; the answers (one nobody asked for) did not"
    );
    let _ = web_sys::Url::revoke_object_url(&url);
}

pub async fn a_worker_whose_script_throws_is_reported_failed() {
    let url = script("throw new Error('the script broke');");
    let (heard, on_message) = collector();
    let _worker = LiveWorker::start(&url, "alice", &[], on_message).expect("the worker starts");
    wait_for(&heard, 1).await;
    match &heard.borrow()[0] {
        FromLiveWorker::Failed(reason) => assert!(
            reason.contains("the script broke"),
            "the reason names the error: {reason}"
        ),
        other => panic!("not a failure: {other:?}"),
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
