//! The chat view's parts in a real browser (Chrome and Firefox), against the real IndexedDB
//! cache: the virtualized list over a partial chat, and the whole chat view mounted with
//! Leptos, whose sync fails here (the test runner's server has no API) and must say so in
//! place without hiding a cached message.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use app::cache::AppCache;
use app::chat_view::ChatView;
use app::message_list::{ListEvents, MessageAction, MessageList, Viewer};
use app::route::Route;
use chat_sync::ingest::Source;
use chat_sync::live::worker_wire::ChatReport;
use chat_sync::protocol::CurrentUser;
use chat_sync::store::Store;
use chat_sync::suite::messages;
use chat_sync::{ChatSummary, Person, RequestId, SenderRole};
use chat_sync_idb::runtime::Runtime;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A fixed-size box in the page to hold a view, with the layout rules the list relies on
/// (from `www/style.css`, which the test runner does not serve).
fn container(height: u32) -> HtmlElement {
    let style = document().create_element("style").unwrap();
    style.set_text_content(Some(
        ".messages__canvas{position:relative;width:100%}\
         .row{position:absolute;left:0;right:0;top:0}\
         .messages{flex:1;min-height:0;overflow-y:auto;position:relative}",
    ));
    document().head().unwrap().append_child(&style).unwrap();
    let el: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    el.set_attribute(
        "style",
        &format!("height:{height}px;width:600px;overflow-y:auto;position:relative"),
    )
    .unwrap();
    document().body().unwrap().append_child(&el).unwrap();
    el
}

async fn sleep(ms: i64) {
    chat_sync_idb::platform::sleep(ms).await;
}

fn attr_list(root: &web_sys::Element, selector: &str, names: &[&str]) -> Vec<Vec<String>> {
    let nodes = root.query_selector_all(selector).unwrap();
    (0..nodes.length())
        .map(|i| {
            let el: web_sys::Element = nodes.item(i).unwrap().unchecked_into();
            names
                .iter()
                .map(|n| el.get_attribute(n).unwrap_or_default())
                .collect()
        })
        .collect()
}

fn summary(chat: &str, last_seq: u64) -> ChatSummary {
    ChatSummary {
        request_id: RequestId::from(chat),
        title: "Printer on fire".into(),
        requester: Person {
            id: "u_r".into(),
            name: "Rita Requester".into(),
        },
        last_seq,
        last_message: None,
        updated_at: 1,
        change_version: 0,
        closed: false,
    }
}

async fn runtime(user: &str) -> Rc<Runtime> {
    let _ = chat_sync_idb::wipe(user).await;
    Rc::new(Runtime::open(user).await.unwrap())
}

/// The message rows and skeletons in the DOM are in the order of their seqs.
fn assert_dom_in_list_order(root: &HtmlElement) {
    let rows = attr_list(
        root,
        "[data-testid=message], [data-testid=gap-skeleton]",
        &["data-seq", "data-from"],
    );
    let seqs: Vec<u64> = rows
        .iter()
        .map(|r| {
            let seq = if r[0].is_empty() { &r[1] } else { &r[0] };
            seq.parse().expect("a seq")
        })
        .collect();
    assert!(seqs.len() > 1, "rows are mounted: {rows:?}");
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "the DOM order is the list order: {seqs:?}"
    );
}

#[wasm_bindgen_test]
async fn the_list_shows_cached_rows_and_skeletons_exactly_where_messages_are_missing() {
    let runtime = runtime("components-list").await;
    let chat = RequestId::from("REQ-L");
    // 1,990 cached messages: 1001..=2500 and 2511..=3000; the backend has 3,010.
    let mut held = messages("REQ-L", 1001, 2500);
    held.extend(messages("REQ-L", 2511, 3000));
    runtime.ingest(&chat, held, Source::Fetch).await.unwrap();
    runtime
        .store()
        .apply_summaries(&[summary("REQ-L", 3010)], 1)
        .await
        .unwrap();
    // Read up to the newest message: the view opens at the bottom (with unread messages it
    // would open at the first unread one).
    runtime.store().mark_read(&chat, 3000, 1).await.unwrap();
    let root = container(600);
    let older_asked = Rc::new(std::cell::Cell::new(0));
    let asked = older_asked.clone();
    let list = MessageList::open(
        root.clone(),
        runtime.clone(),
        chat.clone(),
        Viewer {
            id: "u_me".into(),
            agent: true,
        },
        ListEvents {
            on_older: Box::new(move || asked.set(asked.get() + 1)),
            on_read: Box::new(|_| {}),
            on_new_below: Box::new(|_| {}),
            on_viewport: Box::new(|_| {}),
            on_outbox: Box::new(|_, _| {}),
            on_message: Box::new(|_, _| {}),
        },
    )
    .await
    .unwrap();
    sleep(50).await;
    let skeletons = |root: &HtmlElement| {
        attr_list(
            root,
            "[data-testid=gap-skeleton]",
            &["data-from", "data-to"],
        )
    };
    // At the bottom: the newest cached rows and the trailing gap.
    assert_eq!(
        skeletons(&root),
        vec![vec!["3001".to_owned(), "3010".to_owned()]]
    );
    let rows = attr_list(&root, "[data-testid=message]", &["data-seq", "data-state"]);
    assert!(rows.iter().any(|r| r[0] == "3000"), "{rows:?}");
    for row in &rows {
        let seq: u64 = row[0].parse().unwrap();
        assert!((2511..=3000).contains(&seq), "{seq}");
        assert_eq!(row[1], "sent");
    }
    // Virtualized: a few dozen rows in the DOM, not 1,990.
    assert!(
        list.mounted_rows() < 120,
        "{} rows mounted",
        list.mounted_rows()
    );
    assert_dom_in_list_order(&root);
    // A short scroll up mounts rows above the ones on screen: they go in the DOM above them
    // too (screen readers follow the DOM, not the transforms).
    for _ in 0..3 {
        root.set_scroll_top(root.scroll_top() - 250);
        list.render();
        assert_dom_in_list_order(&root);
    }
    // The interior gap stands in place between 2500 and 2511.
    list.scroll_to_seq(2505);
    list.render();
    sleep(50).await;
    assert_eq!(
        skeletons(&root),
        vec![vec!["2501".to_owned(), "2510".to_owned()]]
    );
    let rows = attr_list(&root, "[data-testid=message]", &["data-seq"]);
    assert!(
        rows.iter().any(|r| r[0] == "2500") && rows.iter().any(|r| r[0] == "2511"),
        "{rows:?}"
    );
    // The top: older history 1..=1000, which the list asks for.
    assert_eq!(older_asked.get(), 0);
    root.set_scroll_top(0);
    list.render();
    sleep(50).await;
    assert_eq!(
        skeletons(&root),
        vec![vec!["1".to_owned(), "1000".to_owned()]]
    );
    assert_eq!(older_asked.get(), 1);
    root.remove();
    drop(list);
}

#[wasm_bindgen_test]
async fn a_chat_view_shows_its_cache_and_says_in_place_that_sync_failed() {
    let user = CurrentUser {
        id: "components-view".into(),
        username: "agent".into(),
        name: "Agent".into(),
        role: SenderRole::Agent,
    };
    let _ = chat_sync_idb::wipe(&user.id).await;
    let cache = AppCache::open(user).await.unwrap();
    let chat = RequestId::from("REQ-V");
    cache
        .runtime
        .ingest(&chat, messages("REQ-V", 1, 30), Source::Fetch)
        .await
        .unwrap();
    cache
        .runtime
        .store()
        .apply_summaries(&[summary("REQ-V", 35)], 1)
        .await
        .unwrap();
    let root = container(3000);
    let stored = StoredValue::new_local(cache.clone());
    let route = RwSignal::new(Route::Chat(chat.clone()));
    let shown = chat.clone();
    let handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <ChatView cache=stored request_id=shown.clone() route=route /> }
    });
    // The cached rows and the missing five at once; then the tab's live worker (a stand-in
    // here: the page's end of it is tested in chat-sync-idb) reports the repair failed, and
    // the view says so in place.
    let mut ready = false;
    // Up to 20 s: ample on a slow CI runner.
    for _ in 0..400 {
        sleep(50).await;
        let view = root
            .query_selector("[data-testid=chat-view]")
            .unwrap()
            .unwrap();
        if view.get_attribute("data-ready").as_deref() == Some("true") {
            ready = true;
            break;
        }
    }
    assert!(ready, "{}", root.inner_html());
    assert!(
        root.query_selector(".chat__problem").unwrap().is_none(),
        "no problem before the report: {}",
        root.inner_html()
    );
    cache.note_chat_report(
        chat.clone(),
        ChatReport::Failed("fetch: the server could not be reached".to_owned()),
    );
    sleep(50).await;
    let problem = root
        .query_selector(".chat__problem")
        .unwrap()
        .and_then(|p| p.text_content())
        .unwrap_or_default();
    assert!(
        problem.contains("Sync failed: fetch: the server could not be reached"),
        "{problem}"
    );
    // A report for another chat changes nothing here; the next report on this one (messages
    // still missing, nothing fetching them) replaces the failure with the quiet retry offer.
    cache.note_chat_report(
        RequestId::from("REQ-OTHER"),
        ChatReport::Failed("not this chat".to_owned()),
    );
    cache.note_chat_report(
        chat.clone(),
        ChatReport::Status {
            fetching: false,
            done: 0,
            total: 0,
            incomplete: true,
        },
    );
    sleep(50).await;
    let problems = attr_list(&root, ".chat__problem", &["class"]);
    assert_eq!(
        problems,
        vec![vec!["chat__problem chat__problem--quiet".to_owned()]],
        "{}",
        root.inner_html()
    );
    let rows = attr_list(&root, "[data-testid=message]", &["data-seq"]);
    assert_eq!(rows.len(), 30, "every cached message stays shown");
    let gaps = attr_list(
        &root,
        "[data-testid=gap-skeleton]",
        &["data-from", "data-to"],
    );
    assert_eq!(gaps, vec![vec!["31".to_owned(), "35".to_owned()]]);
    assert!(root
        .query_selector("[data-testid=resync]")
        .unwrap()
        .is_some());
    assert!(root
        .query_selector("[data-testid=sync-indicator]")
        .unwrap()
        .is_none());
    let title = root
        .query_selector("h2")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert_eq!(title, "Rita Requester");
    drop(handle);
    root.remove();
}

/// A deleted message stands as a tombstone in its place, an edited one is marked, and the
/// row offers Edit only on the reader's own messages and Delete on their own (or, for an
/// agent, on any); the buttons reach the view's handler with the row's seq.
#[wasm_bindgen_test]
async fn tombstones_edit_marks_and_row_actions() {
    for agent in [false, true] {
        let runtime = runtime(if agent {
            "components-actions-agent"
        } else {
            "components-actions"
        })
        .await;
        let chat = RequestId::from("REQ-A");
        let mut history = messages("REQ-A", 1, 5);
        history[1].deleted = true;
        history[1].body.clear();
        history[1].version = 2;
        history[2].body = "fixed typo".into();
        history[2].version = 1;
        history[2].edited_at = Some(1_700_000_000_500);
        history[3].sender.id = "u_me".into();
        runtime.ingest(&chat, history, Source::Fetch).await.unwrap();
        runtime.store().mark_read(&chat, 5, 1).await.unwrap();
        let root = container(600);
        let clicked = Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = clicked.clone();
        let _list = MessageList::open(
            root.clone(),
            runtime.clone(),
            chat.clone(),
            Viewer {
                id: "u_me".into(),
                agent,
            },
            ListEvents {
                on_older: Box::new(|| {}),
                on_read: Box::new(|_| {}),
                on_new_below: Box::new(|_| {}),
                on_viewport: Box::new(|_| {}),
                on_outbox: Box::new(|_, _| {}),
                on_message: Box::new(move |seq, action| seen.borrow_mut().push((seq, action))),
            },
        )
        .await
        .unwrap();
        sleep(50).await;
        let row = |seq: u64| -> web_sys::Element {
            root.query_selector(&format!("[data-testid=message][data-seq=\"{seq}\"]"))
                .unwrap()
                .unwrap_or_else(|| panic!("row {seq}"))
        };
        let actions = |seq: u64| -> Vec<String> {
            attr_list(&row(seq), "button[data-action]", &["data-action"])
                .into_iter()
                .map(|a| a[0].clone())
                .collect()
        };
        let tombstone = row(2);
        assert_eq!(
            tombstone.get_attribute("data-deleted").as_deref(),
            Some("true")
        );
        assert!(tombstone
            .text_content()
            .unwrap()
            .contains("Message deleted"));
        assert!(actions(2).is_empty(), "a tombstone offers nothing");
        assert_eq!(row(3).get_attribute("data-edited").as_deref(), Some("true"));
        assert!(row(3).text_content().unwrap().contains("fixed typo"));
        assert_eq!(actions(4), vec!["edit".to_owned(), "redact".to_owned()]);
        let others = if agent {
            vec!["redact".to_owned()]
        } else {
            Vec::new()
        };
        assert_eq!(actions(1), others);
        assert_eq!(actions(5), others);
        let edit: web_sys::HtmlElement = row(4)
            .query_selector("button[data-action=edit]")
            .unwrap()
            .unwrap()
            .unchecked_into();
        edit.click();
        let delete: web_sys::HtmlElement = row(4)
            .query_selector("button[data-action=redact]")
            .unwrap()
            .unwrap()
            .unchecked_into();
        delete.click();
        assert_eq!(
            *clicked.borrow(),
            vec![(4, MessageAction::Edit), (4, MessageAction::Delete)]
        );
        root.remove();
    }
}

/// Offsets are formatted in integers (no float formatting in the app), and read as the float
/// formatting they replaced read (sizes and ratios: `chat_sync::labels`' native test).
#[wasm_bindgen_test]
fn offsets_read_as_before() {
    use app::format::css_px;
    assert_eq!(css_px(0.0), "0px");
    assert_eq!(css_px(120.0), "120px");
    assert_eq!(css_px(-3.5), "-3.5px");
    assert_eq!(css_px(0.25), "0.25px");
    assert_eq!(css_px(1234.004), "1234px");
    assert_eq!(css_px(f64::NAN), "0px");
}
