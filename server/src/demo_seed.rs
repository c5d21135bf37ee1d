//! `--demo`: agents `alice` and `bob`, requesters `requester1`…`requester8` (password `demo`
//! for all), and 24 requests with realistic histories from 1 to 10,000 messages.
//!
//! Seeding is idempotent (users and requests that exist are skipped; a complete demo set is
//! detected at once) and fast: each chat's history goes in one transaction of multi-row
//! inserts. The content is generated from a fixed
//! random seed, so every demo database looks the same.

use chat_sync::types::{Attachment, Sender, SenderRole};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::db::chats::NewMessage;
use crate::db::media::MediaMeta;
use crate::db::users::{role_text, UserRow};
use crate::db::Db;

/// The demo password.
pub const DEMO_PASSWORD: &str = "demo";

/// History length of each demo request, in creation order.
const HISTORY_SIZES: [usize; 24] = [
    1, 2, 3, 5, 8, 12, 20, 35, 50, 80, 120, 200, 300, 450, 600, 800, 1_000, 1_500, 2_000, 3_000,
    4_000, 5_000, 7_500, 10_000,
];

const TITLES: [&str; 24] = [
    "VPN drops every 10 minutes",
    "Cannot print to 3rd floor printer",
    "Outlook keeps asking for password",
    "New laptop setup for onboarding",
    "Teams camera not detected",
    "Access to the finance share",
    "Password reset for SAP",
    "Monitor flickers after docking",
    "Request: second monitor",
    "Wi-Fi slow in meeting room B",
    "Excel crashes opening large files",
    "MFA phone replaced",
    "Shared mailbox permissions",
    "Software install: Visual Studio",
    "Laptop battery swelling",
    "Cannot reach intranet from home",
    "Calendar invites go missing",
    "Phone extension forwarding",
    "OneDrive sync conflicts",
    "Printer jam on every job",
    "Migrate mailbox to new tenant",
    "Weekly report macro broken",
    "Laptop replacement programme",
    "Office move: 40 desks",
];

const FIRST_NAMES: [&str; 8] = [
    "Maria Gonzalez",
    "Kenji Tanaka",
    "Aisha Bello",
    "Lukas Schmidt",
    "Priya Raman",
    "Tom O'Brien",
    "Sofia Rossi",
    "Noah Williams",
];

const OPENERS: [&str; 12] = [
    "Hi,",
    "Hello again,",
    "Thanks for the quick reply.",
    "Quick update:",
    "Sorry to bother you,",
    "Good morning,",
    "I tried that.",
    "Understood.",
    "One more thing:",
    "Following up on this,",
    "OK,",
    "Great news:",
];

const MIDDLES: [&str; 14] = [
    "the issue is still there after a restart",
    "I cleared the cache and signed in again",
    "it happens only when I'm connected through the docking station",
    "the error code is 0x80070005",
    "could you check the logs on your side",
    "I have attached a screenshot of the error",
    "it worked for a few hours and then stopped again",
    "my colleague has the same problem on her machine",
    "I can do a remote session any time after 2 pm",
    "the update finished and the device rebooted twice",
    "please escalate this, it blocks the month-end close",
    "I reinstalled the driver from the vendor site",
    "the ticket can be closed if nothing else comes up",
    "we need this before the audit next week",
];

const CLOSERS: [&str; 8] = [
    "Thanks!",
    "Let me know.",
    "Best regards.",
    "Cheers.",
    "Talk soon.",
    "Appreciate the help.",
    "",
    "",
];

/// Seeds the demo data unless it is already there.
pub async fn seed(db: &Db, memory_kib: u32) -> Result<(), String> {
    let last_request = format!("REQ-{}", 1000 + HISTORY_SIZES.len());
    let has_alice = db
        .user_by_username("alice")
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    if has_alice
        && db
            .chat(&last_request)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
    {
        tracing::info!("demo data already present");
        return Ok(());
    }
    let started = std::time::Instant::now();
    // One hash for everyone: the password is the same, and Argon2 at production cost is
    // slow on purpose (ten hashes would add seconds to every first start).
    let hash = crate::auth::hash_password(DEMO_PASSWORD, memory_kib).map_err(|e| e.to_string())?;
    let now = now_ms();
    let mut users = vec![
        user("u_alice", "alice", "Alice Agent", SenderRole::Agent, &hash),
        user("u_bob", "bob", "Bob Agent", SenderRole::Agent, &hash),
    ];
    for (i, name) in FIRST_NAMES.iter().enumerate() {
        users.push(user(
            &format!("u_requester{}", i + 1),
            &format!("requester{}", i + 1),
            name,
            SenderRole::Requester,
            &hash,
        ));
    }
    for row in &users {
        db.create_user(row, now).await.map_err(|e| e.to_string())?;
    }
    let media = seed_media(db, now).await?;
    let mut rng = StdRng::seed_from_u64(4);
    let day_ms: i64 = 24 * 3600 * 1000;
    for (index, size) in HISTORY_SIZES.iter().enumerate() {
        let requester = &users[2 + index % 8];
        // Alternate agents so every requester has requests with both alice and bob.
        let agent = &users[(index + index / 8) % 2];
        let request_id = format!("REQ-{}", 1001 + index);
        let created = now - (30 - (index as i64 % 30)) * day_ms;
        // Each request is seeded at most once, so a start interrupted half-way resumes
        // where it stopped instead of duplicating anything.
        let fresh = db
            .create_request(
                &request_id,
                TITLES[index],
                &requester.id,
                &agent.id,
                created,
            )
            .await
            .map_err(|e| e.to_string())?;
        if !fresh {
            continue;
        }
        let messages = history(
            &mut rng,
            &History {
                request_id: &request_id,
                title: TITLES[index],
                requester,
                agent,
                media: &media,
                size: *size,
                created,
                now,
            },
        );
        db.seed_messages(&messages)
            .await
            .map_err(|e| e.to_string())?;
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo data seeded"
    );
    Ok(())
}

/// The request id of the large benchmark chat.
pub const LARGE_CHAT: &str = "REQ-2001";

/// Seeds [`LARGE_CHAT`], bob's, from requester1, with `size` messages (once; idempotent), for
/// benchmarks of long histories (scrolling through 100,000 messages).
pub async fn seed_large_chat(db: &Db, size: usize) -> Result<(), String> {
    let requester = db
        .user_by_username("requester1")
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo users are missing")?;
    let agent = db
        .user_by_username("bob")
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo users are missing")?;
    let now = now_ms();
    let created = now - 60 * 24 * 3600 * 1000;
    let fresh = db
        .create_request(
            LARGE_CHAT,
            "Long history (benchmark)",
            &requester.id,
            &agent.id,
            created,
        )
        .await
        .map_err(|e| e.to_string())?;
    if !fresh {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(2001);
    let messages = history(
        &mut rng,
        &History {
            request_id: LARGE_CHAT,
            title: "Long history",
            requester: &requester,
            agent: &agent,
            media: &[],
            size,
            created,
            now,
        },
    );
    db.seed_messages(&messages)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        size,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "large demo chat seeded"
    );
    Ok(())
}

/// What one seeded chat history is made of.
struct History<'a> {
    request_id: &'a str,
    title: &'a str,
    requester: &'a UserRow,
    agent: &'a UserRow,
    /// Files attached to about one message in 40 (none when empty).
    media: &'a [Attachment],
    size: usize,
    created: i64,
    now: i64,
}

/// The messages of a seeded chat: the requester opens it, then requester and agent alternate
/// at random, spread evenly from `created` to `now`.
fn history(rng: &mut StdRng, spec: &History<'_>) -> Vec<NewMessage> {
    let step = ((spec.now - spec.created) / (spec.size as i64 + 1)).max(1);
    (0..spec.size)
        .map(|n| {
            let author = if n == 0 || rng.gen_bool(0.5) {
                spec.requester
            } else {
                spec.agent
            };
            let attachments = if !spec.media.is_empty() && rng.gen_ratio(1, 40) {
                vec![spec.media[rng.gen_range(0..spec.media.len())].clone()]
            } else {
                Vec::new()
            };
            NewMessage {
                request_id: spec.request_id.to_owned(),
                client_temp_id: None,
                sender: Sender {
                    id: author.id.clone(),
                    name: author.name.clone(),
                    role: author.role(),
                },
                body: body(rng, n == 0, spec.title),
                attachments,
                created_at: spec.created + step * (n as i64 + 1),
            }
        })
        .collect()
}

fn user(id: &str, username: &str, name: &str, role: SenderRole, hash: &str) -> UserRow {
    UserRow {
        id: id.to_owned(),
        username: username.to_owned(),
        name: name.to_owned(),
        role: role_text(role).to_owned(),
        password_hash: hash.to_owned(),
    }
}

/// A message body of varied length: mostly one or two sentences, sometimes a long report.
fn body(rng: &mut StdRng, first: bool, title: &str) -> String {
    if first {
        return format!(
            "{title}. {}. Can you help?",
            MIDDLES[rng.gen_range(0..MIDDLES.len())]
        );
    }
    let sentences = match rng.gen_range(0..100) {
        0..=59 => 1,
        60..=89 => 2,
        90..=97 => 4,
        _ => 25,
    };
    let mut text = String::from(OPENERS[rng.gen_range(0..OPENERS.len())]);
    for _ in 0..sentences {
        text.push(' ');
        text.push_str(MIDDLES[rng.gen_range(0..MIDDLES.len())]);
        text.push('.');
    }
    let closer = CLOSERS[rng.gen_range(0..CLOSERS.len())];
    if !closer.is_empty() {
        text.push(' ');
        text.push_str(closer);
    }
    text
}

/// A few small files the demo messages attach.
async fn seed_media(db: &Db, now: i64) -> Result<Vec<Attachment>, String> {
    let files: [(&str, &str, &str, String); 3] = [
        (
            "med_demo_screenshot",
            "screenshot.svg",
            "image/svg+xml",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"180\">\
             <rect width=\"320\" height=\"180\" fill=\"#1e3a5f\"/>\
             <text x=\"20\" y=\"95\" fill=\"#fff\" font-size=\"20\">Error 0x80070005</text></svg>"
                .to_owned(),
        ),
        (
            "med_demo_log",
            "vpn-client.log",
            "text/plain",
            (0..200)
                .map(|i| {
                    format!(
                        "2026-11-0{} 10:{:02}:00 tunnel keepalive timeout\n",
                        i % 9 + 1,
                        i % 60
                    )
                })
                .collect(),
        ),
        (
            "med_demo_config",
            "printer-settings.json",
            "application/json",
            "{\"queue\": \"FL3-PRN-02\", \"duplex\": true, \"tray\": 2}".to_owned(),
        ),
    ];
    let mut out = Vec::new();
    for (id, name, mime, text) in files {
        let bytes = text.into_bytes();
        let meta = MediaMeta {
            id: id.to_owned(),
            name: name.to_owned(),
            mime: mime.to_owned(),
            size: bytes.len() as i64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        if db
            .media_meta(id)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            db.insert_media(&meta, "u_alice", &bytes, now)
                .await
                .map_err(|e| e.to_string())?;
        }
        out.push(Attachment {
            media_id: meta.id,
            name: meta.name,
            mime: meta.mime,
            size: bytes.len() as u64,
        });
    }
    Ok(out)
}
