//! The UI benchmark's Firefox rows: headless Firefox through geckodriver against the same
//! server, with its own profile and cache, filled the way a reader fills it (bob signs in
//! through the form, then pages through the older history of `REQ-1024` and `REQ-1022`).
//!
//! - chat switch on the 10,000-message chat: the page JS of the Chromium rows ([`switch_js`]);
//! - cold start with a warm cache: WebDriver classic cannot run a script before the page's
//!   own, so these read the marks the app leaves (`view:open` when the message list's first
//!   screen is in the DOM, `view:open-painted` on the next frame; [`OPEN_MARKS_JS`]);
//! - scrolls through the 10,000-message chat and, once its cache is filled (about half a
//!   minute; left out past [`HUGE_FILL_LIMIT`]), the 100,000-message one
//!   ([`frames::scroll_js`]): frame intervals and frames dropped. Firefox reports no long
//!   tasks (no `longtask` entry type), so there is no long-task row.
//!
//! Not measured in Firefox: memory (it has no `performance.memory`) and the unread scroll.
//!
//! Every row carries `"browser": "Firefox"`. Without Firefox or geckodriver, or when the run
//! fails, there are no rows but one note (`"metric": "firefox_skipped"`), printed as well.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::chat::{count_js, database_name};
use e2e::server::Server;
use e2e::webdriver::{firefox_path, geckodriver_path, Firefox};
use serde_json::{json, Value};

use crate::frames::{self, Frames};
use crate::{
    frame_rows, row, switch_js, switch_rows, BIG, COLD_RUNS, HUGE, OPEN_MARKS_JS, OTHER,
    SCROLL_10K, SCROLL_FRAMES, SWITCH_RUNS,
};

/// How long filling the 10,000- and 5,000-message chats may take before the run fails.
const FILL_LIMIT: Duration = Duration::from_secs(600);
/// How long filling the 100,000-message chat may take: past this its scroll rows are left
/// out (measured: 32 s in Firefox 153, about 40 s in Chromium).
const HUGE_FILL_LIMIT: Duration = Duration::from_secs(120);

const READY_JS: &str =
    "document.querySelector('[data-testid=chat-view]')?.dataset.ready === 'true'";

/// The Firefox rows, or a note saying why there are none.
pub async fn run(server: &Server, dir: &Path) -> Vec<Value> {
    if let Err(e) = geckodriver_path().and_then(|_| firefox_path()) {
        return skipped(&format!("Firefox or geckodriver missing: {e}"));
    }
    // `performance.now()` and frame times at full resolution, as in Chromium (Firefox
    // coarsens them to 1 ms with jitter by default).
    let prefs = json!({ "privacy.reduceTimerPrecision": false });
    let firefox = match Firefox::launch_with_prefs(dir, prefs).await {
        Ok(firefox) => firefox,
        Err(e) => return skipped(&format!("Firefox did not start: {e}")),
    };
    let rows = measure(&firefox, server).await;
    firefox.close().await;
    match rows {
        Ok(rows) => rows,
        Err(e) => skipped(&format!(
            "the Firefox run failed: {e} (geckodriver's log: {})",
            dir.join("geckodriver.log").display()
        )),
    }
}

fn skipped(note: &str) -> Vec<Value> {
    eprintln!("ui-bench: no Firefox rows: {note}");
    vec![json!({ "bench": "ui", "browser": "Firefox", "metric": "firefox_skipped", "note": note })]
}

async fn measure(firefox: &Firefox, server: &Server) -> e2e::Result<Vec<Value>> {
    // A 1280 × 800 viewport, as in Chromium: the window's size less Firefox's own chrome.
    firefox.set_window_size(1280, 800).await?;
    let inner = firefox
        .evaluate(
            "[window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
        )
        .await?;
    let extra = |i: usize| inner[i].as_u64().unwrap_or(0) as u32;
    firefox
        .set_window_size(1280 + extra(0), 800 + extra(1))
        .await?;
    firefox.navigate(&server.url("/")).await?;
    sign_in(firefox, "bob", "demo").await?;
    firefox
        .wait_for(
            "document.querySelectorAll('[data-testid=chat-item]').length >= 12",
            Duration::from_secs(30),
        )
        .await?;
    let database = database_name("u_bob");
    for (id, expected) in [(BIG, 10_000), (OTHER, 5_000)] {
        if !fill(firefox, server, &database, id, expected, FILL_LIMIT).await? {
            return Err(e2e::HarnessError::Timeout {
                what: format!("{id} to be cached in Firefox"),
                seconds: FILL_LIMIT.as_secs_f64(),
            });
        }
    }
    let mut results = Vec::new();

    // Chat switch: alternate between the two cached chats, timing the 10,000-message one.
    open_chat(firefox, server, OTHER).await?;
    let (mut dom, mut frame) = (Vec::new(), Vec::new());
    for _ in 0..SWITCH_RUNS {
        let timing = firefox.evaluate(&switch_js(BIG)).await?;
        dom.push(timing["dom"].as_f64().unwrap_or(f64::NAN));
        frame.push(timing["frame"].as_f64().unwrap_or(f64::NAN));
        firefox.wait_for(READY_JS, Duration::from_secs(20)).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        firefox.evaluate(&switch_js(OTHER)).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    results.extend(switch_rows(&dom, &frame));

    // Cold start with a warm cache: navigation → the app's marks.
    let (mut cold, mut cold_frame) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        firefox
            .navigate(&server.url(&format!("/chat/{BIG}")))
            .await?;
        let marks = firefox
            .wait_for(OPEN_MARKS_JS, Duration::from_secs(30))
            .await?;
        cold.push(marks[0].as_f64().unwrap_or(f64::NAN));
        cold_frame.push(marks[1].as_f64().unwrap_or(f64::NAN));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    results.push(row(
        "cold_start",
        "cold start, warm cache: navigation → first cached rows in the DOM (10,000-message chat; the app's `view:open` mark)",
        "ms",
        &cold,
        400.0,
        "2 s",
    ));
    results.push(row(
        "cold_start_painted",
        "cold start, warm cache: navigation → first cached rows painted (the app's `view:open-painted` mark)",
        "ms",
        &cold_frame,
        400.0,
        "2 s",
    ));

    // Scroll frame times through the 10,000-message chat.
    open_chat(firefox, server, BIG).await?;
    let scroll = firefox
        .evaluate(&frames::scroll_js(-1200, SCROLL_FRAMES, true))
        .await?;
    let floor = Frames::from_js(
        &firefox
            .evaluate(&frames::floor_scroll_js(-1200, SCROLL_FRAMES))
            .await?,
    );
    results.extend(frame_rows(
        "scroll_10k",
        SCROLL_10K,
        "60 FPS",
        &Frames::from_js(&scroll),
        false,
        Some(&floor),
    ));

    // Scroll frame times through the 100,000-message chat, when its cache fills in time.
    if fill(firefox, server, &database, HUGE, 100_000, HUGE_FILL_LIMIT).await? {
        let scroll = firefox
            .evaluate(&frames::scroll_js(-1200, SCROLL_FRAMES, true))
            .await?;
        let floor = Frames::from_js(
            &firefox
                .evaluate(&frames::floor_scroll_js(-1200, SCROLL_FRAMES))
                .await?,
        );
        results.extend(frame_rows(
            "scroll",
            "scroll up through a 100,000-message chat, 1,200 px a frame",
            "60 FPS with 5,000",
            &Frames::from_js(&scroll),
            false,
            Some(&floor),
        ));
    } else {
        eprintln!(
            "ui-bench: Firefox: {HUGE} not cached within {} s: no 100,000-message scroll rows",
            HUGE_FILL_LIMIT.as_secs()
        );
    }
    for row in &mut results {
        row["browser"] = json!("Firefox");
    }
    Ok(results)
}

/// Signs in through the app's form, as the Firefox suite does.
async fn sign_in(firefox: &Firefox, username: &str, password: &str) -> e2e::Result<()> {
    firefox
        .submit_sign_in(username, password, Duration::from_secs(30))
        .await?;
    firefox
        .wait_for(
            "document.querySelector('[data-testid=logout]') !== null",
            Duration::from_secs(30),
        )
        .await
        .map(|_| ())
}

async fn open_chat(firefox: &Firefox, server: &Server, id: &str) -> e2e::Result<()> {
    firefox
        .navigate(&server.url(&format!("/chat/{id}")))
        .await?;
    firefox
        .wait_for(READY_JS, Duration::from_secs(60))
        .await
        .map(|_| ())
}

/// Fills a chat's cache by scrolling to the top again and again, as `fill` does in Chromium.
/// False when it did not fill within `limit` (the chat stays open).
async fn fill(
    firefox: &Firefox,
    server: &Server,
    database: &str,
    id: &str,
    expected: u64,
    limit: Duration,
) -> e2e::Result<bool> {
    open_chat(firefox, server, id).await?;
    let started = Instant::now();
    let count = count_js(database, id);
    loop {
        firefox
            .evaluate("document.querySelector('.messages').scrollTop = 0")
            .await?;
        let held = firefox.evaluate(&count).await?.as_u64().unwrap_or(0);
        if held >= expected {
            break;
        }
        if started.elapsed() > limit {
            eprintln!(
                "ui-bench: Firefox: {id}: {held} of {expected} cached after {} s",
                limit.as_secs()
            );
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ui-bench: Firefox: {id} cached in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}
