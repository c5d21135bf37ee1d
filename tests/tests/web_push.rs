//! The server's real encrypted Web Push reaches the Rust service worker, with no tab open.
//!
//! The test plays the push service on loopback (`e2e::push_service`): it registers a
//! subscription with its own P-256 key pair and auth secret as alice's, a requester posts a
//! message, the server encrypts it (RFC 8291 `aes128gcm`, VAPID) and POSTs it to the loopback
//! endpoint, the test decrypts it with its private key and forwards the plaintext to the
//! stopped worker with `ServiceWorker.deliverPushMessage`; the message must end up in
//! IndexedDB without any history fetch.

use std::time::Duration;

use e2e::http;
use e2e::push_service::PushService;
use e2e::rig::{post_as, seqs, Rig, CURSOR, RANGE};
use serde_json::Value;

#[tokio::test]
async fn the_servers_encrypted_push_is_decrypted_and_cached_by_the_worker() -> e2e::Result<()> {
    let rig = Rig::start_with("web-push", &["--allow-insecure-push"]).await?;
    let mut service = PushService::start().await?;
    let alice = http::login(&rig.server.addr, "alice", "demo").await?;
    let registered = http::post_json(
        &rig.server.addr,
        "/api/push/subscriptions",
        Some(&alice),
        &service.subscription_json().to_string(),
    )
    .await?;
    assert_eq!(registered.status, 201, "{}", registered.body);

    let requester = http::login(&rig.server.addr, "requester1", "demo").await?;
    let blank = rig.blank().await?;
    let range_before = rig.metric(RANGE).await?;
    let cursor_before = rig.metric(CURSOR).await?;
    let sent = post_as(&rig.server, &requester, "REQ-1001", "encrypted all the way").await?;
    let seq = sent["seq"].as_u64().unwrap_or_default();

    let request = service.next(Duration::from_secs(20)).await?;
    assert_eq!(request.header("content-encoding"), Some("aes128gcm"));
    assert!(
        request
            .header("authorization")
            .is_some_and(|a| a.starts_with("vapid t=")),
        "{:?}",
        request.headers
    );
    // The ciphertext is not the message in the clear.
    let clear = String::from_utf8_lossy(&request.body);
    assert!(!clear.contains("encrypted all the way"));
    let plaintext = service.decrypt(&request)?;
    let payload: Value = serde_json::from_slice(&plaintext)
        .map_err(|e| e2e::HarnessError::Setup(format!("decrypted payload is not JSON: {e}")))?;
    assert_eq!(payload["kind"], "message", "{payload}");
    assert_eq!(
        payload["message"], sent,
        "the push carries the stored message"
    );

    // Forward exactly what the push service decrypted, to a stopped worker, no tab open.
    let text = String::from_utf8(plaintext)
        .map_err(|e| e2e::HarnessError::Setup(format!("decrypted payload is not UTF-8: {e}")))?;
    rig.push(&blank, &text).await?;
    let snapshot = rig
        .read_cache_until("REQ-1001", "the decrypted push in IndexedDB", |s| {
            seqs(s).contains(&seq)
        })
        .await?;
    assert_eq!(seqs(&snapshot), vec![seq], "{snapshot}");
    assert_eq!(snapshot["bodies"][0], "encrypted all the way");
    assert_eq!(snapshot["chat"]["unread"], 1, "{snapshot}");
    assert_eq!(rig.metric(RANGE).await? - range_before, 0.0, "no fetch");
    assert_eq!(rig.metric(CURSOR).await? - cursor_before, 0.0, "no reload");
    println!(
        "web push: {} encrypted bytes for a {}-byte payload, decrypted and cached",
        request.body.len(),
        text.len()
    );
    blank.close().await?;
    rig.stop().await;
    Ok(())
}
