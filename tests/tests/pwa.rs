//! The installable, offline-capable app end to end, in real headless Chromium against the
//! real server (`--demo`): Background Sync sending the outbox with every tab closed, the
//! worker's media cache, installability, and the update flow.
//!
//! Demo data (`server/src/demo_seed.rs`): `REQ-1001` (1 message, requester1) and `REQ-1003`
//! (3 messages, requester3) are assigned to `alice`; `REQ-1002` is bob's.
//!
//! The app's composer is not wired to the outbox yet, so the outbox entries are written by the
//! test straight into the agent's IndexedDB `outbox` store, in exactly the shape
//! `chat_sync_idb::outbox_sender::enqueue` writes (`chat_sync::outbox::OutboxEntry` as JSON).

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser, Page};
use e2e::chat::{send_json, server_messages, type_and_send};
use e2e::http;
use e2e::rig::registration_id;
use e2e::server::Server;
use e2e::{wait_until, HarnessError};
use serde_json::{json, Value};

const RANGE: &str = "chat_messages_served_total{kind=\"range\"}";
const MEDIA_200: &str = "http_requests_total{route=\"/api/media/{id}\",status=\"200\"}";

/// The cache database of a user, as `chat_sync_idb::database_name` names it.
fn database_name(user_id: &str) -> String {
    format!("supportdesk-chat-cache:{user_id}")
}

/// Signs alice in from an app page and waits until the page is controlled by the activated
/// worker. Returns the page and alice's user id.
async fn sign_in<'a>(browser: &'a Browser, server: &Server) -> e2e::Result<(Page<'a>, String)> {
    let page = browser.new_page(&server.url("/")).await?;
    let user_id = page.login("alice", "demo").await?;
    page.wait_for_service_worker(true).await?;
    Ok((page, user_id))
}

/// JS: runs `body` (using `db` and `get`) against the user's database once it exists at
/// version 3 or later, returning `null` while it does not.
fn with_db(user_id: &str, write: bool, stores: &[&str], body: &str) -> String {
    format!(
        r#"(async () => {{
  const name = {name:?};
  const dbs = await indexedDB.databases();
  if (!dbs.some(d => d.name === name && d.version >= 3)) return null;
  const db = await new Promise((ok, err) => {{
    const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error);
  }});
  const get = rq => new Promise((ok, err) => {{ rq.onsuccess = () => ok(rq.result); rq.onerror = () => err(rq.error); }});
  try {{
    const tx = db.transaction({stores}, {mode:?});
    const done = new Promise((ok, err) => {{ tx.oncomplete = ok; tx.onerror = () => err(tx.error); tx.onabort = () => err(tx.error); }});
    const result = await (async () => {{ {body} }})();
    await done;
    return result;
  }} finally {{ db.close(); }}
}})()"#,
        name = database_name(user_id),
        stores = serde_json::to_string(stores).unwrap_or_default(),
        mode = if write { "readwrite" } else { "readonly" },
    )
}

/// An outbox record as `outbox_sender::enqueue` writes it.
fn outbox_entry(id: &str, request_id: &str, body: &str, order: u64) -> Value {
    json!({
        "client_temp_id": id,
        "request_id": request_id,
        "body": body,
        "attachments": [],
        "created_at": 1_700_000_000_000u64 + order,
        "order": order,
        "state": { "state": "queued" },
        "attempts": 0,
        "not_before": 0,
    })
}

async fn dispatch_sync(blank: &Page<'_>, server: &Server, registration: &str) -> e2e::Result<()> {
    blank
        .call(
            "ServiceWorker.dispatchSyncEvent",
            json!({
                "origin": server.url(""),
                "registrationId": registration,
                "tag": "outbox",
                "lastChance": false,
            }),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn background_sync_sends_the_outbox_once_in_order_with_every_tab_closed() -> e2e::Result<()> {
    let dir = scratch_dir("pwa-sync");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let (page, user_id) = sign_in(&browser, &server).await?;
    let registration = registration_id(&browser, &page, &server.url("/")).await?;
    let alice = http::login(&server.addr, "alice", "demo").await?;
    let requester = http::login(&server.addr, "requester1", "demo").await?;

    // The worker caches REQ-1001's first message (a push, as in production), which creates
    // alice's database at the current schema.
    let first = server_messages(&server, &alice, "REQ-1001").await?;
    assert_eq!(first.len(), 1, "demo REQ-1001 has one message: {first:?}");
    let blank = browser.new_page("about:blank").await?;
    blank.call("ServiceWorker.enable", json!({})).await?;
    blank
        .call(
            "ServiceWorker.deliverPushMessage",
            json!({
                "origin": server.url(""),
                "registrationId": registration,
                "data": e2e::rig::message_payload(&first[0], &user_id),
            }),
        )
        .await?;
    let read_seqs = |rid: &str| {
        with_db(
            &user_id,
            false,
            &["messages", "outbox", "outbox_files"],
            &format!(
                "const msgs = await get(tx.objectStore('messages').getAll(IDBKeyRange.bound([{rid:?}, 0], [{rid:?}, Number.MAX_SAFE_INTEGER])));
                 const outbox = (await get(tx.objectStore('outbox').getAll()))
                   .map(e => [e.client_temp_id, e.state.state, e.state.reason ?? null]);
                 const files = await get(tx.objectStore('outbox_files').count());
                 return {{ seqs: msgs.map(m => m.seq), bodies: msgs.map(m => m.body), outbox, files }};"
            ),
        )
    };
    page.wait_for(
        &format!(
            "{}.then(s => s && s.seqs.length === 1)",
            read_seqs("REQ-1001")
        ),
        Duration::from_secs(20),
    )
    .await?;

    // Two more requester messages arrive without a push: the cache now has a trailing gap.
    for body in ["second", "third"] {
        let send = json!({"request_id": "REQ-1001", "client_temp_id": format!("req-{body}"),
                          "body": body, "attachments": []});
        let reply = send_json(&server, &requester, &send).await?;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    // The composer queued three messages while offline (two in REQ-1001, one in REQ-1003).
    // The first carries a screenshot kept locally (`outbox_files`), uploaded before it is sent.
    let mut with_file = outbox_entry("e2e-a1", "REQ-1001", "queued one", 1);
    with_file["attachments"] = json!([{"media_id": "local:e2e-a1/0", "name": "shot.png",
                                        "mime": "image/png", "size": 4096}]);
    let entries = [
        with_file,
        outbox_entry("e2e-b1", "REQ-1003", "queued in 1003", 2),
        outbox_entry("e2e-a2", "REQ-1001", "queued two", 3),
        // REQ-1002 is bob's: the server refuses alice's message with a 403.
        outbox_entry("e2e-x1", "REQ-1002", "not my chat", 4),
    ];
    let put = with_db(
        &user_id,
        true,
        &["outbox", "outbox_files"],
        &format!(
            "for (const e of {}) tx.objectStore('outbox').put(e);
             tx.objectStore('outbox_files').put({{key: 'e2e-a1/0', client_temp_id: 'e2e-a1',
               name: 'shot.png', mime: 'image/png',
               blob: new Blob([new Uint8Array(4096).fill(3)], {{type: 'image/png'}})}});
             return true;",
            Value::Array(entries.to_vec())
        ),
    );
    // Written with every tab closed, from a page of the origin that runs no app: a desk
    // still in its start-up flush would send them itself.
    page.close().await?;
    let reader = browser.new_page("about:blank").await?;
    reader.navigate(&server.url("/metrics")).await?;
    assert_eq!(reader.evaluate(&put).await?, Value::Bool(true));
    let range_before = server.metric(RANGE).await?;

    // Every tab closed, the worker stopped: the browser fires the sync.
    blank
        .call("ServiceWorker.stopAllWorkers", json!({}))
        .await?;
    dispatch_sync(&blank, &server, &registration).await?;

    // The cache holds the sent messages at their seqs, the repaired gap, and no outbox (read
    // before the server is asked anything, so the history counter counts the worker alone).
    let snapshot = reader
        .wait_for(
            &format!(
                "{}.then(s => s && s.outbox.length === 1 && s.outbox[0][1] === 'failed' && s.seqs.join() === '1,2,3,4,5' ? s : null)",
                read_seqs("REQ-1001")
            ),
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(snapshot["bodies"][3], "queued one", "{snapshot}");
    assert_eq!(
        snapshot["files"], 0,
        "the local copy goes once sent: {snapshot}"
    );
    // The refused entry is parked with the server's reason; it held nothing else back.
    assert_eq!(snapshot["outbox"][0][0], "e2e-x1", "{snapshot}");
    let reason = snapshot["outbox"][0][2].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("403"),
        "parked with the reason: {reason}"
    );
    assert_eq!(
        server.metric(RANGE).await? - range_before,
        2.0,
        "only the missing seqs 2..3 were fetched"
    );

    let stored = wait_until(
        "the queued messages at the server",
        Duration::from_secs(20),
        || async {
            let messages = server_messages(&server, &alice, "REQ-1001").await?;
            Ok((messages.len() == 5).then_some(messages))
        },
    )
    .await?;
    let bodies: Vec<&str> = stored.iter().filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(
        bodies[3..],
        ["queued one", "queued two"],
        "stored once, in order: {bodies:?}"
    );
    assert_eq!(stored[3]["seq"], 4);
    let attachment = &stored[3]["attachments"][0];
    assert_eq!(
        (&attachment["name"], &attachment["size"]),
        (&json!("shot.png"), &json!(4096))
    );
    let media_id = attachment["media_id"].as_str().unwrap_or_default();
    assert!(media_id.starts_with("med_"), "uploaded first: {attachment}");
    let bytes = http::send(
        &server.addr,
        "GET",
        &format!("/api/media/{media_id}"),
        &[("Cookie", &alice)],
        "",
    )
    .await?;
    assert_eq!((bytes.status, bytes.body.len()), (200, 4096));
    assert_eq!(stored[4]["client_temp_id"], "e2e-a2");
    let other = server_messages(&server, &alice, "REQ-1003").await?;
    assert_eq!(
        other
            .iter()
            .filter(|m| m["body"] == "queued in 1003")
            .count(),
        1,
        "{other:?}"
    );

    // A second sync finds nothing to send: still exactly once.
    dispatch_sync(&blank, &server, &registration).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server_messages(&server, &alice, "REQ-1001").await?.len(), 5);

    reader.close().await?;
    blank.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn media_is_served_from_the_worker_cache_the_second_time() -> e2e::Result<()> {
    let dir = scratch_dir("pwa-media");
    let server = Server::start(&dir.join("server"), &["--demo"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let (page, user_id) = sign_in(&browser, &server).await?;
    let uploaded = page
        .evaluate(
            "fetch('/api/media?name=pixel.png', {method: 'POST', headers: {'Content-Type': 'image/png'},
               body: new Uint8Array(20000).fill(9)}).then(r => r.json())",
        )
        .await?;
    let media_id = uploaded["media_id"].as_str().unwrap_or_default().to_owned();
    assert!(!media_id.is_empty(), "{uploaded}");
    let before = server.metric(MEDIA_200).await?;
    let fetch = format!(
        "fetch('/api/media/{media_id}').then(async r => ({{status: r.status, size: (await r.arrayBuffer()).byteLength}}))"
    );
    for _ in 0..2 {
        let reply = page.evaluate(&fetch).await?;
        assert_eq!(reply, json!({"status": 200, "size": 20000}));
    }
    assert_eq!(
        server.metric(MEDIA_200).await? - before,
        1.0,
        "the second fetch never reached the server"
    );
    let counters = with_db(
        &user_id,
        false,
        &["meta", "media"],
        "const hits = await get(tx.objectStore('meta').get('media_hits'));
         const misses = await get(tx.objectStore('meta').get('media_misses'));
         const entries = await get(tx.objectStore('media').getAll());
         return {hits, misses, entries: entries.map(e => [e.media_id, e.bytes])};",
    );
    let counters = page.wait_for(&counters, Duration::from_secs(10)).await?;
    assert_eq!(counters["hits"], 1, "{counters}");
    assert_eq!(counters["misses"], 1, "{counters}");
    assert_eq!(counters["entries"], json!([[media_id, 20000]]));
    let cached = page
        .evaluate(&format!(
            "caches.open({:?}).then(c => c.match('/api/media/{media_id}')).then(r => !!r)",
            e2e::chat::media_cache_name(&user_id)
        ))
        .await?;
    assert_eq!(cached, Value::Bool(true));
    // Other API calls still pass through the worker untouched.
    let me = page
        .evaluate("fetch('/api/auth/me').then(r => r.status)")
        .await?;
    assert_eq!(me, 200);
    page.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_app_is_installable_and_its_manifest_is_in_the_shell() -> e2e::Result<()> {
    let dir = scratch_dir("pwa-install");
    let server = Server::start(&dir.join("server"), &[]).await?;
    let manifest = http::get(&server.addr, "/manifest.webmanifest").await?;
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("content-type"),
        Some("application/manifest+json")
    );
    let parsed: Value = serde_json::from_str(&manifest.body)
        .map_err(|e| HarnessError::Setup(format!("manifest: {e}")))?;
    assert_eq!(parsed["display"], "standalone");
    for icon in parsed["icons"].as_array().into_iter().flatten() {
        let path = icon["src"].as_str().unwrap_or_default();
        let reply = http::get(&server.addr, path).await?;
        assert_eq!(
            (reply.status, reply.header("content-type")),
            (200, Some("image/png")),
            "{path}"
        );
    }

    let browser = Browser::launch(&dir.join("profile")).await?;
    let page = browser.new_page(&server.url("/")).await?;
    page.wait_for_service_worker(true).await?;
    let errors = page.call("Page.getInstallabilityErrors", json!({})).await?;
    assert_eq!(
        errors["installabilityErrors"],
        json!([]),
        "Chrome's installability errors: {errors}"
    );
    let app_manifest = page.call("Page.getAppManifest", json!({})).await?;
    assert!(
        app_manifest["errors"].as_array().is_none_or(Vec::is_empty),
        "{app_manifest}"
    );
    let shell = page
        .evaluate(
            "caches.keys().then(n => n.find(k => k.startsWith('supportdesk-shell-')))
               .then(n => caches.open(n)).then(c => c.keys())
               .then(keys => keys.map(k => new URL(k.url).pathname))",
        )
        .await?;
    let shell: Vec<&str> = shell
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(shell.contains(&"/manifest.webmanifest"), "{shell:?}");
    assert!(shell.contains(&"/icons/icon-192.png"), "{shell:?}");
    page.close().await?;

    // Offline, the installed app's shell still opens (its heading, whichever screen the app
    // starts on without a session: the shell or the sign-in form).
    let url = server.url("/");
    server.stop().await;
    let page = browser.new_page(&url).await?;
    let title = page
        .wait_for(
            "document.querySelector('h1')?.textContent",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(title, "Support desk");
    page.close().await?;
    browser.close().await;
    Ok(())
}

/// Copies the directory `from` into `to` (the built front end: a few flat files and `icons/`).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> e2e::Result<()> {
    let io = |what: String| move |source| HarnessError::Io { what, source };
    std::fs::create_dir_all(to).map_err(io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(io(format!("copying to {}", target.display())))?;
        }
    }
    Ok(())
}

const SHELL_CACHES: &str =
    "caches.keys().then(names => names.filter(n => n.startsWith('supportdesk-shell-')).sort())";

/// A copy of the built front end that a test may turn into another release, a server
/// serving it and a browser: the copy's path, the server, the browser.
async fn own_release(name: &str) -> e2e::Result<(std::path::PathBuf, Server, Browser)> {
    own_release_with(name, &[], |_| Ok(())).await
}

/// [`own_release`], with `prepare` changing the copy before the server starts and the
/// server started with `server_args`.
async fn own_release_with(
    name: &str,
    server_args: &[&str],
    prepare: impl FnOnce(&std::path::Path) -> e2e::Result<()>,
) -> e2e::Result<(std::path::PathBuf, Server, Browser)> {
    let dir = scratch_dir(name);
    let dist = dir.join("dist");
    copy_dir(&e2e::server::dist_dir()?, &dist)?;
    prepare(&dist)?;
    let server = Server::start_with_dist(&dir.join("server"), &dist, server_args).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    Ok((dist, server, browser))
}

/// The app opened in `browser`, once its service worker controls it (a first install takes
/// control at once: skipWaiting on first install).
async fn controlled_page<'b>(browser: &'b Browser, server: &Server) -> e2e::Result<Page<'b>> {
    let page = browser.new_page(&server.url("/")).await?;
    page.wait_for(
        "!!navigator.serviceWorker.controller",
        Duration::from_secs(30),
    )
    .await?;
    Ok(page)
}

#[tokio::test]
async fn an_update_waits_while_a_tab_is_open_and_takes_over_when_asked() -> e2e::Result<()> {
    let (dist, server, browser) = own_release("pwa-update").await?;
    let page = controlled_page(&browser, &server).await?;
    let old_caches = page.wait_for(SHELL_CACHES, Duration::from_secs(10)).await?;
    assert_eq!(old_caches.as_array().map(Vec::len), Some(1), "{old_caches}");

    // A new release: another worker build, and sw.js stamped with its hash (what the
    // post-build hook writes).
    let (stamp, next) = next_release(&dist)?;

    // The open tab finds it; it installs and waits, and the tab keeps its old worker.
    page.evaluate(
        "navigator.serviceWorker.getRegistration().then(r => r.update()).then(() => true)",
    )
    .await?;
    page.wait_for(
        "navigator.serviceWorker.getRegistration().then(r => r.waiting?.state === 'installed')",
        Duration::from_secs(30),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = page
        .evaluate(
            "navigator.serviceWorker.getRegistration().then(r => ({
               waiting: r.waiting?.state ?? null,
               controllerIsActive: navigator.serviceWorker.controller === r.active,
             }))",
        )
        .await?;
    assert_eq!(
        state,
        json!({"waiting": "installed", "controllerIsActive": true}),
        "the update must wait while the tab is open"
    );
    let both = page.evaluate(SHELL_CACHES).await?;
    let mut expected = [
        format!("supportdesk-shell-{stamp}"),
        format!("supportdesk-shell-{next}"),
    ];
    expected.sort();
    assert_eq!(both, json!(expected));
    // The tab still works under the old worker.
    let status = page.evaluate("fetch('/').then(r => r.status)").await?;
    assert_eq!(status, 200);

    // The agent accepts the update: the page posts skip-waiting (chat_sync_idb::update::
    // apply_update does exactly this), the new worker takes over and deletes the old shell.
    page.evaluate(
        "new Promise(resolve => {
           navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true), {once: true});
           navigator.serviceWorker.getRegistration().then(r => r.waiting.postMessage({type: 'skip-waiting'}));
         })",
    )
    .await?;
    let after = page
        .wait_for(
            &format!(
                "{SHELL_CACHES}.then(n => n.length === 1 && n[0] === 'supportdesk-shell-{next}' ? n : null)"
            ),
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(after, json!([format!("supportdesk-shell-{next}")]));
    let waiting = page
        .evaluate("navigator.serviceWorker.getRegistration().then(r => r.waiting === null)")
        .await?;
    assert_eq!(waiting, Value::Bool(true));
    page.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// The `WORKER_BUILD` stamp of `dist/sw.js`.
fn worker_stamp(dist: &std::path::Path) -> e2e::Result<String> {
    let sw = read(&dist.join("sw.js"))?;
    sw.lines()
        .find_map(|l| l.strip_prefix("const WORKER_BUILD = '"))
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_owned)
        .ok_or_else(|| HarnessError::Setup("sw.js has no WORKER_BUILD stamp".into()))
}

fn read(path: &std::path::Path) -> e2e::Result<String> {
    std::fs::read_to_string(path).map_err(|source| HarnessError::Io {
        what: format!("reading {}", path.display()),
        source,
    })
}

fn write(path: &std::path::Path, text: &str) -> e2e::Result<()> {
    std::fs::write(path, text).map_err(|source| HarnessError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

/// Makes `dist` the next release: worker.js changes, and sw.js gets the stamp of the new
/// build ([`restamp`]). Returns the old and the new stamp.
fn next_release(dist: &std::path::Path) -> e2e::Result<(String, String)> {
    let worker = dist.join("worker.js");
    write(
        &worker,
        &format!("{}\n// the next release\n", read(&worker)?),
    )?;
    restamp(dist)
}

/// Stamps sw.js in `dist` with the build its files are now, exactly as `www/stamp-sw.sh`
/// computes it (the first 16 hex digits of the SHA-256 of its files, in its order, read from
/// the script itself so the two cannot differ). Returns the old and the new stamp.
fn restamp(dist: &std::path::Path) -> e2e::Result<(String, String)> {
    let stamp = worker_stamp(dist)?;
    let script =
        read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/stamp-sw.sh"))?;
    let files = script
        .lines()
        .find_map(|l| l.strip_prefix("files=\"")?.strip_suffix('"'))
        .ok_or_else(|| HarnessError::Setup("stamp-sw.sh names no files".into()))?;
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cat {files} | sha256sum | cut -c1-16"))
        .current_dir(dist)
        .output()
        .map_err(|source| HarnessError::Io {
            what: "hashing the worker build".into(),
            source,
        })?;
    let next = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if next.len() != 16 {
        return Err(HarnessError::Setup(format!("no build hash: {output:?}")));
    }
    let sw = dist.join("sw.js");
    write(&sw, &read(&sw)?.replace(&stamp, &next))?;
    Ok((stamp, next))
}

/// A release whose live worker cannot start (its wasm is not WebAssembly at all, served
/// from the app shell like any other file of the build) still serves the agent: the worker
/// tells the page why (`failed/...`), the page says so, and it catches up on its own, so a
/// message that arrived while no tab was open is on screen.
#[tokio::test]
async fn a_page_whose_live_worker_cannot_start_is_told_and_the_service_worker_catches_up_and_sends(
) -> e2e::Result<()> {
    // Served with the demo's agents and requesters.
    let (_, server, browser) = own_release_with("pwa-broken-live-worker", &["--demo"], |dist| {
        write(&dist.join("live-worker_bg.wasm"), "not WebAssembly")?;
        restamp(dist).map(drop)
    })
    .await?;
    let (page, _) = sign_in(&browser, &server).await?;
    // Signed in (by the API) and controlled: the desk, which starts the live worker, shows
    // from the next load on.
    let mut events = browser.cdp.events();
    page.navigate(&server.url("/")).await?;
    // The page's warning, which quotes the worker's reason.
    let told = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(event) = events.recv().await {
            if e2e::browser::page_error(&event).is_some_and(|text| {
                text.contains("no live channel") && text.contains("did not start")
            }) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(told, "the page never said its live worker failed");
    page.close().await?;

    // A message that arrives while no tab is open; the next page, its live worker failing
    // again, has the service worker catch up.
    let requester = http::login(&server.addr, "requester1", "demo").await?;
    let posted = e2e::chat::post_as(
        &server,
        &requester,
        "REQ-1001",
        "while every tab was closed",
    )
    .await?;
    let seq = posted["seq"].as_u64().unwrap_or_default();
    let page = browser.new_page(&server.url("/chat/REQ-1001")).await?;
    page.wait_for(
        &format!("document.querySelector('[data-testid=message][data-seq=\"{seq}\"]') !== null"),
        Duration::from_secs(20),
    )
    .await?;
    // What the agent writes there still goes out (the page asks the service worker to send,
    // where the live worker would have), and shows as sent. Without Background Sync, as in
    // Firefox, so the page's ask is what sends it.
    page.evaluate("delete window.SyncManager").await?;
    type_and_send(&page, "sent without a live worker").await?;
    page.wait_for(
        &format!(
            "document.querySelector('[data-testid=message][data-seq=\"{}\"][data-state=sent]')?.textContent.includes('sent without a live worker')",
            seq + 1
        ),
        Duration::from_secs(20),
    )
    .await?;
    page.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

/// A release deployed while a browser installed the previous one can leave the browser with
/// a sw.js of one build and worker files of another; every cold start would then run wasm
/// that does not fit its worker.js. The install checks the shell it cached against its
/// build and fails instead: the running worker stays in control, and no shell of the
/// mismatched release is left behind.
#[tokio::test]
async fn a_release_whose_worker_files_are_not_its_build_never_installs() -> e2e::Result<()> {
    let (dist, server, browser) = own_release("pwa-mismatched-release").await?;
    let page = controlled_page(&browser, &server).await?;
    let stamp = worker_stamp(&dist)?;
    // sw.js names a build that is not the worker files beside it.
    let sw = dist.join("sw.js");
    write(&sw, &read(&sw)?.replace(&stamp, "0123456789abcdef"))?;
    let outcome = page
        .evaluate(
            "navigator.serviceWorker.getRegistration().then(r => r.update().then(() => {
               const w = r.installing;
               if (!w) return 'no new worker';
               return new Promise(done => {
                 const check = () => {
                   if (w.state === 'redundant' || w.state === 'installed') done(w.state);
                 };
                 w.addEventListener('statechange', check);
                 check();
               });
             }))",
        )
        .await?;
    assert_eq!(
        outcome,
        json!("redundant"),
        "the mismatched release installed"
    );
    let state = page
        .evaluate(
            "navigator.serviceWorker.getRegistration().then(r => ({
               waiting: r.waiting, installing: r.installing,
               controllerIsActive: navigator.serviceWorker.controller === r.active,
             }))",
        )
        .await?;
    assert_eq!(
        state,
        json!({"waiting": null, "installing": null, "controllerIsActive": true})
    );
    let caches = page.evaluate(SHELL_CACHES).await?;
    assert_eq!(caches, json!([format!("supportdesk-shell-{stamp}")]));
    page.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}

async fn set_error_rate(server: &Server, rate: f64) -> e2e::Result<()> {
    let body = json!({ "error_rate": rate }).to_string();
    let reply = http::post_json(&server.addr, "/api/test/faults", None, &body).await?;
    assert!(
        reply.status < 300,
        "faults: {} {}",
        reply.status,
        reply.body
    );
    Ok(())
}

#[tokio::test]
async fn background_sync_keeps_the_outbox_while_the_server_fails_and_sends_it_after(
) -> e2e::Result<()> {
    let dir = scratch_dir("pwa-sync-fail");
    let server = Server::start(&dir.join("server"), &["--demo", "--test-faults"]).await?;
    let browser = Browser::launch(&dir.join("profile")).await?;
    let (page, user_id) = sign_in(&browser, &server).await?;
    let registration = registration_id(&browser, &page, &server.url("/")).await?;
    let alice = http::login(&server.addr, "alice", "demo").await?;
    let blank = browser.new_page("about:blank").await?;
    blank.call("ServiceWorker.enable", json!({})).await?;

    // The desk closes before anything is queued: it sends the outbox itself on start, so an
    // entry written while its start-up flush is still under way would go out from the tab
    // before the server fails. The entries are written from a page of the origin that runs
    // no app (`/metrics`).
    page.close().await?;
    let reader = browser.new_page("about:blank").await?;
    reader.navigate(&server.url("/metrics")).await?;

    // A first sync with nothing queued opens alice's database in the worker.
    dispatch_sync(&blank, &server, &registration).await?;
    let outbox = with_db(
        &user_id,
        false,
        &["outbox"],
        "return (await get(tx.objectStore('outbox').getAll()))
           .map(e => [e.client_temp_id, e.state.state, e.attempts, e.not_before > 0]);",
    );
    reader
        .wait_for(
            &format!("{outbox}.then(o => o && [])"),
            Duration::from_secs(20),
        )
        .await?;
    let put = with_db(
        &user_id,
        true,
        &["outbox"],
        &format!(
            "for (const e of {}) tx.objectStore('outbox').put(e); return true;",
            json!([
                outbox_entry("e2e-f1", "REQ-1001", "while failing one", 1),
                outbox_entry("e2e-f2", "REQ-1001", "while failing two", 2),
            ])
        ),
    );
    assert_eq!(reader.evaluate(&put).await?, Value::Bool(true));

    // Every chat request answers 503: the first entry backs off, the second waits behind it.
    set_error_rate(&server, 1.0).await?;
    dispatch_sync(&blank, &server, &registration).await?;
    let failed = reader
        .wait_for(
            &format!("{outbox}.then(o => o && o.length === 2 && o[0][2] === 1 ? o : null)"),
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(
        failed,
        json!([
            ["e2e-f1", "queued", 1, true],
            ["e2e-f2", "queued", 0, false]
        ]),
        "kept, in order, backing off"
    );

    // The server recovers; the next sync (after the short first backoff) sends both once.
    set_error_rate(&server, 0.0).await?;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    dispatch_sync(&blank, &server, &registration).await?;
    reader
        .wait_for(
            &format!("{outbox}.then(o => o && o.length === 0)"),
            Duration::from_secs(20),
        )
        .await?;
    let stored = server_messages(&server, &alice, "REQ-1001").await?;
    let ours: Vec<&str> = stored
        .iter()
        .filter_map(|m| m["body"].as_str())
        .filter(|b| b.starts_with("while failing"))
        .collect();
    assert_eq!(ours, ["while failing one", "while failing two"]);
    reader.close().await?;
    blank.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}
