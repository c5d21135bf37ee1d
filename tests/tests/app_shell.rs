//! The whole pipeline, end to end: the Trunk-built front end served by the real server to real
//! headless Chromium, under the strict Content-Security-Policy, from a deep link.

use std::time::Duration;

use e2e::browser::{scratch_dir, Browser};
use e2e::http;
use e2e::server::Server;

#[tokio::test]
async fn the_app_shell_boots_from_a_deep_link_under_the_strict_csp() -> e2e::Result<()> {
    let dir = scratch_dir("app-shell");
    let server = Server::start(&dir.join("server"), &[]).await?;

    let index = http::get(&server.addr, "/").await?;
    assert_eq!(index.status, 200);
    let csp = index
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "CSP: {csp}"
    );
    assert!(
        !csp.contains("unsafe-inline') ") && !csp.contains("'unsafe-eval'"),
        "CSP: {csp}"
    );

    let browser = Browser::launch(&dir.join("profile")).await?;
    // An unknown path answers index.html, and the app mounts there: `/chat/{id}` deep links work.
    let page = browser.new_page(&server.url("/chat/some-request")).await?;
    let title = page
        .wait_for(
            "document.querySelector('h1')?.textContent",
            Duration::from_secs(20),
        )
        .await?;
    assert_eq!(title, "Support desk");
    // Every file of the app was served: nothing missing, nothing refused. (Signed out, the
    // API answers `/api/auth/me` with 401, which is how the app learns to show sign-in.)
    let failed = page
        .evaluate(
            "performance.getEntriesByType('resource')\
             .filter(e => e.responseStatus >= 400 && !new URL(e.name).pathname.startsWith('/api/'))\
             .map(e => e.name + ' ' + e.responseStatus)",
        )
        .await?;
    assert!(
        page.evaluate("document.querySelector('[data-testid=login-submit]') !== null")
            .await?
            .as_bool()
            .unwrap_or(false),
        "signed out, the sign-in form shows"
    );
    assert_eq!(
        failed,
        serde_json::json!([]),
        "resources that failed to load"
    );

    let metrics = http::get(&server.addr, "/metrics").await?.body;
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    page.close().await?;
    browser.close().await;
    server.stop().await;
    Ok(())
}
